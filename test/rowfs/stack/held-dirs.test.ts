// Held directory descriptors (rowfs/server/held-dirs.ts) on real descriptors, and a LocalExport
// that holds them (the proxy's local shadow): bounded, a pinned descriptor outlives its eviction or
// drop until its user is done, a held directory renamed is still its handle's and a removed one is
// STALE, and the export's calls then open no descriptor per call.
import test from 'ava';
import { fstatSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, renameSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateMode, Nfs3Status } from '../../../rowfs/nfs3/types.js';
import { expectOk } from '../../../rowfs/nfs3/errors.js';
import type { RpcCallContext } from '../../../rowfs/rpc/dispatch.js';
import { HeldDirs } from '../../../rowfs/server/held-dirs.js';
import { LocalExport } from '../../../rowfs/server/local-export.js';

const O_PATH = 0o10000000;
const isOpen = (fd: number) => {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
};
const openFds = () => readdirSync('/proc/self/fd').length;

function scratch(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'held-dirs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('bounded, least recently used closed first; a pinned descriptor is closed only when its user is done', (t) => {
  const dir = scratch(t);
  const held = new HeldDirs(2);
  const fds = [0, 1, 2].map(() => openSync(dir, O_PATH));
  t.true(held.keep('a', fds[0]!));
  t.true(held.keep('b', fds[1]!));
  t.false(held.keep('a', fds[2]!), 'one descriptor per key: the caller keeps the second');
  t.is(held.pinned('a', (x: number) => x + 1, 41), 42, 'runs fn with its argument'); // a used last: b is the oldest now
  t.true(held.keep('c', fds[2]!));
  t.is(held.size, 2);
  t.false(isOpen(fds[1]!), 'b closed');
  t.true(isOpen(fds[0]!) && isOpen(fds[2]!));
  // Dropped (or evicted) while pinned: still open inside, closed once the pin ends.
  held.pinned(
    'a',
    () => {
      held.drop('a');
      t.true(isOpen(fds[0]!), 'still open for its user');
      t.is(held.fdOf('a'), undefined);
    },
    undefined,
  );
  t.false(isOpen(fds[0]!));
  held.closeAll();
  t.false(isOpen(fds[2]!));
  t.is(held.size, 0);
});

test('an export holding directory descriptors: renamed directories keep their handles, removed ones are STALE, no descriptor opened per call', async (t) => {
  const dir = scratch(t);
  mkdirSync(join(dir, 'd'));
  const atStart = openFds();
  const exp = new LocalExport({ root: dir, heldDirs: 4 });
  await exp.init();
  t.teardown(() => exp.close());
  const ctx = { transport: 'tcp' } as RpcCallContext;
  const root = exp.rootHandle();
  const d = expectOk(await exp.LOOKUP({ what: { dir: root, name: 'd' } }), 'LOOKUP d').object;
  const create = async (name: string) =>
    expectOk(await exp.CREATE({ where: { dir: d, name }, how: { mode: CreateMode.GUARDED, attributes: { mode: 0o644 } } }, ctx), `CREATE ${name}`);
  await create('f0');
  const before = openFds();
  t.is(before, atStart + 2, 'the root and d held');
  for (let i = 1; i <= 20; i++) {
    await create(`f${i}`);
    expectOk(await exp.REMOVE({ object: { dir: d, name: `f${i}` } }), 'REMOVE');
  }
  t.is(openFds(), before, 'the held descriptors serve every call');
  // Renamed behind the handle table's back (only the server may change such an export, but a
  // rename through it is the same for the descriptor): still the handle's directory.
  renameSync(join(dir, 'd'), join(dir, 'd2'));
  const listed = await exp.LOOKUP({ what: { dir: d, name: 'f0' } });
  t.is(listed.status, Nfs3Status.OK, 'found through the held descriptor');
  expectOk(await exp.REMOVE({ object: { dir: d, name: 'f0' } }), 'REMOVE f0');
  rmdirSync(join(dir, 'd2'));
  // Removed behind the server's back: the directory's kept attributes still say it is there, so the
  // first change in it fails as it would locally (NOENT); its reply's fstat sees it gone, and from
  // then on the handle is STALE.
  const first = await exp.CREATE({ where: { dir: d, name: 'x' }, how: { mode: CreateMode.GUARDED, attributes: {} } }, ctx);
  t.true(first.status === Nfs3Status.NOENT || first.status === Nfs3Status.STALE, `first change: ${first.status}`);
  const gone = await exp.CREATE({ where: { dir: d, name: 'x' }, how: { mode: CreateMode.GUARDED, attributes: {} } }, ctx);
  t.is(gone.status, Nfs3Status.STALE);
  t.is(openFds(), before - 1, 'the removed directory\'s descriptor closed');
});

test.serial("a held directory's attributes, kept between calls, are its current ones: after creates and removes, a listing, a SETATTR, a rename to another parent", async (t) => {
  const dir = scratch(t);
  mkdirSync(join(dir, 'a'));
  mkdirSync(join(dir, 'b'));
  const exp = new LocalExport({ root: dir, heldDirs: 8 });
  await exp.init();
  t.teardown(() => exp.close());
  const ctx = { transport: 'tcp' } as RpcCallContext;
  const root = exp.rootHandle();
  const a = expectOk(await exp.LOOKUP({ what: { dir: root, name: 'a' } }), 'LOOKUP a').object;
  const b = expectOk(await exp.LOOKUP({ what: { dir: root, name: 'b' } }), 'LOOKUP b').object;
  const sub = expectOk(await exp.MKDIR({ where: { dir: a, name: 'sub' }, attributes: { mode: 0o755 } }, ctx), 'MKDIR').obj!;
  // What GETATTR answers for a handle against what the file system says now.
  const matches = async (fh: Uint8Array, path: string, what: string) => {
    const got = expectOk(await exp.GETATTR({ object: fh }), 'GETATTR').objAttributes;
    const st = lstatSync(join(dir, path), { bigint: true });
    const ns = (x: { seconds: number; nseconds: number }) => BigInt(x.seconds) * 1_000_000_000n + BigInt(x.nseconds);
    t.deepEqual([ns(got.mtime), ns(got.ctime), ns(got.atime), got.nlink, got.mode], [st.mtimeNs, st.ctimeNs, st.atimeNs, Number(st.nlink), Number(st.mode & 0o7777n)], `${what}`);
  };
  await matches(a, 'a', 'after MKDIR');
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 5)); // distinct times
    expectOk(await exp.CREATE({ where: { dir: a, name: `f${i}` }, how: { mode: CreateMode.GUARDED, attributes: {} } }, ctx), 'CREATE');
    await matches(a, 'a', `after CREATE f${i}`);
  }
  expectOk(await exp.REMOVE({ object: { dir: a, name: 'f0' } }), 'REMOVE');
  await matches(a, 'a', 'after REMOVE');
  // A listing may set the atime (relatime: the directory changed since it was last read).
  expectOk(await exp.READDIR({ dir: a, cookie: 0n, cookieverf: new Uint8Array(8), count: 4096 }), 'READDIR');
  await matches(a, 'a', 'after READDIR');
  expectOk(await exp.SETATTR({ object: a, newAttributes: { mode: 0o700 } }), 'SETATTR');
  await matches(a, 'a', 'after SETATTR');
  // Moving sub to b changes sub's ".." and ctime, and both parents' link counts. A create in sub
  // first: its descriptor is held and its attributes kept.
  expectOk(await exp.CREATE({ where: { dir: sub, name: 'inside' }, how: { mode: CreateMode.GUARDED, attributes: {} } }, ctx), 'CREATE in sub');
  await matches(sub, 'a/sub', 'sub before the rename');
  await new Promise((r) => setTimeout(r, 5));
  expectOk(await exp.RENAME({ from: { dir: a, name: 'sub' }, to: { dir: b, name: 'sub' } }), 'RENAME');
  await matches(sub, 'b/sub', 'sub after the rename');
  await matches(a, 'a', 'a after the rename');
  await matches(b, 'b', 'b after the rename');
});
