// Hostile client: names that try to leave the export (issue 11, item 1). Each target exports a
// directory next to files it must never reveal, change or remove ("outside"); the attacker sends
// absolute names, "..", names with "/" or NUL, empty and over-long names to every procedure that
// takes a name, then READs and lists whatever handle it obtained. Targets: the proxy over
// nfs-ganesha (which itself follows "/etc/shadow" in a LOOKUP), the proxy over the embedded
// server, the embedded server directly, and the proxy over a main server that lists hostile names.
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGanesha } from '../../simulations/harness/ganesha.js';
import { openExport, type OpenedExport } from '../../rowfs/mount/open-export.js';
import { mountProgram } from '../../rowfs/mount/program.js';
import { nfs3Program } from '../../rowfs/nfs3/program.js';
import { expectOk } from '../../rowfs/nfs3/errors.js';
import { componentFault } from '../../rowfs/nfs3/names.js';
import { CreateMode, Ftype3, Nfs3Status, StableHow, type FileHandle, type ReaddirplusArgs, type ReaddirplusRes } from '../../rowfs/nfs3/types.js';
import { RowfsProxy } from '../../rowfs/proxy/proxy.js';
import { RpcServer, type RpcCallContext } from '../../rowfs/rpc/server.js';
import { startEmbeddedServer } from '../../rowfs/server/embedded-server.js';
import { FdCache } from '../../rowfs/server/fd-cache.js';
import { encodeHandle, fileIdOf } from '../../rowfs/server/file-handles.js';
import { LocalExport } from '../../rowfs/server/local-export.js';
import { MAX_MOUNT_ENTRIES, MountService } from '../../rowfs/server/mount-service.js';
import { MountStatus } from '../../rowfs/mount/types.js';
import { proxyOverEmbeddedMain } from '../rowfs/proxy/fixture.js';
import { ROOT_VID, StateStore } from '../../rowfs/state/store.js';

const test = anyTest as TestFn<unknown>;
const SECRET = 'outside-the-export secret 7f3a\n';

/** A temporary tree: `export/` (served, with d/f and inside.txt) beside the files it must protect. */
interface Layout {
  base: string;
  exportDir: string;
  outsideBefore: string;
}

function makeLayout(t: ExecutionContext, exportName = 'export'): Layout {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'rowfs-escape-')));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const exportDir = join(base, exportName);
  mkdirSync(join(exportDir, 'd'), { recursive: true });
  writeFileSync(join(exportDir, 'd', 'f'), 'inside f\n');
  writeFileSync(join(exportDir, 'inside.txt'), 'inside\n');
  writeFileSync(join(base, 'secret.txt'), SECRET);
  writeFileSync(join(base, 'victim'), 'do not remove\n');
  mkdirSync(join(base, 'victimdir'));
  return { base, exportDir, outsideBefore: snapshotOutside(base, exportName) };
}

/** Names and contents of everything in `base` except the export itself. */
function snapshotOutside(base: string, exportName: string): string {
  return readdirSync(base)
    .filter((n) => n !== exportName && !n.startsWith('shadow') && !n.startsWith('state'))
    .sort()
    .map((n) => `${n}:${existsSync(join(base, n, '.')) ? 'dir' : readFileSync(join(base, n), 'utf8')}`)
    .join('|');
}

/** Names that are not one component, or try to climb: none may reach outside the export. */
function hostileNames(l: Layout): string[] {
  return [
    `${l.base}/secret.txt`,
    '/etc/shadow',
    '/etc',
    '../secret.txt',
    '../../etc',
    'a/../..',
    'd/../../secret.txt',
    '..\0',
    'secret.txt\0',
    'd/f',
    '/',
    '',
    'x'.repeat(256),
  ];
}

/** Everything the attacker tries through one mounted export; returns what it saw. */
async function attack(t: ExecutionContext, ex: OpenedExport, l: Layout, label: string): Promise<void> {
  const nfs = ex.nfs;
  const root = ex.root;
  const rootId = expectOk(await nfs.getattr({ object: root }), 'GETATTR').objAttributes.fileid;
  const d = expectOk(await nfs.lookup({ what: { dir: root, name: 'd' } }), 'LOOKUP d').object;
  const f = expectOk(await nfs.lookup({ what: { dir: d, name: 'f' } }), 'LOOKUP f').object;
  const obtained: Array<[string, FileHandle]> = [];

  // LOOKUP: a name that is not one component never resolves.
  for (const dir of [root, d]) {
    for (const name of hostileNames(l)) {
      const res = await nfs.lookup({ what: { dir, name } });
      if (res.status === Nfs3Status.OK) obtained.push([name, res.object]);
      t.not(res.status, Nfs3Status.OK, `${label}: LOOKUP ${JSON.stringify(name)} must fail`);
      t.not(res.status, Nfs3Status.SERVERFAULT, `${label}: LOOKUP ${JSON.stringify(name)}`);
    }
  }
  // ".." climbs at most to the root, and ".." of the root is the root.
  let up = root;
  for (let i = 0; i < 4; i++) {
    up = expectOk(await nfs.lookup({ what: { dir: up, name: '..' } }), 'LOOKUP ..').object;
    t.is(expectOk(await nfs.getattr({ object: up }), 'GETATTR').objAttributes.fileid, rootId, `${label}: .. of the root is the root`);
  }
  const dUp = expectOk(await nfs.lookup({ what: { dir: d, name: '..' } }), 'LOOKUP d/..').object;
  t.is(expectOk(await nfs.getattr({ object: dUp }), 'GETATTR').objAttributes.fileid, rootId, `${label}: d/.. is the root`);
  obtained.push(['..', up], ['d/..', dUp]);

  // Mutations with hostile names change nothing outside and answer a status, not a fault.
  const mutations: Array<[string, (name: string) => Promise<{ status: Nfs3Status }>]> = [
    ['CREATE', (name) => nfs.create({ where: { dir: root, name }, how: { mode: CreateMode.GUARDED, attributes: { mode: 0o644 } } })],
    ['CREATE exclusive', (name) => nfs.create({ where: { dir: root, name }, how: { mode: CreateMode.EXCLUSIVE, verf: new Uint8Array(8).fill(3) } })],
    ['MKDIR', (name) => nfs.mkdir({ where: { dir: root, name }, attributes: { mode: 0o755 } })],
    ['SYMLINK', (name) => nfs.symlink({ where: { dir: root, name }, symlinkAttributes: {}, symlinkData: 'inside.txt' })],
    ['MKNOD', (name) => nfs.mknod({ where: { dir: root, name }, what: { type: Ftype3.FIFO, attributes: { mode: 0o644 } } })],
    ['LINK', (name) => nfs.link({ file: f, link: { dir: root, name } })],
    ['REMOVE', (name) => nfs.remove({ object: { dir: root, name } })],
    ['RMDIR', (name) => nfs.rmdir({ object: { dir: root, name } })],
    ['RENAME from', (name) => nfs.rename({ from: { dir: root, name }, to: { dir: root, name: 'stolen' } })],
    ['RENAME to', (name) => nfs.rename({ from: { dir: d, name: 'f' }, to: { dir: root, name } })],
  ];
  const mutationNames = [...hostileNames(l), `${l.base}/victim`, '../victim', '../victimdir', `${l.base}/victimdir`, '../escaped', `${l.base}/escaped`];
  for (const [proc, call] of mutations) {
    for (const name of mutationNames) {
      const res = await call(name);
      t.not(res.status, Nfs3Status.OK, `${label}: ${proc} ${JSON.stringify(name)} must fail`);
      t.not(res.status, Nfs3Status.SERVERFAULT, `${label}: ${proc} ${JSON.stringify(name)}`);
    }
    for (const dot of ['.', '..']) {
      const res = await call(dot);
      t.not(res.status, Nfs3Status.OK, `${label}: ${proc} ${dot} must fail`);
    }
    t.is(snapshotOutside(l.base, 'export'), l.outsideBefore, `${label}: ${proc} changed nothing outside the export`);
  }
  t.true(existsSync(join(l.exportDir, 'd', 'f')), `${label}: d/f still there`);

  // Whatever handle the attacker holds reads and lists only the export.
  obtained.push(['root', root], ['d', d]);
  for (const [name, fh] of obtained) {
    const attrs = await nfs.getattr({ object: fh });
    if (attrs.status !== Nfs3Status.OK) continue;
    if (attrs.objAttributes.type === Ftype3.REG) {
      const r = await nfs.read({ file: fh, offset: 0n, count: 65536 });
      if (r.status === Nfs3Status.OK) t.false(Buffer.from(r.data).toString().includes('secret'), `${label}: READ via ${JSON.stringify(name)}`);
    } else if (attrs.objAttributes.type === Ftype3.DIR) {
      const names = await listAll(ex, fh);
      for (const outside of ['secret.txt', 'victim', 'victimdir', 'shadow', 'passwd', 'export']) {
        t.false(names.includes(outside), `${label}: READDIRPLUS via ${JSON.stringify(name)} lists ${outside}`);
      }
      for (const n of names) t.is(componentFault(n), undefined, `${label}: listed name ${JSON.stringify(n)}`);
    }
  }
}

async function listAll(ex: OpenedExport, dir: FileHandle): Promise<string[]> {
  const names: string[] = [];
  let cookie = 0n;
  let cookieverf: Uint8Array = new Uint8Array(8);
  for (let page = 0; page < 1000; page++) {
    const res = await ex.nfs.readdirplus({ dir, cookie, cookieverf, dircount: 8192, maxcount: 65536 });
    if (res.status !== Nfs3Status.OK) return names;
    for (const e of res.entries) names.push(e.name);
    if (res.eof || res.entries.length === 0) break;
    cookie = res.entries[res.entries.length - 1]!.cookie;
    cookieverf = res.cookieverf;
  }
  return names;
}

/** Every name recorded in a proxy's state (walk from the root, bounded), with its whiteouts. */
async function storedNames(stateDir: string): Promise<string[]> {
  const store = await StateStore.open(stateDir);
  try {
    const out: string[] = [];
    const queue = [ROOT_VID];
    const seen = new Set<number>();
    while (queue.length > 0 && seen.size < 100_000) {
      const vid = queue.shift()!;
      if (seen.has(vid)) continue;
      seen.add(vid);
      out.push(...store.whiteoutsIn(vid));
      for (const { name, vid: child } of store.namesIn(vid)) {
        out.push(name);
        queue.push(child);
      }
    }
    return out;
  } finally {
    await store.close();
  }
}

async function proxyOn(t: ExecutionContext, l: Layout, main: { host: string; exportPath: string; nfsPort: number; mountPort: number }, shadow?: { host: string; exportPath: string; nfsPort: number; mountPort: number }) {
  const stateDir = join(l.base, 'state');
  const faults: string[] = [];
  const proxy = await RowfsProxy.start({
    main,
    shadow: shadow ?? { dir: join(l.base, 'shadow') },
    stateDir,
    listenHost: '127.0.0.1',
    onFault: (what, err) => faults.push(`${what}: ${String(err)}`),
  });
  t.teardown(() => proxy.stop());
  const ex = await openExport({ host: '127.0.0.1', exportPath: main.exportPath, nfsPort: proxy.nfsPort, mountPort: proxy.mountPort, timeoutMs: 20_000 });
  t.teardown(() => ex.close().catch(() => undefined));
  return { proxy, ex, stateDir, faults };
}

async function checkStoredNames(t: ExecutionContext, proxy: RowfsProxy, ex: OpenedExport, stateDir: string, label: string): Promise<void> {
  await ex.close();
  await proxy.stop();
  const stored = await storedNames(stateDir);
  t.true(stored.length > 0, `${label}: the state holds the names the client used`);
  for (const n of stored) t.is(componentFault(n), undefined, `${label}: stored name ${JSON.stringify(n)}`);
}

test.serial('proxy over nfs-ganesha main and shadow: no name leaves the export', async (t) => {
  const l = makeLayout(t);
  const shadowDir = join(l.base, 'shadow-export');
  mkdirSync(shadowDir);
  const main = await startGanesha({ exportDir: l.exportDir });
  t.teardown(() => main.stop());
  const shadow = await startGanesha({ exportDir: shadowDir });
  t.teardown(() => shadow.stop());
  const { proxy, ex, stateDir, faults } = await proxyOn(t, l, main, shadow);
  await attack(t, ex, l, 'proxy/ganesha');
  t.deepEqual(faults, []);
  await checkStoredNames(t, proxy, ex, stateDir, 'proxy/ganesha');
});

test.serial('proxy over the embedded server: no name leaves the export', async (t) => {
  const l = makeLayout(t);
  const main = await startEmbeddedServer({ exportDir: l.exportDir, readOnly: true, host: '127.0.0.1' });
  t.teardown(() => main.stop());
  const { proxy, ex, stateDir, faults } = await proxyOn(t, l, { host: '127.0.0.1', exportPath: main.exportPath, nfsPort: main.nfsPort, mountPort: main.mountPort });
  await attack(t, ex, l, 'proxy/embedded');
  t.deepEqual(faults, []);
  await checkStoredNames(t, proxy, ex, stateDir, 'proxy/embedded');
});

test.serial('embedded server directly (read-write): no name leaves the export', async (t) => {
  const l = makeLayout(t);
  const srv = await startEmbeddedServer({ exportDir: l.exportDir, host: '127.0.0.1' });
  t.teardown(() => srv.stop());
  const ex = await openExport({ host: '127.0.0.1', exportPath: srv.exportPath, nfsPort: srv.nfsPort, mountPort: srv.mountPort, timeoutMs: 20_000 });
  t.teardown(() => ex.close().catch(() => undefined));
  await attack(t, ex, l, 'embedded');
  // MNT of a path that climbs out of the export is refused.
  for (const p of [`${srv.exportPath}/..`, `${srv.exportPath}/../secret.txt`, `${srv.exportPath}/d/../..`]) {
    const res = await ex.mount.mnt(p);
    t.not(res.status, 0, `MNT ${p}`);
  }
});

test.serial('proxy over a main server that lists hostile names: they are skipped, never stored', async (t) => {
  const l = makeLayout(t);
  const fs = new LocalExport({ root: l.exportDir, readOnly: true });
  await fs.init();
  const secretHandle = encodeHandle(fileIdOf(await lstat(join(l.base, 'secret.txt'), { bigint: true })));
  // A main server whose READDIRPLUS adds names that are not components, with handles and attributes.
  const evilNames = ['../secret.txt', `${l.base}/secret.txt`, 'a/b', '', 'n\0ul', 'y'.repeat(300)];
  const handlers = Object.create(fs) as LocalExport;
  handlers.READDIRPLUS = async (a: ReaddirplusArgs): Promise<ReaddirplusRes> => {
    const res = await fs.READDIRPLUS(a);
    if (res.status !== Nfs3Status.OK || !res.eof) return res;
    const attrs = expectOk(await fs.GETATTR({ object: fs.rootHandle() }), 'GETATTR').objAttributes;
    let cookie = res.entries.length > 0 ? res.entries[res.entries.length - 1]!.cookie : 0n;
    const extra = evilNames.map((name) => ({ fileid: 999n, name, cookie: ++cookie, nameAttributes: { ...attrs, type: Ftype3.REG }, nameHandle: secretHandle }));
    return { ...res, entries: [...res.entries, ...extra] };
  };
  const rpc = new RpcServer();
  rpc.addProgram(nfs3Program(handlers)).addProgram(mountProgram(new MountService(l.exportDir, fs)));
  const port = await rpc.listenTcp(0, '127.0.0.1');
  t.teardown(async () => {
    await rpc.close();
    await fs.close();
  });
  const { proxy, ex, stateDir, faults } = await proxyOn(t, l, { host: '127.0.0.1', exportPath: l.exportDir, nfsPort: port, mountPort: port });
  const names = await listAll(ex, ex.root);
  t.true(names.includes('inside.txt') && names.includes('d'), 'the real entries are listed');
  for (const n of names) t.is(componentFault(n), undefined, `listed name ${JSON.stringify(n)}`);
  for (const name of evilNames) {
    const res = await ex.nfs.lookup({ what: { dir: ex.root, name } });
    t.not(res.status, Nfs3Status.OK, `LOOKUP ${JSON.stringify(name)} after the listing`);
  }
  t.deepEqual(faults, []);
  await checkStoredNames(t, proxy, ex, stateDir, 'proxy/evil-main');
});

test('embedded server: a path swapped for a symlink after the handle was resolved opens nothing outside', async (t) => {
  // The race a client that may rename could try: the handle's path is checked, then a directory on
  // it is replaced by a symlink to the outside before the file is opened for READ or WRITE.
  const l = makeLayout(t);
  writeFileSync(join(l.base, 'f'), SECRET); // outside, at the name the swapped path reaches
  const st = await lstat(join(l.exportDir, 'd', 'f'), { bigint: true });
  const fds = new FdCache(true);
  t.teardown(() => fds.closeAll());
  renameSync(join(l.exportDir, 'd'), join(l.exportDir, 'd-moved'));
  symlinkSync(l.base, join(l.exportDir, 'd'));
  for (const forWrite of [false, true]) {
    const err = await t.throwsAsync(fds.withFd(`${st.dev}:${st.ino}`, join(l.exportDir, 'd', 'f'), forWrite, async () => 'opened'));
    t.is((err as { code?: string }).code, 'ESTALE');
  }
  t.is(readFileSync(join(l.base, 'f'), 'utf8'), SECRET);
  // The right file under its real path still opens.
  t.is(await fds.withFd(`${st.dev}:${st.ino}`, join(l.exportDir, 'd-moved', 'f'), false, async () => 'opened'), 'opened');
});

// The race a client that may rename could run, made deterministic: right after the server
// resolves a handle, the directory on its path is replaced (behind its back) by a symlink to a
// directory outside the export that has the same names. Both the last component (d) and a
// middle one (d for d/sub) are tried. With held directory descriptors (the proxy's local shadow)
// the calls act in the real directory, which the descriptors still name: inside, so allowed.
test('embedded server: a directory on a resolved path swapped for a symlink to the outside: no procedure acts there', async (t) => {
  await swappedDirectory(t, 0);
});

test('local shadow (held directory descriptors): a directory swapped for a symlink to the outside: no procedure acts there', async (t) => {
  await swappedDirectory(t, 16);
});

async function swappedDirectory(t: ExecutionContext, heldDirs: number): Promise<void> {
  const l = makeLayout(t);
  mkdirSync(join(l.exportDir, 'd', 'sub'));
  const outside = join(l.base, 'outside');
  for (const dir of [outside, join(outside, 'sub')]) {
    mkdirSync(join(dir, 'victimdir'), { recursive: true });
    writeFileSync(join(dir, 'f'), SECRET);
    writeFileSync(join(dir, 'victim'), SECRET);
  }
  const outsideState = () => snapshotTree(outside);
  const before = outsideState();
  const fs = new LocalExport({ root: l.exportDir, heldDirs });
  await fs.init();
  t.teardown(() => fs.close());
  const ctx = { transport: 'tcp' } as RpcCallContext;
  const root = fs.rootHandle();
  const handle = async (dir: FileHandle, name: string) => expectOk(await fs.LOOKUP({ what: { dir, name } }), `LOOKUP ${name}`).object;
  const d = await handle(root, 'd');
  const sub = await handle(d, 'sub');
  const f = await handle(d, 'f');
  const subF = await (async () => {
    writeFileSync(join(l.exportDir, 'd', 'sub', 'f'), 'inside sub f\n');
    return handle(sub, 'f');
  })();
  const inside = await handle(root, 'inside.txt');
  const real = join(l.exportDir, 'd');
  let armed = false;
  const swap = () => {
    if (!armed) return;
    armed = false;
    renameSync(real, `${real}-real`);
    symlinkSync(outside, real);
  };
  // Both ways the export resolves a handle: on the calling thread, and (READ, WRITE, READDIRPLUS,
  // MKNOD, or a handle that takes a scan) asynchronously.
  const hooks = fs as unknown as { resolve: (fh: FileHandle) => Promise<unknown>; resolveNow: (fh: FileHandle) => unknown };
  const resolveOnce = hooks.resolve.bind(fs);
  const resolveNowOnce = hooks.resolveNow.bind(fs);
  let resolutions = 0;
  hooks.resolve = async (fh) => {
    const r = await resolveOnce(fh);
    resolutions++;
    swap();
    return r;
  };
  hooks.resolveNow = (fh) => {
    const r = resolveNowOnce(fh);
    if (r === undefined) return r; // resolved by `resolve` next, after a scan: the swap follows that
    resolutions++;
    swap();
    return r;
  };
  const attack = async <R extends { status: Nfs3Status }>(what: string, call: () => R | Promise<R>): Promise<R> => {
    armed = true;
    try {
      return await call();
    } finally {
      if (!armed) {
        rmSync(real);
        renameSync(`${real}-real`, real);
      }
      t.false(armed, `${what} resolved no handle`);
      armed = false;
      t.is(outsideState(), before, `${what} changed the outside`);
    }
  };
  for (const [label, dir, file] of [['d', d, f], ['d/sub', sub, subF]] as const) {
    const w = (what: string) => `${label}: ${what}`;
    t.not((await attack(w('LOOKUP victim'), () => fs.LOOKUP({ what: { dir, name: 'victim' } }))).status, Nfs3Status.OK, w('LOOKUP victim'));
    const listed = await attack(w('READDIRPLUS'), () => fs.READDIRPLUS({ dir, cookie: 0n, cookieverf: new Uint8Array(8), dircount: 8192, maxcount: 65536 }));
    if (listed.status === Nfs3Status.OK) t.false(listed.entries.some((e) => e.name === 'victim'), w('READDIRPLUS lists the outside'));
    for (const [what, call] of [
      ['CREATE', () => fs.CREATE({ where: { dir, name: 'created' }, how: { mode: CreateMode.UNCHECKED, attributes: { mode: 0o644 } } }, ctx)],
      ['MKDIR', () => fs.MKDIR({ where: { dir, name: 'made' }, attributes: { mode: 0o755 } }, ctx)],
      ['SYMLINK', () => fs.SYMLINK({ where: { dir, name: 'sl' }, symlinkAttributes: {}, symlinkData: 'x' }, ctx)],
      ['MKNOD', () => fs.MKNOD({ where: { dir, name: 'fifo' }, what: { type: Ftype3.FIFO, attributes: { mode: 0o644 } } }, ctx)],
      ['REMOVE', () => fs.REMOVE({ object: { dir, name: 'victim' } })],
      ['RMDIR', () => fs.RMDIR({ object: { dir, name: 'victimdir' } })],
      ['RENAME out', () => fs.RENAME({ from: { dir, name: 'victim' }, to: { dir: root, name: 'stolen' } })],
      ['RENAME in', () => fs.RENAME({ from: { dir: root, name: 'inside.txt' }, to: { dir, name: 'planted' } })],
      ['LINK', () => fs.LINK({ file: inside, link: { dir, name: 'linked' } })],
      ['SETATTR', () => fs.SETATTR({ object: file, newAttributes: { mode: 0o777, size: 0n, uid: 4242 } })],
      ['WRITE', () => fs.WRITE({ file, offset: 0n, count: 5, stable: StableHow.FILE_SYNC, data: Buffer.from('PWNED') }, ctx)],
    ] as Array<[string, () => { status: Nfs3Status } | Promise<{ status: Nfs3Status }>]>) {
      const res = await attack(w(what), call);
      // With two handles the swap follows the first resolution; the second then finds the real
      // directory by a rescan, so RENAME in and LINK may succeed: inside (attack() checked the outside).
      if (what !== 'RENAME in' && what !== 'LINK' && heldDirs === 0) t.not(res.status, Nfs3Status.OK, w(`${what} must fail`));
    }
    const read = await attack(w('READ'), () => fs.READ({ file, offset: 0n, count: 100 }, ctx));
    if (read.status === Nfs3Status.OK) t.false(Buffer.from(read.data).toString().includes('secret'), w('READ'));
  }
  t.is(outsideState(), before);
  t.true(resolutions > 0);
}

/** Names, types, modes, owners, sizes and contents of a tree (to see any change). */
function snapshotTree(dir: string): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      out.push(`${p}:${st.mode}:${st.uid}:${st.size}:${st.isFile() ? readFileSync(p, 'utf8') : ''}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.join('|');
}

test('MNT through the proxy: climbing paths stay inside, a 300-byte component is NAMETOOLONG, DUMP stays bounded', async (t) => {
  const { main, open } = await proxyOverEmbeddedMain(t, { 'inside.txt': Buffer.from('inside\n') });
  const ex = await open();
  t.teardown(() => ex.close().catch(() => undefined));
  const rootId = expectOk(await ex.nfs.getattr({ object: ex.root }), 'GETATTR').objAttributes.fileid;
  for (const p of [`${main.exportPath}/..`, `${main.exportPath}/../..`, `${main.exportPath}/x/../..`]) {
    const res = await ex.mount.mnt(p);
    if (res.status === MountStatus.OK) t.is(expectOk(await ex.nfs.getattr({ object: res.fhandle }), 'GETATTR').objAttributes.fileid, rootId, `MNT ${p} is the root`);
    else t.is(res.status, MountStatus.NOENT, `MNT ${p}`);
  }
  t.is((await ex.mount.mnt(`${main.exportPath}/${'n'.repeat(300)}`)).status, MountStatus.NAMETOOLONG);
  t.is((await ex.mount.mnt(`${main.exportPath}/../etc`)).status, MountStatus.NOENT);
  for (let i = 0; i < 5_000; i++) await ex.mount.mnt(main.exportPath);
  t.true((await ex.mount.dump()).length <= MAX_MOUNT_ENTRIES);
});
