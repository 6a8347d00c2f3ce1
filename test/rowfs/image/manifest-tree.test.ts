import test from 'ava';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, chmodSync, chownSync, rmSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { buildManifest, checkTree, encodeManifest, decodeManifest, ManifestIndex, type TreeProgress } from '../../../rowfs/image/manifest.js';
import { ImageError } from '../../../rowfs/image/errors.js';
import { ChunkBuffers, hashFileBlocks, CHUNK_BYTES } from '../../../rowfs/image/file-hash.js';

const BS = 4096;

/** A tree with every kind of entry; removed after the test. */
function makeTree(t: import('ava').ExecutionContext): string {
  const base = mkdtempSync(join(tmpdir(), 'image-tree-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const root = join(base, 'root');
  mkdirSync(join(root, 'etc/deep/deeper'), { recursive: true });
  mkdirSync(join(root, 'usr/bin'), { recursive: true });
  writeFileSync(join(root, 'etc/hosts'), '127.0.0.1 localhost\n');
  writeFileSync(join(root, 'etc/empty'), '');
  writeFileSync(join(root, 'etc/deep/deeper/note'), 'x');
  writeFileSync(join(root, 'usr/bin/exact'), Buffer.alloc(3 * BS, 0x41)); // exactly 3 blocks
  writeFileSync(join(root, 'usr/bin/plus-one'), Buffer.alloc(3 * BS + 1, 0x42)); // 3 blocks + a 1-byte tail
  chmodSync(join(root, 'usr/bin/exact'), 0o751);
  symlinkSync('usr/bin', join(root, 'bin'));
  symlinkSync('/etc', join(root, 'outside')); // must be recorded, never followed
  symlinkSync('missing-target', join(root, 'dangling'));
  execFileSync('mkfifo', [join(root, 'fifo')]);
  writeFileSync(join(root, 'é-ünïcode'), 'u');
  return root;
}

test('buildManifest records every entry, in byte order, with block hashes at the block size', async (t) => {
  const root = makeTree(t);
  const progress: TreeProgress[] = [];
  const m = await buildManifest(root, { blockSize: BS, onProgress: (p) => progress.push(p) });
  t.deepEqual(
    m.entries.map((e) => `${e.path}:${e.type}`),
    ['', 'bin', 'dangling', 'etc', 'etc/deep', 'etc/deep/deeper', 'etc/deep/deeper/note', 'etc/empty', 'etc/hosts', 'fifo', 'outside', 'usr', 'usr/bin', 'usr/bin/exact', 'usr/bin/plus-one', 'é-ünïcode'].map(
      (p) => `${p}:${p === '' || ['etc', 'etc/deep', 'etc/deep/deeper', 'usr', 'usr/bin'].includes(p) ? 'dir' : ['bin', 'dangling', 'outside'].includes(p) ? 'symlink' : p === 'fifo' ? 'other' : 'file'}`,
    ),
  );
  const ix = new ManifestIndex(decodeManifest(encodeManifest(m)));
  t.is(ix.entry('outside')?.target, '/etc');
  t.is(ix.entry('outside')?.size, 4);
  t.is(ix.entry('bin')?.target, 'usr/bin');
  t.is(ix.entry('fifo')?.size, 0);
  t.is(ix.entry('etc/empty')?.blockHashes?.length, 0);
  t.is(ix.blockCount('usr/bin/exact'), 3);
  t.is(ix.blockCount('usr/bin/plus-one'), 4);
  t.is(ix.entry('usr/bin/exact')?.mode, 0o751);
  t.is(ix.entry('etc/hosts')?.uid, statSync(join(root, 'etc/hosts')).uid);
  t.is(ix.entry('etc')?.size, 0, 'directory sizes are not part of the image');
  const plusOne = readFileSync(join(root, 'usr/bin/plus-one'));
  t.true(ix.verifyBlock('usr/bin/plus-one', 3, plusOne.subarray(3 * BS)));
  t.deepEqual(ix.entry('usr/bin/exact')!.blockHashes!.subarray(0, 32), new Uint8Array(createHash('sha256').update(Buffer.alloc(BS, 0x41)).digest()));
  const last = progress.at(-1)!;
  t.deepEqual(last, { files: 6, bytes: last.totalBytes, totalBytes: 20 + 0 + 1 + 3 * BS + 3 * BS + 1 + 1 });
});

test('checkTree accepts a faithful copy and names each difference in one line', async (t) => {
  const root = makeTree(t);
  const m = await buildManifest(root, { blockSize: BS });
  const copy = `${root}-copy`;
  execFileSync('cp', ['-a', root, copy]); // what a replica's operator would do
  t.deepEqual(await checkTree(copy, m), { ok: true, problems: [] });

  const data = readFileSync(join(copy, 'usr/bin/plus-one'));
  data[BS + 7] ^= 1; // one byte of block 1
  writeFileSync(join(copy, 'usr/bin/plus-one'), data);
  writeFileSync(join(copy, 'etc/extra'), 'new');
  rmSync(join(copy, 'etc/hosts'));
  chmodSync(join(copy, 'etc/empty'), 0o600);
  rmSync(join(copy, 'bin'));
  symlinkSync('elsewhere', join(copy, 'bin'));
  const r = await checkTree(copy, m);
  t.false(r.ok);
  t.deepEqual(r.problems.sort(), [
    '/bin: symlink to "elsewhere", the manifest has "usr/bin"',
    `/etc/empty: mode 0600, the manifest has ${(statSync(join(root, 'etc/empty')).mode & 0o7777).toString(8).padStart(4, '0')}`,
    '/etc/extra: not in the manifest',
    '/etc/hosts: missing',
    '/usr/bin/plus-one: 1 of 4 blocks differ (first: block 1)',
  ]);
});

test('checkTree reports at most 20 problems and stops there', async (t) => {
  const root = makeTree(t);
  const m = await buildManifest(root, { blockSize: BS });
  for (let i = 0; i < 30; i++) writeFileSync(join(root, `extra-${i}`), 'x');
  const r = await checkTree(root, m);
  t.false(r.ok);
  t.is(r.problems.length, 20);
});

test('a file that is not what the walk saw is a MISMATCH; a grown file is reported; an aborted build stops', async (t) => {
  const root = makeTree(t);
  const buffers = new ChunkBuffers();
  const hash = (rel: string, size: number) => hashFileBlocks(join(root, rel), rel, size, BS, buffers, () => undefined);
  t.is((await hash('usr/bin/exact', 3 * BS)).length, 3 * 32);
  t.is((await t.throwsAsync(hash('usr/bin/exact', 3 * BS - 1), { instanceOf: ImageError }))?.code, 'MISMATCH');
  t.is((await t.throwsAsync(hash('bin', 7), { instanceOf: ImageError }))?.code, 'IO', 'a symlink is never opened');
  t.is((await t.throwsAsync(hash('fifo', 0), { instanceOf: ImageError }))?.code, 'MISMATCH', 'a fifo is never read');
  const controller = new AbortController();
  controller.abort(new Error('stopped by test'));
  await t.throwsAsync(buildManifest(root, { blockSize: BS, signal: controller.signal }), { message: 'stopped by test' });
  const m = await buildManifest(root, { blockSize: BS });
  writeFileSync(join(root, 'usr/bin/exact'), Buffer.alloc(3 * BS + 5, 0x41));
  const r = await checkTree(root, m);
  t.deepEqual(r.problems, [`/usr/bin/exact: ${3 * BS + 5} bytes, the manifest has ${3 * BS}`]);
});

test('names the manifest cannot hold are an ImageError, never skipped', async (t) => {
  const root = makeTree(t);
  writeFileSync(Buffer.concat([Buffer.from(`${root}/`), Buffer.from([0x62, 0xff, 0x62])]), 'not utf-8 name');
  const err = await t.throwsAsync(buildManifest(root, { blockSize: BS }), { instanceOf: ImageError });
  t.is(err?.code, 'BAD_NAME');
  const r = await checkTree(root, { blockSize: BS, entries: [{ path: '', type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0 }] });
  t.false(r.ok);
  t.regex(r.problems[0]!, /not valid UTF-8/);
});

test('a missing or non-directory root is an ImageError IO', async (t) => {
  const root = makeTree(t);
  t.is((await t.throwsAsync(buildManifest(join(root, 'nope')), { instanceOf: ImageError }))?.code, 'IO');
  t.is((await t.throwsAsync(buildManifest(join(root, 'etc/hosts')), { instanceOf: ImageError }))?.code, 'IO');
});

test('checkTree compares owners unless told to ignore them', async (t) => {
  const root = makeTree(t);
  const m = await buildManifest(root, { blockSize: BS });
  const copy = `${root}-copy`;
  execFileSync('cp', ['-a', root, copy]);
  const st = statSync(join(root, 'etc/hosts'));
  chownSync(join(copy, 'etc/hosts'), st.uid + 1, st.gid + 2);
  t.deepEqual((await checkTree(copy, m)).problems, [`/etc/hosts: owner ${st.uid + 1}:${st.gid + 2}, the manifest has ${st.uid}:${st.gid}`]);
  t.deepEqual(await checkTree(copy, m, { ignoreOwnership: true }), { ok: true, problems: [] });
});

test('files of several read chunks hash block by block like a direct computation', async (t) => {
  const root = makeTree(t);
  const sizes = { 'chunk-exact': CHUNK_BYTES, 'chunks-and-tail': 2 * CHUNK_BYTES + 12_345, 'chunk-less-one': CHUNK_BYTES - 1 };
  for (const [name, size] of Object.entries(sizes)) writeFileSync(join(root, name), randomBytes(size));
  for (const blockSize of [4096, 65536, 1 << 20]) {
    const ix = new ManifestIndex(await buildManifest(root, { blockSize }));
    for (const name of Object.keys(sizes)) {
      const data = readFileSync(join(root, name));
      const e = ix.entry(name)!;
      t.is(ix.blockCount(name), Math.ceil(data.length / blockSize));
      for (let i = 0; i < ix.blockCount(name); i++) {
        const want = createHash('sha256').update(data.subarray(i * blockSize, (i + 1) * blockSize)).digest();
        t.true(want.equals(e.blockHashes!.subarray(i * 32, (i + 1) * 32)), `${name} block ${i} at ${blockSize}`);
      }
    }
  }
});
