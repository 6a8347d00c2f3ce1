// Small files fetched ahead of a client reading a listed main directory's files one after another:
// in listing, text or numeric name order, and only then. SmallFileAhead's decisions are checked
// with a recording fetch first (orders, streak length, window, bounds); then a proxy over a real
// main server (the embedded NFSv3 server) and our client: files read in numeric order come from
// the cache, each fetched from main once, while shuffled, reverse and every-other-file readers
// make the proxy fetch exactly the files they read, nothing more.
import test from 'ava';
import fc from 'fast-check';
import { AHEAD_BATCH, AHEAD_FILES, AHEAD_INFLIGHT, numericNameOrder, SmallFileAhead, STREAK_FILES, type DirFile } from '../../../rowfs/proxy/small-file-ahead.js';
import { nameCookie } from '../../../rowfs/nfs3/dir-cookies.js';
import type { RowfsProxy } from '../../../rowfs/proxy/proxy.js';
import { lookup, pattern, proxyOverEmbeddedMain, readAll } from './fixture.js';

const DIR = 7;
const files = (n: number, size = (_i: number) => 4096): DirFile[] => Array.from({ length: n }, (_, i) => ({ vid: 100 + i, name: `f${i}`, size: size(i) }));

/** A SmallFileAhead whose fetches are recorded (and settle at once unless `hold`). */
function recording(n: number, size?: (i: number) => number, hold = false) {
  const fetched: number[] = [];
  const ahead = new SmallFileAhead(65536, (vid) => {
    fetched.push(vid - 100);
    return hold ? new Promise(() => undefined) : Promise.resolve();
  });
  ahead.noteDirectory(DIR, files(n, size));
  return { ahead, fetched, read: (i: number) => ahead.noteRead(DIR, 100 + i) };
}

const settle = () => new Promise((r) => setImmediate(r));

test('numericNameOrder: digit runs compare as numbers, the rest as text', (t) => {
  const names = ['f10', 'f9', 'f010', 'f1', 'g', 'f', 'f2a', 'f2', 'f0002b', 'a100b2', 'a100b10'];
  t.deepEqual([...names].sort(numericNameOrder), ['a100b2', 'a100b10', 'f', 'f1', 'f2', 'f2a', 'f0002b', 'f9', 'f10', 'f010', 'g']);
  fc.assert(
    fc.property(fc.nat(1e9), fc.nat(1e9), fc.string({ maxLength: 4 }), (a, b, tail) => {
      const c = numericNameOrder(`x${a}${tail.replace(/\d/g, '')}`, `x${b}${tail.replace(/\d/g, '')}`);
      return Math.sign(c) === Math.sign(a - b);
    }),
  );
});

test('numeric order: nothing until a streak of STREAK_FILES, then a window that grows with it, up to AHEAD_FILES, topped up in batches', async (t) => {
  const { fetched, read } = recording(40);
  for (let i = 0; i < STREAK_FILES - 1; i++) read(i);
  t.deepEqual(fetched, [], 'no streak yet');
  read(STREAK_FILES - 1);
  t.deepEqual(fetched, [STREAK_FILES], 'one file ahead');
  for (let i = STREAK_FILES; i < 30; i++) {
    const before = fetched.length;
    read(i);
    await settle();
    const window = Math.min(AHEAD_FILES, i + 1 - STREAK_FILES + 1);
    const furthest = Math.max(...fetched);
    t.true(furthest <= i + window, `after file ${i}: never more than the streak allows`);
    t.true(furthest >= i + 1, `after file ${i}: the next file is fetched ahead`);
    const added = fetched.length - before;
    if (window === AHEAD_FILES && i >= 2 * AHEAD_FILES) t.true(added === 0 || added === AHEAD_BATCH, `after file ${i}: ${added} fetched at once`);
  }
  t.deepEqual(fetched, Array.from({ length: fetched.length }, (_, k) => STREAK_FILES + k), 'each file once, in order');
  for (let i = 30; i < 40; i++) read(i);
  t.is(Math.max(...fetched), 39, 'up to the last file');
});

test('text and listing orders are followed too', async (t) => {
  const byText = files(30).sort((a, b) => (a.name < b.name ? -1 : 1)).map((f) => f.vid - 100); // f0 f1 f10 f11 ...
  const byCookie = files(30).sort((a, b) => nameCookie(a.name) - nameCookie(b.name)).map((f) => f.vid - 100);
  for (const order of [byText, byCookie]) {
    const r = recording(30);
    for (const i of order.slice(0, 12)) {
      r.read(i);
      await settle();
    }
    // Fetched: the files after the first STREAK_FILES, in that order, up to at most the window past the 12th.
    t.true(r.fetched.length >= 12 - STREAK_FILES + 1);
    t.deepEqual(r.fetched, order.slice(STREAK_FILES, STREAK_FILES + r.fetched.length));
    t.true(r.fetched.length <= 12 + Math.min(AHEAD_FILES, 12 - STREAK_FILES + 1) - STREAK_FILES);
  }
});

test('shuffled, reverse, every-other-file and repeated readers never fetch ahead', (t) => {
  const n = 60;
  const orders: Record<string, number[]> = {
    reverse: Array.from({ length: n }, (_, i) => n - 1 - i),
    everyOther: Array.from({ length: n / 2 }, (_, i) => 2 * i),
    stride7: Array.from({ length: n }, (_, i) => (i * 7) % n),
    sameFile: Array.from({ length: 20 }, () => 3),
  };
  fc.assert(
    fc.property(fc.shuffledSubarray(Array.from({ length: n }, (_, i) => i), { minLength: n, maxLength: n }), (perm) => {
      // A random order may hold a short run in one of the orders by chance: what it fetches is
      // bounded by its runs; only a run of STREAK_FILES starts anything.
      const r = recording(n);
      for (const i of perm) r.read(i);
      return r.fetched.length <= n - STREAK_FILES;
    }),
    { numRuns: 50 },
  );
  for (const [name, order] of Object.entries(orders)) {
    const r = recording(n);
    for (const i of order) r.read(i);
    t.deepEqual(r.fetched, [], name);
  }
});

test('large and empty files are not fetched but keep the streak; fetches in flight are capped; a changed directory is forgotten', async (t) => {
  const sized = recording(30, (i) => (i % 5 === 0 ? 1 << 20 : i % 7 === 0 ? 0 : 100));
  for (let i = 0; i < 20; i++) sized.read(i);
  t.true(sized.fetched.length > 0);
  t.deepEqual(sized.fetched.filter((i) => i % 5 === 0 || i % 7 === 0), [], 'only files of one block with data');
  const held = recording(40, undefined, true);
  for (let i = 0; i < 40; i++) held.read(i);
  t.is(held.fetched.length, AHEAD_INFLIGHT, 'at most AHEAD_INFLIGHT at once');
  const forgotten = recording(40);
  forgotten.ahead.forget(DIR);
  for (let i = 0; i < 20; i++) forgotten.read(i);
  t.deepEqual(forgotten.fetched, []);
});

const SMALL = 40;
const small = (i: number) => pattern(3000 + i, 50 + i);

async function proxyWithSmallFiles(t: Parameters<typeof proxyOverEmbeddedMain>[0], ahead = true) {
  const tree: Record<string, Buffer> = {};
  for (const d of ['inorder', 'shuffled', 'reverse', 'other']) for (let i = 0; i < SMALL; i++) tree[`${d}/s${i}`] = small(i);
  const p = await proxyOverEmbeddedMain(t, tree, { smallFileAhead: ahead });
  const ex = await p.open();
  t.teardown(() => ex.close());
  return { ...p, ex };
}

const mainReads = (proxy: RowfsProxy) => proxy.counters.snapshot().main['READ'] ?? 0;

/** Reads files `order` of directory `dir` one after another (LOOKUP, READ each), checking their bytes. */
async function readFiles(t: Parameters<typeof proxyOverEmbeddedMain>[0], ex: Awaited<ReturnType<typeof proxyWithSmallFiles>>['ex'], dirName: string, order: number[]) {
  const dir = await lookup(ex, ex.root, dirName);
  for (const i of order) t.deepEqual(await readAll(ex, await lookup(ex, dir, `s${i}`)), small(i), `${dirName}/s${i}`);
}

test('through the proxy: files read in numeric order come from the cache, each fetched from main once; other orders fetch only what they read', async (t) => {
  const { proxy, ex, faults } = await proxyWithSmallFiles(t);
  const inOrder = Array.from({ length: SMALL }, (_, i) => i);
  const hits0 = proxy.counters.snapshot().cache.hitBlocks;
  await readFiles(t, ex, 'inorder', inOrder);
  t.is(mainReads(proxy), SMALL, 'every file fetched from main once');
  t.true(proxy.smallFileAheadStats!.fetched >= SMALL - 2 * STREAK_FILES, `fetched ahead: ${proxy.smallFileAheadStats!.fetched}`);
  // Each file came from main once, most of them fetched ahead: the client's READs of those found
  // them cached or joined the fetch under way.
  t.true(proxy.counters.snapshot().cache.hitBlocks - hits0 > 0, 'some in-order reads were cache hits');

  const shuffled = [...inOrder].sort((a, b) => ((a * 13) % SMALL) - ((b * 13) % SMALL));
  for (const [dir, order] of [['shuffled', shuffled], ['reverse', [...inOrder].reverse()], ['other', inOrder.filter((i) => i % 2 === 0)]] as const) {
    const before = mainReads(proxy);
    const aheadBefore = proxy.smallFileAheadStats!.fetched;
    await readFiles(t, ex, dir, order);
    t.is(mainReads(proxy) - before, order.length, `${dir}: one main READ per file read, none ahead`);
    t.is(proxy.smallFileAheadStats!.fetched, aheadBefore, dir);
  }
  t.deepEqual(faults, []);
});

test('through the proxy with smallFileAhead off: one main READ per file, in any order', async (t) => {
  const { proxy, ex } = await proxyWithSmallFiles(t, false);
  await readFiles(t, ex, 'inorder', Array.from({ length: SMALL }, (_, i) => i));
  t.is(mainReads(proxy), SMALL);
  t.is(proxy.smallFileAheadStats, undefined);
});
