// The ROW-FS proxy between unmodified nfs-ganesha servers (main: read-only use; shadow: writes)
// and unmodified clients (libnfs's nfs-ls / nfs-cat / nfs-cp) plus our own NFSv3 client.
// Tests run in order on one proxy session; the last one checks the main export is unchanged.
import anyTest, { type TestFn } from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGanesha, type Ganesha } from '../../../simulations/harness/ganesha.js';
import { nfsCat, nfsCpIn, nfsLsNames, type NfsTarget } from '../../../simulations/harness/libnfs.js';
import { openExport, type OpenedExport } from '../../../rowfs/mount/open-export.js';
import { expectOk } from '../../../rowfs/nfs3/errors.js';
import { StableHow } from '../../../rowfs/nfs3/types.js';
import { RowfsProxy } from '../../../rowfs/proxy/proxy.js';
import {
  BIG_BYTES,
  MANY_ENTRIES,
  createFile,
  listNames,
  lookup,
  lookupPath,
  pattern,
  populateMain,
  readAll,
  size,
  status,
  treeChecksum,
  writeAt,
} from './fixture.js';

interface Ctx {
  mainDir: string;
  shadowDir: string;
  stateDir: string;
  main: Ganesha;
  shadow: Ganesha;
  proxy: RowfsProxy;
  ex: OpenedExport;
  before: string;
  target: NfsTarget;
}
const test = anyTest as TestFn<unknown>;
let c: Ctx;
const faults: string[] = [];
const mainProcs: string[] = [];

test.before(async () => {
  const mainDir = mkdtempSync(join(tmpdir(), 'rowfs-main-'));
  const shadowDir = mkdtempSync(join(tmpdir(), 'rowfs-shadow-'));
  const stateDir = mkdtempSync(join(tmpdir(), 'rowfs-state-'));
  populateMain(mainDir);
  const before = treeChecksum(mainDir);
  const main = await startGanesha({ exportDir: mainDir });
  const shadow = await startGanesha({ exportDir: shadowDir });
  const proxy = await startProxy({ main, shadow, stateDir });
  const ex = await openExport({ host: '127.0.0.1', exportPath: main.exportPath, nfsPort: proxy.nfsPort, mountPort: proxy.mountPort, timeoutMs: 20_000 });
  c = { mainDir, shadowDir, stateDir, main, shadow, proxy, ex, before, target: { host: '127.0.0.1', exportPath: main.exportPath, nfsPort: proxy.nfsPort, mountPort: proxy.mountPort } };
});

function startProxy(o: { main: Ganesha; shadow: Ganesha; stateDir: string; nfsPort?: number }) {
  return RowfsProxy.start({
    main: { host: o.main.host, exportPath: o.main.exportPath, nfsPort: o.main.nfsPort, mountPort: o.main.mountPort },
    shadow: { host: o.shadow.host, exportPath: o.shadow.exportPath, nfsPort: o.shadow.nfsPort, mountPort: o.shadow.mountPort },
    stateDir: o.stateDir,
    listenHost: '127.0.0.1',
    nfsPort: o.nfsPort ?? 0,
    blockSizeBytes: 64 * 1024,
    onFault: (what, err) => faults.push(`${what}: ${(err as Error)?.stack ?? String(err)}`),
  });
}

test.after.always(async () => {
  await c?.ex.close().catch(() => undefined);
  await c?.proxy.stop();
  await c?.main.stop();
  await c?.shadow.stop();
  for (const d of [c?.mainDir, c?.shadowDir, c?.stateDir]) if (d) rmSync(d, { recursive: true, force: true });
});

test.serial('read-through: nfs-cat and our client read main files; a second read fetches nothing from main', async (t) => {
  const big = await nfsCat(c.target, 'big.bin');
  t.true(big.equals(pattern(BIG_BYTES, 1)));
  t.is((await nfsCat(c.target, 'dir/sub/b.txt')).toString(), 'b in sub\n');
  const fromMain = c.proxy.counters.bytesFromMain;
  t.true(fromMain >= BIG_BYTES);
  const again = await readAll(c.ex, await lookup(c.ex, c.ex.root, 'big.bin'));
  t.true(again.equals(pattern(BIG_BYTES, 1)));
  t.is(c.proxy.counters.bytesFromMain, fromMain, 'second read served from the block cache');
  t.true(c.proxy.counters.cacheHitBlocks > 0);
  t.deepEqual(await nfsLsNames(c.target, 'dir'), ['a.txt', 'sub']);
  t.deepEqual(faults, []);
});

test.serial('overwrite part of one block: rest of the block from main, shadow file sparse, no whole-file copy', async (t) => {
  const fh = await lookup(c.ex, c.ex.root, 'big.bin');
  const expected = pattern(BIG_BYTES, 1);
  const patch = Buffer.from('PATCHED-IN-THE-MIDDLE');
  await writeAt(c.ex, fh, 70_000, patch);
  patch.copy(expected, 70_000);
  t.true((await readAll(c.ex, fh)).equals(expected));
  t.is(await size(c.ex, fh), BIG_BYTES);
  // The shadow holds the file at its full logical size but only the touched block is allocated.
  const shadowFile = join(c.shadowDir, 'big.bin');
  t.is(statSync(shadowFile).size, BIG_BYTES);
  t.true(statSync(shadowFile).blocks * 512 <= 2 * 64 * 1024, `allocated ${statSync(shadowFile).blocks * 512} bytes`);
  // The one shadow block is complete: main's bytes around the patch are there.
  const raw = readFileSync(shadowFile);
  t.true(raw.subarray(65536, 131072).equals(expected.subarray(65536, 131072)));
  t.is(readFileSync(join(c.mainDir, 'big.bin')).subarray(70_000, 70_021).toString() === 'PATCHED-IN-THE-MIDDLE', false);
});

test.serial('writes across block ends, append, truncate down and extend', async (t) => {
  const fh = await lookup(c.ex, c.ex.root, 'big.bin');
  const expected = readAll(c.ex, fh);
  const exp = await expected;
  const across = pattern(200_000, 9);
  await writeAt(c.ex, fh, 131_072 - 100, across, StableHow.UNSTABLE);
  across.copy(exp, 131_072 - 100);
  expectOk(await c.ex.nfs.commit({ file: fh, offset: 0n, count: 0 }), 'COMMIT');
  t.true((await readAll(c.ex, fh)).equals(exp));
  // append
  const tail = Buffer.from('appended tail');
  await writeAt(c.ex, fh, exp.length, tail);
  const withTail = Buffer.concat([exp, tail]);
  t.is(await size(c.ex, fh), withTail.length);
  t.true((await readAll(c.ex, fh)).equals(withTail));
  // truncate into the middle of an untouched block, then extend: the cut-off part reads as zeros
  const cut = 600_000 + 123;
  expectOk(await c.ex.nfs.setattr({ object: fh, newAttributes: { size: BigInt(cut) } }), 'SETATTR');
  t.is(await size(c.ex, fh), cut);
  t.true((await readAll(c.ex, fh)).equals(withTail.subarray(0, cut)));
  expectOk(await c.ex.nfs.setattr({ object: fh, newAttributes: { size: BigInt(cut + 70_000) } }), 'SETATTR');
  const grown = Buffer.concat([withTail.subarray(0, cut), Buffer.alloc(70_000)]);
  t.true((await readAll(c.ex, fh)).equals(grown));
  t.true((await nfsCat(c.target, 'big.bin')).equals(grown));
  t.deepEqual(faults, []);
});

test.serial('create, remove, rename of files and directories; whiteout then re-create', async (t) => {
  const root = c.ex.root;
  // new file via nfs-cp
  const local = join(c.stateDir, 'upload.txt');
  writeFileSync(local, 'uploaded by nfs-cp\n');
  await nfsCpIn(c.target, local, 'dir/uploaded.txt');
  t.is((await nfsCat(c.target, 'dir/uploaded.txt')).toString(), 'uploaded by nfs-cp\n');
  t.true(existsSync(join(c.shadowDir, 'dir', 'uploaded.txt')));
  // remove a main file: whiteout
  expectOk(await c.ex.nfs.remove({ object: { dir: root, name: 'small.txt' } }), 'REMOVE');
  t.is(await status(c.ex.nfs.lookup({ what: { dir: root, name: 'small.txt' } })), 'NOENT');
  t.false((await nfsLsNames(c.target)).includes('small.txt'));
  // re-create over the whiteout: new, empty file, not main's content
  const fh = await createFile(c.ex, root, 'small.txt');
  t.is(await size(c.ex, fh), 0);
  await writeAt(c.ex, fh, 0, Buffer.from('new content'));
  t.is((await nfsCat(c.target, 'small.txt')).toString(), 'new content');
  // rename a main file
  expectOk(await c.ex.nfs.rename({ from: { dir: root, name: 'hard1' }, to: { dir: root, name: 'renamed1' } }), 'RENAME');
  t.is(await status(c.ex.nfs.lookup({ what: { dir: root, name: 'hard1' } })), 'NOENT');
  t.is((await nfsCat(c.target, 'renamed1')).toString(), 'shared inode\n');
  // directories: mkdir, rmdir, rename of a populated main directory (its main content follows)
  const d = expectOk(await c.ex.nfs.mkdir({ where: { dir: root, name: 'newdir' }, attributes: { mode: 0o755 } }), 'MKDIR');
  t.truthy(d.obj);
  t.is(await status(c.ex.nfs.rmdir({ object: { dir: root, name: 'dir' } })), 'NOTEMPTY');
  expectOk(await c.ex.nfs.rmdir({ object: { dir: root, name: 'newdir' } }), 'RMDIR');
  expectOk(await c.ex.nfs.rmdir({ object: { dir: root, name: 'emptydir' } }), 'RMDIR');
  t.is(await status(c.ex.nfs.lookup({ what: { dir: root, name: 'emptydir' } })), 'NOENT');
  expectOk(await c.ex.nfs.rename({ from: { dir: root, name: 'dir' }, to: { dir: root, name: 'moved' } }), 'RENAME');
  t.deepEqual(await nfsLsNames(c.target, 'moved'), ['a.txt', 'sub', 'uploaded.txt']);
  t.is((await nfsCat(c.target, 'moved/sub/b.txt')).toString(), 'b in sub\n');
  t.is(await status(c.ex.nfs.lookup({ what: { dir: root, name: 'dir' } })), 'NOENT');
  // re-create the old directory name: opaque, main's old children do not show through
  const again = expectOk(await c.ex.nfs.mkdir({ where: { dir: root, name: 'dir' }, attributes: { mode: 0o755 } }), 'MKDIR');
  t.deepEqual(await listNames(c.ex, again.obj!), []);
  t.deepEqual(faults, []);
});

test.serial('symlink/readlink, dangling symlink, hard links', async (t) => {
  const root = c.ex.root;
  const link = await lookup(c.ex, root, 'link');
  t.is(expectOk(await c.ex.nfs.readlink({ symlink: link }), 'READLINK').data, 'small.txt');
  const dangling = await lookup(c.ex, root, 'dangling');
  t.is(expectOk(await c.ex.nfs.readlink({ symlink: dangling }), 'READLINK').data, 'does/not/exist');
  const s = expectOk(await c.ex.nfs.symlink({ where: { dir: root, name: 'newlink' }, symlinkAttributes: {}, symlinkData: 'moved/a.txt' }), 'SYMLINK');
  t.is(expectOk(await c.ex.nfs.readlink({ symlink: s.obj! }), 'READLINK').data, 'moved/a.txt');
  // hard link to a main file: both names see one file, writes through one show in the other
  const a = await lookupPath(c.ex, 'moved/a.txt');
  expectOk(await c.ex.nfs.link({ file: a, link: { dir: root, name: 'a-link' } }), 'LINK');
  const viaLink = await lookup(c.ex, root, 'a-link');
  t.deepEqual(Buffer.from(viaLink), Buffer.from(a), 'same virtual handle for both names');
  await writeAt(c.ex, viaLink, 0, Buffer.from('A'));
  t.is((await nfsCat(c.target, 'moved/a.txt')).toString(), 'A in dir\n');
  t.is(expectOk(await c.ex.nfs.getattr({ object: a }), 'GETATTR').objAttributes.nlink, 2);
  expectOk(await c.ex.nfs.remove({ object: { dir: await lookup(c.ex, root, 'moved'), name: 'a.txt' } }), 'REMOVE');
  t.is((await nfsCat(c.target, 'a-link')).toString(), 'A in dir\n');
  t.deepEqual(faults, []);
});

test.serial(`merged readdir of ${MANY_ENTRIES} main entries plus shadow entries and whiteouts`, async (t) => {
  const many = await lookup(c.ex, c.ex.root, 'many');
  for (let i = 0; i < 20; i++) expectOk(await c.ex.nfs.remove({ object: { dir: many, name: `f${String(i * 7).padStart(5, '0')}` } }), 'REMOVE');
  for (let i = 0; i < 30; i++) await createFile(c.ex, many, `new${i}`);
  const expected = new Set<string>();
  for (let i = 0; i < MANY_ENTRIES; i++) expected.add(`f${String(i).padStart(5, '0')}`);
  for (let i = 0; i < 20; i++) expected.delete(`f${String(i * 7).padStart(5, '0')}`);
  for (let i = 0; i < 30; i++) expected.add(`new${i}`);
  const want = [...expected].sort();
  t.deepEqual(await listNames(c.ex, many, true), want);
  t.deepEqual(await listNames(c.ex, many, false), want);
  t.deepEqual(await nfsLsNames(c.target, 'many'), want);
  // fileids are the virtual ids: the same number READDIR, READDIRPLUS and GETATTR report
  const res = expectOk(await c.ex.nfs.readdirplus({ dir: many, cookie: 0n, cookieverf: new Uint8Array(8), dircount: 4096, maxcount: 16384 }), 'READDIRPLUS');
  const e = res.entries.find((x) => x.name.startsWith('f'))!;
  t.is(expectOk(await c.ex.nfs.getattr({ object: e.nameHandle! }), 'GETATTR').objAttributes.fileid, e.fileid);
  t.deepEqual(faults, []);
});

test.serial('malformed RPC frames are dropped and the proxy keeps serving', async (t) => {
  const net = await import('node:net');
  const send = (bytes: Buffer) =>
    new Promise<void>((resolve) => {
      const s = net.connect(c.proxy.nfsPort, '127.0.0.1', () => s.end(bytes));
      s.on('close', () => resolve());
      s.on('error', () => resolve());
      s.setTimeout(2000, () => s.destroy());
    });
  await send(Buffer.from([0x80, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8])); // a record that is no RPC call
  await send(Buffer.from([0x7f, 0xff, 0xff, 0xff])); // absurd fragment length
  // A well-framed NFS call with garbage arguments gets GARBAGE_ARGS, not a crash.
  const { XdrWriter } = await import('../../../rowfs/xdr/writer.js');
  const { encodeCallHeader, AUTH_NONE } = await import('../../../rowfs/rpc/message.js');
  const w = new XdrWriter(64, 4);
  encodeCallHeader(w, { xid: 77, prog: 100003, vers: 3, proc: 1, cred: AUTH_NONE, verf: AUTH_NONE });
  w.uint32(200); // file handle length above 64
  const framed = Buffer.from(w.framed());
  framed.writeUInt32BE((0x80000000 | (framed.length - 4)) >>> 0, 0);
  await send(framed);
  // Garbage handle bytes inside a valid call: BADHANDLE.
  t.is(await status(c.ex.nfs.getattr({ object: new Uint8Array([1, 2, 3]) })), 'BADHANDLE');
  t.is((await nfsCat(c.target, 'renamed1')).toString(), 'shared inode\n');
  t.deepEqual(faults, []);
});

test.serial('SIGKILL-like restart of the proxy keeps handles and acknowledged writes', async (t) => {
  // (In-process restart; the command-level SIGKILL test is in command.test.ts.)
  const f = await createFile(c.ex, c.ex.root, 'survivor');
  await writeAt(c.ex, f, 0, Buffer.from('written before restart'), StableHow.UNSTABLE);
  const verf1 = expectOk(await c.ex.nfs.commit({ file: f, offset: 0n, count: 0 }), 'COMMIT').verf;
  const port = c.proxy.nfsPort;
  mainProcs.push(...Object.keys(c.proxy.counters.snapshot().main));
  await c.proxy.stop();
  c.proxy = await startProxy({ main: c.main, shadow: c.shadow, stateDir: c.stateDir, nfsPort: port });
  // The client's old handle still works (its TCP client reconnects by itself).
  t.is((await readAll(c.ex, f)).toString(), 'written before restart');
  const verf2 = expectOk(await c.ex.nfs.commit({ file: f, offset: 0n, count: 0 }), 'COMMIT').verf;
  t.notDeepEqual(Buffer.from(verf1), Buffer.from(verf2), 'write verifier changes across a restart');
  t.deepEqual(faults, []);
});

test.serial('main server restarted mid-session: reads continue', async (t) => {
  await c.main.restart();
  const fh = await lookupPath(c.ex, 'many/f02999');
  t.is((await readAll(c.ex, fh)).toString(), '2999\n');
  t.is((await nfsCat(c.target, 'moved/sub/b.txt')).toString(), 'b in sub\n');
  t.deepEqual(faults, []);
});

test.serial('the main export is unchanged (checksum) after everything above', (t) => {
  t.is(treeChecksum(c.mainDir), c.before);
  // The proxy only ever sent main read-only procedures.
  mainProcs.push(...Object.keys(c.proxy.counters.snapshot().main));
  const readOnly = new Set(['GETATTR', 'LOOKUP', 'READLINK', 'READ', 'READDIRPLUS', 'FSINFO']);
  t.deepEqual([...new Set(mainProcs)].filter((p) => !readOnly.has(p)), []);
  t.true(mainProcs.includes('READ'));
  t.deepEqual(faults, []);
});
