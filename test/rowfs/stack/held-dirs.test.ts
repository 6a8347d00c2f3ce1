// Held directory descriptors (rowfs/server/held-dirs.ts) on real descriptors, and a LocalExport
// that holds them (the proxy's local shadow): bounded, a pinned descriptor outlives its eviction or
// drop until its user is done, a held directory renamed is still its handle's and a removed one is
// STALE, and the export's calls then open no descriptor per call.
import test from 'ava';
import { fstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, renameSync, rmdirSync, rmSync } from 'node:fs';
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
  held.pinned('a', () => undefined); // a used last: b is the oldest now
  t.true(held.keep('c', fds[2]!));
  t.is(held.size, 2);
  t.false(isOpen(fds[1]!), 'b closed');
  t.true(isOpen(fds[0]!) && isOpen(fds[2]!));
  // Dropped (or evicted) while pinned: still open inside, closed once the pin ends.
  held.pinned('a', () => {
    held.drop('a');
    t.true(isOpen(fds[0]!), 'still open for its user');
    t.is(held.fdOf('a'), undefined);
  });
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
  const gone = await exp.CREATE({ where: { dir: d, name: 'x' }, how: { mode: CreateMode.GUARDED, attributes: {} } }, ctx);
  t.is(gone.status, Nfs3Status.STALE);
  t.is(openFds(), before - 1, 'the removed directory\'s descriptor closed');
});
