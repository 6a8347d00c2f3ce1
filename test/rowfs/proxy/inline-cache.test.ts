// The block cache's inline files: a main file of one short block (at most INLINE_MAX_BYTES) is kept
// in the cache's LMDB environment instead of a data file of its own. Readable at once, kept across
// a reopen, never sent as a file range; a lost record makes the file absent (fetched again), never
// wrong bytes; anything larger still goes to a data file.
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { BlockCache, INLINE_MAX_BYTES } from '../../../rowfs/cache/block-cache.js';
import { pattern } from './fixture.js';

const BS = 64 * 1024;

function tmp(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'rowfs-inline-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const dataFiles = (dir: string) => readdirSync(join(dir, 'blocks')).length;

test('a one-block file is cached inline: no data file, exact ranges before and after a reopen', async (t) => {
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

test('files past INLINE_MAX_BYTES, of a whole block, or starting past block 0 get data files', async (t) => {
  const dir = tmp(t);
  const c = BlockCache.open(dir, BS);
  const over = pattern(INLINE_MAX_BYTES + 1, 4);
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

test('many inline files in one flush; a lost inline record reads as absent, never as other bytes', async (t) => {
  const dir = tmp(t);
  const c1 = BlockCache.open(dir, BS);
  const files = Array.from({ length: 300 }, (_, i) => pattern(1 + ((i * 97) % INLINE_MAX_BYTES), i + 10));
  await Promise.all(files.map((f, i) => c1.writeRun(`f${i}`, 0, f)));
  t.true((await Promise.all(files.map((f, i) => c1.readRange(`f${i}`, 0, f.length)))).every((b, i) => b!.equals(files[i]!)));
  await c1.close();
  // Lose one record behind the cache's back (as a write that never committed would).
  const env = open({ path: join(dir, 'index'), maxDbs: 3 });
  env.openDB<Buffer, string>({ name: 'inline', encoding: 'binary' }).removeSync('f7');
  await env.close();
  const c2 = BlockCache.open(dir, BS);
  t.true(c2.has('f7', 0), 'the index still says cached');
  t.is(await c2.readRange('f7', 0, files[7]!.length), undefined);
  t.false(c2.has('f7', 0), 'now absent: the next read fetches it from main');
  await c2.writeRun('f7', 0, files[7]!);
  t.deepEqual(await c2.readRange('f7', 0, files[7]!.length), files[7]);
  t.deepEqual(await c2.readRange('f8', 0, files[8]!.length), files[8]);
  await c2.close();
});
