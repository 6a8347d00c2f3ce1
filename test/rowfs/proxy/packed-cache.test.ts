// The block cache's pack file: a main file of one short block (at most PACK_MAX_BYTES) is appended
// to one pack file instead of getting a data file of its own. Readable at once, kept across a
// reopen, never sent as a file range; bytes missing from the pack, or a pack made anew, make the
// file absent (fetched again), never wrong bytes; anything larger still goes to a data file.
// A lost pack tail, bytes changed in place, a failed or short pack write or a failed fdatasync
// never make one file read as another's bytes or as zeros.
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, openSync, readdirSync, rmSync, statSync, truncateSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockCache, PACK_MAX_BYTES, type PackIo } from '../../../rowfs/cache/block-cache.js';
import { pattern } from './fixture.js';
import { ManualClock } from '../../vnet/manual-clock.js';

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

const fill = (ch: string) => Buffer.alloc(100, ch);

test('a pack that lost its tail: the next file goes past every indexed entry, and a lost file reads as absent, not as the next one', async (t) => {
  const dir = tmp(t);
  const pack = join(dir, 'small-files.pack');
  let c = BlockCache.open(dir, BS);
  await c.writeRun('a', 0, fill('A'));
  await c.writeRun('b', 0, fill('B'));
  await c.close();
  truncateSync(pack, 100); // b's bytes never reached the disk (power loss), its entry did
  c = BlockCache.open(dir, BS);
  await c.writeRun('c', 0, fill('C'));
  await c.close();
  t.is(statSync(pack).size, 300, "c was appended past b's entry, not where it points");
  c = BlockCache.open(dir, BS);
  t.deepEqual(await c.readRange('a', 0, 100), fill('A'));
  t.is(await c.readRange('b', 0, 100), undefined, 'not C');
  t.false(c.has('b', 0));
  t.deepEqual(await c.readRange('c', 0, 100), fill('C'));
  t.deepEqual(await c.read('c', 0), fill('C'));
  await c.close();
});

test('a packed file whose bytes changed in the pack reads as absent (checksum), in part or whole', async (t) => {
  const dir = tmp(t);
  let c = BlockCache.open(dir, BS);
  await c.writeRun('a', 0, fill('A'));
  await c.writeRun('b', 0, fill('B'));
  await c.close();
  const fd = openSync(join(dir, 'small-files.pack'), 'r+');
  writeSync(fd, Buffer.from('X'), 0, 1, 150);
  closeSync(fd);
  c = BlockCache.open(dir, BS);
  t.is(await c.readRange('b', 0, 10), undefined, 'a range that misses the changed byte still checks the whole file');
  t.false(c.has('b', 0));
  t.is(await c.read('b', 0), undefined);
  t.deepEqual(await c.readRange('a', 0, 100), fill('A'));
  await c.close();
});

/** The pack written with writeSync, failures injected: `next` answers the coming writes or syncs in turn. */
function faultyPackIo(): { io: PackIo; writes: string[]; pieces: number[]; syncs: number; next: Array<'fail' | 'short' | 'sync-fails'>; settle(): Promise<void> } {
  const ops: Array<Promise<unknown>> = [];
  const track = <T>(p: Promise<T>): Promise<T> => (ops.push(p.catch(() => undefined)), p);
  const s = {
    writes: [] as string[],
    /** Buffers handed to each write. */
    pieces: [] as number[],
    syncs: 0,
    next: [] as Array<'fail' | 'short' | 'sync-fails'>,
    io: {
      write: (fd: number, pieces: Buffer[], position: number) =>
        track(
          (async () => {
            const data = Buffer.concat(pieces);
            s.writes.push(`${position}+${data.length}`);
            s.pieces.push(pieces.length);
            if (s.next[0] === 'fail') throw new Error(`EIO (injected) ${s.next.shift()}`);
            const bytes = s.next[0] === 'short' && s.next.shift() ? data.subarray(0, data.length >> 1) : data;
            return writeSync(fd, bytes, 0, bytes.length, position);
          })(),
        ),
      datasync: () =>
        track(
          (async () => {
            s.syncs++;
            if (s.next[0] === 'sync-fails') throw new Error(`EIO on fdatasync (injected) ${s.next.shift()}`);
          })(),
        ),
    },
    /** Waits for the injected operations, then for the cache's callbacks on them. */
    async settle(): Promise<void> {
      await Promise.all(ops);
      await new Promise((r) => setImmediate(r));
    },
  };
  return s;
}

for (const fault of ['fail', 'short', 'sync-fails'] as const) {
  test(`a pack write that ${fault === 'fail' ? 'fails' : fault === 'short' ? 'is short' : 'cannot be synced'}: its files read as absent, also once a later batch is written past them`, async (t) => {
    const dir = tmp(t);
    const clock = new ManualClock();
    const f = faultyPackIo();
    const c = BlockCache.open(dir, BS, clock, f.io);
    f.next.push(fault);
    await c.writeRun('a1', 0, fill('A'));
    await c.writeRun('a2', 0, fill('a'));
    t.deepEqual(await c.readRange('a1', 0, 100), fill('A'), 'readable before the write');
    await clock.advance(200);
    await f.settle();
    await c.writeRun('b', 0, fill('B'));
    await clock.advance(200);
    await f.settle();
    t.deepEqual(f.writes, ['0+200', '200+100'], 'one write per batch');
    for (const k of ['a1', 'a2']) {
      t.false(c.has(k, 0), `${k} absent`);
      t.is(await c.readRange(k, 0, 100), undefined, `${k}: not zeros`);
    }
    t.deepEqual(await c.readRange('b', 0, 100), fill('B'));
    await c.writeRun('a1', 0, fill('A'));
    t.deepEqual(await c.readRange('a1', 0, 100), fill('A'), 'fetched again, stored again');
    await c.close();
    const c2 = BlockCache.open(dir, BS);
    t.false(c2.has('a2', 0), 'never indexed');
    t.deepEqual(await c2.readRange('a1', 0, 100), fill('A'));
    t.deepEqual(await c2.readRange('b', 0, 100), fill('B'));
    await c2.close();
  });
}

test('packed files are fdatasynced before they are indexed, one sync per batch', async (t) => {
  const dir = tmp(t);
  const clock = new ManualClock();
  const f = faultyPackIo();
  const c = BlockCache.open(dir, BS, clock, f.io);
  for (let i = 0; i < 5; i++) await c.writeRun(`f${i}`, 0, fill(String(i)));
  await clock.advance(200);
  await f.settle();
  t.is(f.syncs, 1);
  t.deepEqual(f.pieces, [5], 'one write of the five files\' own buffers (no concatenation)');
  await c.writeRun('g', 0, fill('g'));
  await c.close();
  t.is(f.syncs, 2);
});

test('a packed file whose pack write is still on its way is not indexed by another flush', async (t) => {
  const dir = tmp(t);
  const clock = new ManualClock();
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const io: PackIo = {
    write: async (fd, pieces, position) => {
      await held;
      const data = Buffer.concat(pieces);
      return writeSync(fd, data, 0, data.length, position);
    },
    datasync: async () => undefined,
  };
  const c = BlockCache.open(dir, BS, clock, io);
  await c.writeRun('a', 0, fill('A'));
  await clock.advance(200); // the pack write starts and waits
  await c.write('other', 0, Buffer.alloc(BS, 1));
  await c.write('a', 0, fill('A')); // 'a' dirty again (the block stored once more) while its packed bytes are unwritten
  await clock.advance(200);
  const index = (c as unknown as { index: { get(k: string): unknown; committed: Promise<unknown> } }).index;
  await index.committed;
  t.truthy(index.get('other'), 'the second flush was written');
  t.is(index.get('a'), undefined, 'a crash now must not leave an entry pointing at unwritten bytes');
  release();
  await c.close();
  const c2 = BlockCache.open(dir, BS);
  t.deepEqual(await c2.readRange('a', 0, 100), fill('A'));
  await c2.close();
});

test('a flush of more files than one writev takes (IOV_MAX, 1,024) lands them all, in order, across a reopen', async (t) => {
  const dir = tmp(t);
  const clock = new ManualClock();
  const c = BlockCache.open(dir, BS, clock);
  const files = 1100;
  const content = (i: number) => pattern(100 + (i % 7), i);
  for (let i = 0; i < files; i++) await c.writeRun(`k${i}`, 0, content(i));
  await clock.advance(200);
  await c.close();
  const c2 = BlockCache.open(dir, BS);
  for (let i = 0; i < files; i++) {
    if (!c2.has(`k${i}`, 0)) t.fail(`k${i} not indexed`);
    t.deepEqual(await c2.readRange(`k${i}`, 0, 200), content(i), `k${i}`);
  }
  await c2.close();
});

/** Counts the reads of a cache's LMDB index. */
function countIndexReads(c: BlockCache): { reads: number } {
  const index = (c as unknown as { index: { get(k: string): unknown } }).index;
  const counter = { reads: 0 };
  const get = index.get.bind(index);
  index.get = (k: string) => (counter.reads++, get(k));
  return counter;
}

test('a cache whose index was empty at open never reads it for a new key; a reopened one does, and finds what was stored', async (t) => {
  const dir = tmp(t);
  const c1 = BlockCache.open(dir, BS);
  const n1 = countIndexReads(c1);
  t.false(c1.has('never', 0));
  await c1.writeRun('small', 0, fill('s'));
  await c1.write('big', 0, Buffer.alloc(BS, 7));
  t.true(c1.has('small', 0));
  t.is(n1.reads, 0, 'every entry of a cache opened empty is in memory');
  await c1.close();
  const c2 = BlockCache.open(dir, BS);
  const n2 = countIndexReads(c2);
  t.true(c2.has('big', 0));
  t.deepEqual(await c2.readRange('small', 0, 100), fill('s'));
  t.false(c2.has('never', 0));
  t.is(n2.reads, 3, 'one read per key the reopened cache had not seen');
  await c2.close();
});

test('index entries in memory are bounded: the least recently used clean ones are dropped and read back from the index', async (t) => {
  const dir = tmp(t);
  const CAP = 8;
  const clock = new ManualClock();
  const c = BlockCache.open(dir, BS, clock, undefined, undefined, CAP);
  t.teardown(() => c.close());
  const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
  // Whole-block files (data files, not the pack) and small packed ones alike.
  for (const [i, key] of keys.entries()) {
    if (i % 2) await c.writeRun(key, 0, Buffer.alloc(BS, i));
    else await c.writeRun(key, 0, Buffer.alloc(100, i));
  }
  // Dirty or unwritten entries are never dropped: right after the writes the bound may be exceeded.
  t.true(c.memEntries > CAP, 'nothing dropped while every entry is ahead of the index');
  await clock.advance(200); // the index flush (INDEX_FLUSH_MS) lands them
  await new Promise((r) => setTimeout(r, 100)); // the pack's write and the index puts
  t.false(c.has('probe', 0)); // a new entry makes room: the clean ones over the bound go
  t.true(c.memEntries <= CAP, `${c.memEntries} entries in memory`);
  // Every file, dropped or not, still reads back whole (from the index and the data).
  for (const [i, key] of keys.entries()) {
    t.true(c.has(key, 0), key);
    const bytes = await c.readRange(key, 0, i % 2 ? BS : 100);
    t.deepEqual(bytes, Buffer.alloc(i % 2 ? BS : 100, i), key);
  }
  t.true(c.memEntries <= CAP, `${c.memEntries} entries in memory after reading all`);
  t.false(c.has('never-written', 0), 'a key never stored is not cached (the index is read once entries were dropped)');
});
