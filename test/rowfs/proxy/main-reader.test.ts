// MainReader over a fake main server (unit test of pure fetch logic): concurrent readers of a block
// share one fetch, cached blocks are never fetched again (even by a new reader after a restart),
// sequential readers get read-ahead and random readers do not, short final blocks are exact.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockCache } from '../../../rowfs/cache/block-cache.js';
import { Counters } from '../../../rowfs/counters.js';
import { Nfs3Status } from '../../../rowfs/nfs3/types.js';
import type { Backend } from '../../../rowfs/proxy/backend.js';
import { MainReader } from '../../../rowfs/proxy/main-reader.js';
import { pattern } from './fixture.js';

const BS = 4096;
const FILE = pattern(10 * BS + 123, 5);
const FH = new Uint8Array([1, 2, 3]);

/** A main server holding FILE; records every READ (offset, count). */
function fakeMain(counters: Counters) {
  const reads: Array<[number, number]> = [];
  const backend = {
    role: 'main',
    async ok(name: string, args: { offset: bigint; count: number }) {
      if (name !== 'READ') throw new Error(`unexpected ${name}`);
      counters.call('main', 'READ');
      await new Promise((r) => setTimeout(r, 5));
      const off = Number(args.offset);
      reads.push([off, args.count]);
      const data = FILE.subarray(Math.min(off, FILE.length), Math.min(off + args.count, FILE.length));
      counters.bytesFromMain += data.length;
      return { status: Nfs3Status.OK, data, eof: off + args.count >= FILE.length, count: data.length };
    },
  } as unknown as Backend;
  return { backend, reads };
}

/** Waits (bounded) until `n` blocks of FH are in the cache: cache writes complete behind replies. */
async function waitCached(cache: BlockCache, n: number): Promise<void> {
  for (let i = 0; i < 200 && cache.cachedBlocks('010203') < n; i++) await new Promise((r) => setTimeout(r, 10));
}

function setup(t: { teardown(fn: () => void | Promise<void>): void }, dir?: string) {
  const d = dir ?? mkdtempSync(join(tmpdir(), 'rowfs-mainreader-'));
  if (!dir) t.teardown(() => rmSync(d, { recursive: true, force: true }));
  const counters = new Counters();
  const cache = BlockCache.open(d, BS);
  const { backend, reads } = fakeMain(counters);
  return { dir: d, counters, cache, reads, reader: new MainReader(backend, cache, counters, BS, 64 * 1024) };
}

test('concurrent readers of the same blocks share one fetch; a second read is served from the cache', async (t) => {
  const s = setup(t);
  const results = await Promise.all(Array.from({ length: 10 }, () => s.reader.range(FH, 100, 2 * BS)));
  for (const r of results) t.true(r.data.equals(FILE.subarray(100, 100 + 2 * BS)));
  t.is(s.counters.bytesFromMain, 3 * BS, 'blocks 0..2 fetched once');
  await waitCached(s.cache, 3);
  const again = await s.reader.range(FH, 0, 3 * BS);
  t.true(again.data.equals(FILE.subarray(0, 3 * BS)), 'content');
  t.is(s.counters.bytesFromMain, 3 * BS);
  t.true(s.counters.cacheHitBlocks >= 3, `cache hits ${s.counters.cacheHitBlocks}`);
  await s.cache.close();
});

test('the final short block is exact, and the cache survives a restart', async (t) => {
  const s = setup(t);
  const tail = await s.reader.range(FH, 10 * BS, BS);
  t.is(tail.data.length, 123);
  t.true(tail.data.equals(FILE.subarray(10 * BS)));
  await waitCached(s.cache, 1);
  await s.cache.close();
  const s2 = setup(t, s.dir);
  const back = await s2.reader.range(FH, 10 * BS, BS);
  t.true(back.data.equals(FILE.subarray(10 * BS)));
  t.is(s2.counters.bytesFromMain, 0, 'nothing fetched after the restart');
  await s2.cache.close();
});

test('sequential readers get read-ahead, random readers fetch only their blocks', async (t) => {
  const seq = setup(t);
  await seq.reader.range(FH, 0, BS, FILE.length);
  await seq.reader.range(FH, BS, BS, FILE.length); // continues where the last read ended
  await waitCached(seq.cache, 4);
  t.true(seq.counters.bytesFromMain > 2 * BS, 'blocks ahead were prefetched');
  const before = seq.reads.length;
  const next = await seq.reader.range(FH, 2 * BS, BS, FILE.length);
  t.true(next.data.equals(FILE.subarray(2 * BS, 3 * BS)));
  t.is(seq.reads.length, before, 'the next block came from the prefetch');
  await seq.cache.close();

  const rnd = setup(t);
  await rnd.reader.range(FH, 7 * BS + 5, 10, FILE.length);
  await rnd.reader.range(FH, 2 * BS + 5, 10, FILE.length);
  await rnd.reader.range(FH, 5 * BS, 100, FILE.length);
  await waitCached(rnd.cache, 3);
  await new Promise((r) => setTimeout(r, 30)); // room for any (wrong) read-ahead to show up
  t.is(rnd.counters.bytesFromMain, 3 * BS, 'exactly the three touched blocks');
  await rnd.cache.close();
});
