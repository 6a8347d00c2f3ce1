// The block cache's pack file: a main file of one short block (at most PACK_MAX_BYTES) is appended
// to one pack file instead of getting a data file of its own. Readable at once, kept across a
// reopen, never sent as a file range; bytes missing from the pack, or a pack made anew, make the
// file absent (fetched again), never wrong bytes; anything larger still goes to a data file.
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockCache, PACK_MAX_BYTES } from '../../../rowfs/cache/block-cache.js';
import { pattern } from './fixture.js';

const BS = 64 * 1024;

function tmp(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'rowfs-packed-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const dataFiles = (dir: string) => readdirSync(join(dir, 'blocks')).length;

test('a one-block file is packed: no data file of its own, exact ranges before and after a reopen', async (t) => {
  const dir = tmp(t);
  const c1 = BlockCache.open(dir, BS);
  const small = pattern(4096 + 17, 3);
  const pooled = Buffer.from(small);
  await c1.writeRun('small', 0, pooled);
  pooled.fill(0); // the caller's (pooled) buffer is reused at once: the cache kept its own copy
  t.true(c1.has('small', 0));
  t.false(c1.has('small', 1));
  t.deepEqual(await c1.readRange('small', 0, small.length), small);
  t.deepEqual(await c1.readRange('small', 100, 50), small.subarray(100, 150));
  t.deepEqual(await c1.readRange('small', 4000, 4096), small.subarray(4000), 'cut at the end of the file');
  t.deepEqual(await c1.read('small', 0), small);
  t.is(await c1.pinRange('small', 0, small.length), undefined, 'never a file range');
  t.is(dataFiles(dir), 0);
  await c1.close();
  const c2 = BlockCache.open(dir, BS);
  t.true(c2.has('small', 0));
  t.deepEqual(await c2.readRange('small', 10, 4000), small.subarray(10, 4010));
  t.is(dataFiles(dir), 0);
  await c2.close();
});

test('files past PACK_MAX_BYTES, of a whole block, or starting past block 0 get data files', async (t) => {
  const dir = tmp(t);
  const c = BlockCache.open(dir, BS);
  const over = pattern(PACK_MAX_BYTES + 1, 4);
  const whole = pattern(BS, 5);
  const tail = pattern(100, 6);
  await c.writeRun('over', 0, over);
  await c.writeRun('whole', 0, whole);
  await c.writeRun('tail', 3, tail);
  t.deepEqual(await c.readRange('over', 0, over.length), over);
  t.deepEqual(await c.readRange('whole', 0, BS), whole);
  t.deepEqual(await c.readRange('tail', 3 * BS, 100), tail);
  t.is(dataFiles(dir), 3);
  await c.close();
});

test('many packed files in one flush; a truncated or re-made pack file reads as absent, never as other bytes', async (t) => {
  const dir = tmp(t);
  const c1 = BlockCache.open(dir, BS);
  const files = Array.from({ length: 300 }, (_, i) => pattern(1 + ((i * 97) % PACK_MAX_BYTES), i + 10));
  await Promise.all(files.map((f, i) => c1.writeRun(`f${i}`, 0, f)));
  t.true((await Promise.all(files.map((f, i) => c1.readRange(`f${i}`, 0, f.length)))).every((b, i) => b!.equals(files[i]!)));
  await c1.close();
  const pack = join(dir, 'small-files.pack');
  t.is(statSync(pack).size, files.reduce((n, f) => n + f.length, 0));

  // Cut the last file short (a write that never reached the file).
  truncateSync(pack, statSync(pack).size - 1);
  const c2 = BlockCache.open(dir, BS);
  t.true(c2.has('f299', 0), 'the index still says cached');
  t.is(await c2.readRange('f299', 0, files[299]!.length), undefined);
  t.false(c2.has('f299', 0), 'now absent: the next read fetches it from main');
  await c2.writeRun('f299', 0, files[299]!);
  t.deepEqual(await c2.readRange('f299', 0, files[299]!.length), files[299]);
  t.deepEqual(await c2.readRange('f8', 0, files[8]!.length), files[8]);
  await c2.close();

  // A pack file deleted and made anew: new files land at its start, where old entries point.
  rmSync(pack);
  const c3 = BlockCache.open(dir, BS);
  await c3.writeRun('new', 0, pattern(5000, 99));
  for (const i of [0, 1, 7]) {
    t.false(c3.has(`f${i}`, 0), `f${i} absent`);
    t.is(await c3.readRange(`f${i}`, 0, files[i]!.length), undefined);
  }
  t.deepEqual(await c3.readRange('new', 0, 5000), pattern(5000, 99));
  await c3.close();
});
