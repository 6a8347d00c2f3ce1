// Names, types, symlink targets and listings of an image version answered from its manifest
// (main-tree.ts): two proxies over one real embedded server, one with the manifest's tree and one
// without, give the same answers (LOOKUP of present and absent names, attributes, READLINK,
// READDIRPLUS); once a tree has been walked, walking it again sends main nothing; and shadow
// changes (create, remove, rename of files and directories, symlink, mkdir) still win over the
// manifest.
import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openExport, type OpenedExport } from '../../../rowfs/mount/open-export.js';
import { RowfsProxy } from '../../../rowfs/proxy/proxy.js';
import type { ReplicaVerifier } from '../../../rowfs/proxy/replicated-main.js';
import { startEmbeddedServer } from '../../../rowfs/server/embedded-server.js';
import { buildManifest, ManifestIndex } from '../../../rowfs/image/manifest.js';
import { expectOk } from '../../../rowfs/nfs3/errors.js';
import { Nfs3Status, type Fattr3, type FileHandle } from '../../../rowfs/nfs3/types.js';
import { createFile, listNames, lookup, lookupPath, readAll, status } from './fixture.js';
import { LIST_AFTER_LOOKUPS, LIST_MAX_ENTRIES } from '../../../rowfs/proxy/main-dir-names.js';

const lookupStatus = (ex: OpenedExport, dir: FileHandle, name: string) => status(ex.nfs.lookup({ what: { dir, name } }));

/** More names than LIST_AT_ONCE_ENTRIES: listed after a few LOOKUPs, not at the first. */
const BIG_DIR_NAMES = 100;

function makeTree(dir: string): void {
  mkdirSync(join(dir, 'etc', 'conf.d'), { recursive: true });
  mkdirSync(join(dir, 'usr', 'lib'), { recursive: true });
  mkdirSync(join(dir, 'empty'));
  writeFileSync(join(dir, 'etc', 'hostname'), 'appliance\n');
  writeFileSync(join(dir, 'etc', 'conf.d', 'a.conf'), 'a=1\n');
  writeFileSync(join(dir, 'etc', 'conf.d-x'), 'sorts between conf.d and conf.d/\n');
  for (let i = 0; i < BIG_DIR_NAMES; i++) writeFileSync(join(dir, 'usr', 'lib', `lib${i}.so`), `library ${i}\n`);
  symlinkSync('lib0.so', join(dir, 'usr', 'lib', 'lib0.so.1'));
  symlinkSync('/usr/lib', join(dir, 'lib'));
  symlinkSync('../etc/hostname', join(dir, 'usr', 'hostname-link'));
}

/** Paths walked by both proxies: present ones and absent ones (NOENT at the last component). */
const PATHS = [
  'etc', 'etc/hostname', 'etc/conf.d', 'etc/conf.d/a.conf', 'etc/conf.d-x', 'etc/missing', 'etc/conf.d/missing',
  'usr', 'usr/lib', 'usr/lib/lib0.so', 'usr/lib/lib0.so.1', 'usr/lib/lib57.so', 'usr/lib/lib99.so', 'usr/lib/libnone.so', 'usr/lib/lib1.so',
  'usr/lib/lib2.so', 'usr/lib/lib3.so', 'usr/lib/lib4.so', 'usr/lib/nothing', 'lib', 'usr/hostname-link', 'empty', 'empty/x', 'nope',
];
const DIRS = ['', 'etc', 'etc/conf.d', 'usr', 'usr/lib', 'empty'];

/** What a client sees of attributes that does not depend on the proxy (fileid is its vid). */
function seen(a: Fattr3 | undefined) {
  if (!a) return undefined;
  const { fileid: _f, atime: _a, ...rest } = a;
  return rest;
}

/** Every answer a client gets for PATHS and DIRS, as comparable values. */
async function walk(ex: OpenedExport): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const path of PATHS) {
    const parts = path.split('/');
    let fh: FileHandle = ex.root;
    let res;
    for (const part of parts) {
      res = await ex.nfs.lookup({ what: { dir: fh, name: part } });
      if (res.status !== Nfs3Status.OK) break;
      fh = res.object;
    }
    if (res!.status !== Nfs3Status.OK) {
      out.push([path, Nfs3Status[res!.status]]);
      continue;
    }
    const a = expectOk(await ex.nfs.getattr({ object: fh }), 'GETATTR').objAttributes;
    out.push([path, seen(res!.objAttributes), seen(a)]);
    const link = await ex.nfs.readlink({ symlink: fh });
    out.push([path, link.status === Nfs3Status.OK ? link.data : Nfs3Status[link.status]]);
  }
  for (const d of DIRS) {
    const dir = await lookupPath(ex, d);
    const res = expectOk(await ex.nfs.readdirplus({ dir, cookie: 0n, cookieverf: new Uint8Array(8), dircount: 65536, maxcount: 1 << 20 }), 'READDIRPLUS');
    res.entries.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
    out.push([d, res.eof, res.entries.filter((e) => e.name !== '.' && e.name !== '..').map((e) => [e.name, seen(e.nameAttributes)])]);
  }
  return out;
}

async function setup(t: { teardown(fn: () => Promise<void> | void): void }, more: (image: string) => void = () => undefined) {
  const root = mkdtempSync(join(tmpdir(), 'manifest-tree-'));
  const image = join(root, 'image');
  mkdirSync(image);
  makeTree(image);
  more(image);
  const index = new ManifestIndex(await buildManifest(image, { blockSize: 4096 }));
  const server = await startEmbeddedServer({ exportDir: image, readOnly: true, host: '127.0.0.1', exportPath: '/image' });
  const replica = { id: 'a', label: 'server-a', host: '127.0.0.1', exportPath: '/image', nfsPort: server.nfsPort, mountPort: server.mountPort };
  const start = async (name: string, verifier: ReplicaVerifier) => {
    const proxy = await RowfsProxy.start({
      main: { id: 'image:test@1', verifier, source: { servers: async () => [replica] } },
      shadow: { dir: join(root, name, 'shadow') },
      stateDir: join(root, name, 'state'),
      listenHost: '127.0.0.1',
      exportPath: '/image',
    });
    const client = await openExport({ host: '127.0.0.1', exportPath: '/image', nfsPort: proxy.nfsPort, mountPort: proxy.mountPort, timeoutMs: 30_000 });
    return { proxy, client };
  };
  // Without `names` the proxy asks main for everything, as before the manifest answered.
  const plain = await start('plain', { blockSize: index.blockSize, entry: (p) => index.entry(p), verifyBlock: (p, i, d) => index.verifyBlock(p, i, d) });
  const tree = await start('tree', index);
  t.teardown(async () => {
    for (const s of [plain, tree]) {
      await s.client.close().catch(() => undefined);
      await s.proxy.stop();
    }
    await server.stop().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  });
  return { plain, tree };
}

const mainCalls = (p: RowfsProxy) => p.counters.snapshot().main;

test('answers from the manifest match main: present and absent names, attributes, targets, listings', async (t) => {
  const { plain, tree } = await setup(t);
  const want = await walk(plain.client);
  t.deepEqual(await walk(tree.client), want);
  const before = mainCalls(tree.proxy);
  t.falsy(before.READLINK, 'targets come from the manifest');
  // A second walk (a second boot) sends main nothing: names, targets, handles and attributes are known.
  t.deepEqual(await walk(tree.client), want);
  t.deepEqual(mainCalls(tree.proxy), before);
  // Without the tree, the same walk keeps asking main (READLINK and listings each time).
  const plainBefore = mainCalls(plain.proxy);
  await walk(plain.client);
  t.true((mainCalls(plain.proxy).READLINK ?? 0) > (plainBefore.READLINK ?? 0));
  t.true((mainCalls(plain.proxy).READDIRPLUS ?? 0) > (plainBefore.READDIRPLUS ?? 0));
});

test('a cold walk sends main fewer calls with the manifest: no LOOKUP of an absent name, no READLINK', async (t) => {
  const { plain, tree } = await setup(t);
  await walk(plain.client);
  await walk(tree.client);
  const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);
  const p = mainCalls(plain.proxy);
  const m = mainCalls(tree.proxy);
  t.log(`main calls, cold walk: without the manifest ${JSON.stringify(p)}, with it ${JSON.stringify(m)}`);
  t.true(total(m) < total(p));
  t.falsy(m.READLINK);
});

test('shadow changes win over the manifest: create, remove, rename, symlink, mkdir', async (t) => {
  const { tree } = await setup(t);
  const ex = tree.client;
  await walk(ex); // everything known first: the answers below must not come from stale knowledge
  const etc = await lookupPath(ex, 'etc');
  const lib = await lookupPath(ex, 'usr/lib');
  const root = ex.root;

  const made = await createFile(ex, etc, 'new.conf');
  expectOk(await ex.nfs.write({ file: made, offset: 0n, count: 4, stable: 2, data: Buffer.from('new\n') }), 'WRITE');
  t.is((await readAll(ex, await lookup(ex, etc, 'new.conf'))).toString(), 'new\n');

  expectOk(await ex.nfs.remove({ object: { dir: lib, name: 'lib57.so' } }), 'REMOVE');
  t.is((await ex.nfs.lookup({ what: { dir: lib, name: 'lib57.so' } })).status, Nfs3Status.NOENT);

  expectOk(await ex.nfs.rename({ from: { dir: etc, name: 'hostname' }, to: { dir: etc, name: 'hostname.old' } }), 'RENAME');
  t.is((await ex.nfs.lookup({ what: { dir: etc, name: 'hostname' } })).status, Nfs3Status.NOENT);
  t.is((await readAll(ex, await lookup(ex, etc, 'hostname.old'))).toString(), 'appliance\n');

  // A main symlink replaced by one with another target.
  expectOk(await ex.nfs.remove({ object: { dir: root, name: 'lib' } }), 'REMOVE');
  expectOk(await ex.nfs.symlink({ where: { dir: root, name: 'lib' }, symlinkAttributes: {}, symlinkData: 'usr/lib' }), 'SYMLINK');
  t.is(expectOk(await ex.nfs.readlink({ symlink: await lookup(ex, root, 'lib') }), 'READLINK').data, 'usr/lib');

  // A renamed main directory keeps its main side: its names are still main's, a removed one stays gone.
  expectOk(await ex.nfs.rename({ from: { dir: etc, name: 'conf.d' }, to: { dir: etc, name: 'conf.e' } }), 'RENAME');
  const confE = await lookup(ex, etc, 'conf.e');
  t.is((await readAll(ex, await lookup(ex, confE, 'a.conf'))).toString(), 'a=1\n');
  t.is((await ex.nfs.lookup({ what: { dir: confE, name: 'missing' } })).status, Nfs3Status.NOENT);
  expectOk(await ex.nfs.remove({ object: { dir: confE, name: 'a.conf' } }), 'REMOVE');
  t.is((await ex.nfs.lookup({ what: { dir: confE, name: 'a.conf' } })).status, Nfs3Status.NOENT);
  t.deepEqual(await listNames(ex, confE), []);
  expectOk(await ex.nfs.rename({ from: { dir: etc, name: 'conf.e' }, to: { dir: etc, name: 'conf.d' } }), 'RENAME');

  expectOk(await ex.nfs.mkdir({ where: { dir: lib, name: 'sub' }, attributes: { mode: 0o755 } }), 'MKDIR');
  t.is((await ex.nfs.lookup({ what: { dir: await lookup(ex, lib, 'sub'), name: 'x' } })).status, Nfs3Status.NOENT);

  const names = await listNames(ex, lib);
  t.false(names.includes('lib57.so'));
  t.true(names.includes('sub'));
  t.is(names.length, BIG_DIR_NAMES + 1 - 1 + 1); // 100 libraries and lib0.so.1, one removed, sub added
  const etcNames = await listNames(ex, etc);
  t.deepEqual(etcNames, ['conf.d', 'conf.d-x', 'hostname.old', 'new.conf']);
  t.deepEqual(await listNames(ex, root), ['empty', 'etc', 'lib', 'usr']);
  // Directory listings by the other READDIR too.
  t.deepEqual(await listNames(ex, etc, false), etcNames);
});

test('a directory the manifest shows with more names than can be registered whole is never listed: its LOOKUPs are answered one by one', async (t) => {
  const names = LIST_MAX_ENTRIES + 1;
  const { tree } = await setup(t, (image) => {
    mkdirSync(join(image, 'huge'));
    for (let i = 0; i < names; i++) writeFileSync(join(image, 'huge', `n${i}`), `${i}\n`);
  });
  const huge = await lookup(tree.client, tree.client.root, 'huge');
  const before = mainCalls(tree.proxy).READDIRPLUS ?? 0;
  for (let i = 0; i < 2 * LIST_AFTER_LOOKUPS; i++) {
    const fh = await lookup(tree.client, huge, `n${i * 97}`);
    t.deepEqual((await readAll(tree.client, fh)).toString(), `${i * 97}\n`);
  }
  t.is(await lookupStatus(tree.client, huge, 'absent'), 'NOENT');
  t.is(mainCalls(tree.proxy).READDIRPLUS ?? 0, before, 'no listing of it sent to main');
});
