// Unmodified NFSv3 clients (libnfs's nfs-ls, nfs-cat, nfs-cp) against the embedded server:
// listing, reading, copying in and out, checksums compared on both sides.
import anyTest, { type TestFn } from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startEmbeddedServer, type EmbeddedServer } from '../../../rowfs/server/index.js';
import { nfsCat, nfsCpIn, nfsCpOut, nfsLs, nfsLsNames, type NfsTarget } from '../../../simulations/harness/libnfs.js';
import { sha } from './nfs3-contract.js';

const test = anyTest as TestFn<unknown>;
let server: EmbeddedServer | undefined;
let dir = '';
let work = '';
let tgt: NfsTarget;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'libnfs-export-'));
  work = mkdtempSync(join(tmpdir(), 'libnfs-work-'));
  server = await startEmbeddedServer({ exportDir: dir, exportPath: '/export', host: '127.0.0.1' });
  tgt = { host: '127.0.0.1', exportPath: '/export', nfsPort: server.nfsPort, mountPort: server.mountPort };
});

test.after.always(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

test('nfs-ls lists files, directories and symlinks with their sizes', async (t) => {
  mkdirSync(join(dir, 'ls', 'sub'), { recursive: true });
  writeFileSync(join(dir, 'ls', 'hello.txt'), 'hello world\n');
  symlinkSync('hello.txt', join(dir, 'ls', 'link'));
  const names = await nfsLsNames(tgt, 'ls');
  t.deepEqual(names, ['hello.txt', 'link', 'sub']);
  const lines = await nfsLs(tgt, 'ls');
  const hello = lines.find((l) => l.endsWith('hello.txt'))!;
  t.regex(hello, /^-rw/);
  t.regex(hello, /\s12\s/);
  t.regex(lines.find((l) => l.endsWith('sub'))!, /^d/);
  t.regex(lines.find((l) => l.endsWith('link'))!, /^l/);
});

test('nfs-ls of a directory with 2,000 entries (READDIRPLUS paging)', async (t) => {
  mkdirSync(join(dir, 'big'));
  const expected: string[] = [];
  for (let i = 0; i < 2000; i++) {
    const n = `file-${i}`;
    writeFileSync(join(dir, 'big', n), '');
    expected.push(n);
  }
  t.deepEqual(await nfsLsNames(tgt, 'big'), expected.sort());
});

test('nfs-cat reads a 5 MB file byte for byte', async (t) => {
  const data = randomBytes(5 * 1024 * 1024 + 123);
  writeFileSync(join(dir, 'cat.bin'), data);
  const got = await nfsCat(tgt, 'cat.bin');
  t.is(got.length, data.length);
  t.is(sha(got), sha(data));
});

test('nfs-cp copies in and out (3 MB, and an empty file), checksums match', async (t) => {
  const data = randomBytes(3 * 1024 * 1024 + 7);
  writeFileSync(join(work, 'up.bin'), data);
  await nfsCpIn(tgt, join(work, 'up.bin'), 'up.bin');
  t.is(sha(readFileSync(join(dir, 'up.bin'))), sha(data));
  await nfsCpOut(tgt, 'up.bin', join(work, 'down.bin'));
  t.is(sha(readFileSync(join(work, 'down.bin'))), sha(data));
  writeFileSync(join(work, 'empty'), '');
  await nfsCpIn(tgt, join(work, 'empty'), 'empty');
  t.is(readFileSync(join(dir, 'empty')).length, 0);
  // nfs-cp creates exclusively (nfs-ganesha answers the same): an existing file is EXIST and stays intact.
  writeFileSync(join(work, 'short.bin'), 'short');
  const err = await t.throwsAsync(nfsCpIn(tgt, join(work, 'short.bin'), 'up.bin'));
  t.regex(err!.message, /NFS3ERR_EXIST/);
  t.is(sha(readFileSync(join(dir, 'up.bin'))), sha(data));
});

test('libnfs mounts a subdirectory of the export directly', async (t) => {
  mkdirSync(join(dir, 'deep', 'er'), { recursive: true });
  writeFileSync(join(dir, 'deep', 'er', 'x.txt'), 'deep content');
  const sub = { ...tgt, exportPath: '/export/deep/er' };
  t.deepEqual(await nfsLsNames(sub, ''), ['x.txt']);
  t.is((await nfsCat(sub, 'x.txt')).toString(), 'deep content');
});

test('libnfs against a read-only export: reads work, uploads fail', async (t) => {
  const ro = mkdtempSync(join(tmpdir(), 'libnfs-ro-'));
  t.teardown(() => rmSync(ro, { recursive: true, force: true }));
  writeFileSync(join(ro, 'r.txt'), 'ro data');
  const s = await startEmbeddedServer({ exportDir: ro, exportPath: '/ro', host: '127.0.0.1', readOnly: true });
  t.teardown(() => s.stop());
  const rt = { host: '127.0.0.1', exportPath: '/ro', nfsPort: s.nfsPort, mountPort: s.mountPort };
  t.is((await nfsCat(rt, 'r.txt')).toString(), 'ro data');
  writeFileSync(join(work, 'ro-up'), 'x');
  await t.throwsAsync(nfsCpIn(rt, join(work, 'ro-up'), 'new.txt'));
  t.deepEqual(await nfsLsNames(rt, ''), ['r.txt']);
});
