// MainReader over a fake main server (unit test of pure fetch logic): concurrent readers of a block
// share one fetch, cached blocks are never fetched again (even by a new reader after a restart),
// sequential readers get read-ahead as large as their streak and random readers none, short final
// blocks are exact.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockCache } from '../../../rowfs/cache/block-cache.js';
import { Counters } from '../../../rowfs/counters.js';
import { Nfs3Status } from '../../../rowfs/nfs3/types.js';
import type { Backend } from '../../../rowfs/proxy/backend.js';
import { MainReader, REPLY_HEADER_ROOM_BYTES } from '../../../rowfs/proxy/main-reader.js';
import { BufferPool, type HeldBytes } from '../../../rowfs/rpc/buffer-pool.js';
import fc from 'fast-check';
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

test('the read-ahead window is the sequential streak so far: a reader that stops leaves at most what it read fetched beyond it; per-file counters show both', async (t) => {
  const s = setup(t);
  s.counters.trackFiles(10);
  for (let b = 0; b < 3; b++) await s.reader.range(FH, b * BS, BS, FILE.length);
  await waitCached(s.cache, 6);
  await new Promise((r) => setTimeout(r, 30)); // room for any (wrong) further read-ahead
  const fetched = s.counters.bytesFromMain;
  t.true(fetched > 3 * BS, `blocks ahead were prefetched (${fetched} B)`);
  t.true(fetched <= 6 * BS, `at most the 3 blocks read fetched beyond them, not the whole ${FILE.length} B file (${fetched} B)`);
  t.deepEqual(s.counters.snapshot().files, { '010203': [3 * BS, fetched] });
  // Read on to the end: the file is fetched exactly once, nothing past its end.
  for (let b = 3; b <= 10; b++) await s.reader.range(FH, b * BS, BS, FILE.length);
  await waitCached(s.cache, 11);
  t.is(s.counters.bytesFromMain, FILE.length);
  t.deepEqual(s.counters.snapshot().files, { '010203': [FILE.length, FILE.length] });
  await s.cache.close();
});

// ---- pooled buffers ----

/** Offset of READ data inside a reply record (RPC header + status + attributes + count/eof/length). */
const DATA_AT = 128;

/**
 * A main server that, like the RPC client with `replyInto`, assembles each reply in the caller's
 * buffer: it first scribbles over the whole buffer (as a new reply would), then writes the data.
 * A reader still looking at a buffer the pool handed out again would see the scribbles.
 */
function pooledMain(file: Buffer, counters: Counters, delayMs = () => 1) {
  let scribble = 0;
  let intoUsed = 0;
  const backend = {
    role: 'main',
    async ok(name: string, args: { offset: bigint; count: number }, _cred?: unknown, opts?: { replyInto?: Uint8Array }) {
      if (name !== 'READ') throw new Error(`unexpected ${name}`);
      counters.call('main', 'READ');
      const into = opts?.replyInto;
      if (into) into.fill(++scribble & 0xff); // the reply starts arriving into the buffer
      await new Promise((r) => setTimeout(r, delayMs()));
      const off = Number(args.offset);
      const src = file.subarray(Math.min(off, file.length), Math.min(off + args.count, file.length));
      counters.bytesFromMain += src.length;
      let data: Uint8Array = Buffer.from(src);
      if (into && DATA_AT + src.length <= into.length) {
        into.set(src, DATA_AT);
        data = into.subarray(DATA_AT, DATA_AT + src.length);
        intoUsed++;
      }
      return { status: Nfs3Status.OK, data, eof: off + args.count >= file.length, count: data.length };
    },
  } as unknown as Backend;
  return { backend, intoUsed: () => intoUsed };
}

async function settle(reader: MainReader): Promise<void> {
  const busy = () => reader.pool.stats.inUse > 0 || reader.memory().prefetchBytes > 0 || reader.memory().pendingCacheBytes > 0;
  for (let i = 0; i < 300 && busy(); i++) await new Promise((r) => setTimeout(r, 10));
}

test('pooled buffers are never reused while a reader holds their bytes (random reads and releases)', async (t) => {
  const blocks = 48;
  const file = pattern(blocks * BS - 77, 9);
  const dir = mkdtempSync(join(tmpdir(), 'rowfs-pool-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ block: fc.nat(blocks - 1), len: fc.integer({ min: 1, max: 3 * BS }), hold: fc.nat(6), seq: fc.boolean() }), { minLength: 5, maxLength: 40 }),
      async (ops) => {
        const counters = new Counters();
        const cacheDir = mkdtempSync(join(dir, 'c-'));
        const cache = BlockCache.open(cacheDir, BS);
        const { backend, intoUsed } = pooledMain(file, counters, () => Math.floor(Math.random() * 3));
        // 3 buffers of 2 blocks: fetches cycle through them constantly.
        const pool = new BufferPool(2 * BS + REPLY_HEADER_ROOM_BYTES, 3);
        const reader = new MainReader(backend, cache, counters, BS, 2 * BS, pool);
        const held: Array<{ got: HeldBytes; off: number; len: number; until: number }> = [];
        const check = (h: { got: HeldBytes; off: number; len: number }) => {
          const want = file.subarray(Math.min(h.off, file.length), Math.min(h.off + h.len, file.length));
          if (!h.got.data.equals(want)) throw new Error(`bytes at ${h.off}+${h.len} changed while held`);
        };
        let last = 0;
        const running: Array<Promise<void>> = [];
        for (let i = 0; i < ops.length; i++) {
          const op = ops[i]!;
          const off = op.seq ? last : op.block * BS + (op.len % 97);
          last = off + op.len;
          running.push(
            reader.range(FH, off, op.len, file.length).then((got) => {
              check({ got, off, len: op.len });
              held.push({ got, off, len: op.len, until: i + op.hold });
            }),
          );
          if (i % 3 === 2) await Promise.all(running.splice(0));
          // Release (after re-checking) what its holder is done with.
          for (let k = held.length - 1; k >= 0; k--) {
            if (held[k]!.until > i) continue;
            check(held[k]!);
            held[k]!.got.release();
            held.splice(k, 1);
          }
        }
        await Promise.all(running);
        for (const h of held) {
          check(h);
          h.got.release();
        }
        await settle(reader);
        await cache.close();
        if (pool.stats.inUse !== 0) throw new Error(`${pool.stats.inUse} buffers never returned`);
        if (pool.stats.created > 3) throw new Error('pool grew past its cap');
        return intoUsed() > 0;
      },
    ),
    { numRuns: 40 },
  );
  t.pass();
});

test('payload memory is bounded: many sequential and random readers never take more than the pool, and everything comes back', async (t) => {
  const s = setup(t);
  await s.cache.close();
  const files = Array.from({ length: 6 }, (_, i) => pattern(40 * BS + i * 100, 20 + i));
  const counters = new Counters();
  const cache = BlockCache.open(mkdtempSync(join(s.dir, 'b-')), BS);
  const pool = new BufferPool(4 * BS + REPLY_HEADER_ROOM_BYTES, 8);
  const mains = files.map((f) => pooledMain(f, counters).backend);
  // One reader per file (the main reader keys blocks by handle; each fake serves one file).
  const readers = mains.map((m) => new MainReader(m, cache, counters, BS, 4 * BS, pool));
  const work = readers.map(async (reader, i) => {
    const f = files[i]!;
    const seq = i % 2 === 0;
    for (let k = 0; k < 40; k++) {
      const off = seq ? k * BS : ((k * 7919) % 40) * BS + 13;
      const got = await reader.range(new Uint8Array([i]), off, BS, f.length);
      t.true(got.data.equals(f.subarray(off, Math.min(off + BS, f.length))), `file ${i} at ${off}`);
      t.true(pool.stats.inUse <= pool.maxBuffers);
      got.release();
    }
  });
  await Promise.all(work);
  for (const r of readers) await settle(r);
  t.true(pool.stats.created <= 8, `created ${pool.stats.created}`);
  t.true(pool.stats.highWater <= 8);
  t.is(pool.stats.inUse, 0, 'every buffer back in the pool');
  t.true(pool.stats.acquired > pool.stats.created, 'buffers were reused');
  t.true(readers.every((r) => r.memory().prefetchBytes === 0 && r.memory().pendingCacheBytes === 0));
  await cache.close();
});
