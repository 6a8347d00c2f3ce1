// Boot-trace prefetch as logic (fake resolve and fetch, a manual clock): it fetches in the trace's
// order with bounded concurrency and never more than maxAheadBytes past the client; it counts hits
// and waste; and it stops when the client reads other blocks, or stops following the trace.
import test from 'ava';
import { TracePrefetcher } from '../../../rowfs/proxy/trace-prefetch.js';
import { Counters } from '../../../rowfs/counters.js';
import { ManualClock } from '../../vnet/manual-clock.js';

function setup(runs: Array<{ path: string; first: number; count: number }>, o: { maxAheadBytes?: number; idleStopMs?: number; divergeBlocks?: number } = {}) {
  const clock = new ManualClock();
  const counters = new Counters();
  const fetched: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const p = new TracePrefetcher({
    runs,
    ...o,
    blockSize: 1,
    concurrency: 2,
    counters,
    clock,
    keyOf: (fh) => Buffer.from(fh).toString(),
    resolve: async (path) => (path === 'gone' ? undefined : new Uint8Array(Buffer.from(path))),
    fetch: async (fh, first, last) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setImmediate(r));
      inFlight--;
      const out = [];
      for (let b = first; b <= last; b++) {
        fetched.push(`${Buffer.from(fh).toString()}:${b}`);
        out.push(b);
      }
      return out;
    },
  });
  return { p, clock, counters, fetched, maxInFlight: () => maxInFlight };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

test('fetches the whole trace in order, two pieces at a time; the client reading it all leaves no waste', async (t) => {
  const s = setup([{ path: 'a', first: 0, count: 20 }, { path: 'gone', first: 0, count: 3 }, { path: 'b', first: 5, count: 2 }]);
  await s.p.done;
  t.deepEqual(s.fetched, [...Array.from({ length: 20 }, (_, i) => `a:${i}`), 'b:5', 'b:6']);
  t.is(s.maxInFlight(), 2);
  s.p.clientRead('a', 0, 19);
  s.p.clientRead('b', 5, 6);
  t.like(s.counters.prefetch, { tracedBlocks: 25, fetchedBlocks: 22, hitBlocks: 22, wasteBlocks: 0, stopped: 'trace done' });
});

test('never more than maxAheadBytes past the client; gives up when the client stops following', async (t) => {
  const s = setup([{ path: 'a', first: 0, count: 200 }], { maxAheadBytes: 40, idleStopMs: 5000 });
  await settle();
  t.true(s.fetched.length <= 48, `fetched ${s.fetched.length} with the client at the start`);
  s.p.clientRead('a', 0, 39);
  await settle();
  t.true(s.fetched.length > 48 && s.fetched.length <= 96, `fetched ${s.fetched.length} with the client at block 39`);
  await s.clock.advance(6000);
  await s.p.done;
  t.is(s.counters.prefetch!.stopped, 'the client stopped following the trace');
  t.is(s.counters.prefetch!.wasteBlocks, s.fetched.length - 40);
});

test('stops when the client reads other blocks than the trace', async (t) => {
  const s = setup([{ path: 'a', first: 0, count: 400 }], { maxAheadBytes: 64, divergeBlocks: 32 });
  await settle();
  s.p.clientRead('other', 0, 40);
  await s.p.done;
  t.is(s.counters.prefetch!.stopped, 'the client reads other blocks than the trace');
  t.true(s.fetched.length < 400);
});

test('a run of a million blocks is cut into pieces as they are fetched, within a byte window', async (t) => {
  const s = setup([{ path: 'a', first: 0, count: 1 << 20 }], { maxAheadBytes: 64, idleStopMs: 1000 });
  await settle();
  t.is(s.counters.prefetch!.tracedBlocks, 1 << 20);
  t.true(s.fetched.length <= 96, `fetched ${s.fetched.length} with the client at the start`);
  s.p.stop('test over');
  await s.p.done;
});

test('once stopped, reads outside the trace are not remembered; hits on traced blocks still count', async (t) => {
  const s = setup([{ path: 'a', first: 0, count: 10 }]);
  await s.p.done;
  const remembered = () => (s.p as unknown as { outsideSeen: Set<string>; clientSeen: Set<string> });
  s.p.clientRead('big', 0, 200_000);
  t.is(remembered().outsideSeen.size, 0, 'a long-lived mount reading far beyond its boot set holds no per-block state for it');
  s.p.clientRead('a', 0, 9);
  s.p.clientRead('a', 0, 9);
  t.is(remembered().clientSeen.size, 10);
  t.like(s.counters.prefetch, { fetchedBlocks: 10, hitBlocks: 10, wasteBlocks: 0 });
});
