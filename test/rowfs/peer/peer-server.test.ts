// The peer server's bounds on loopback, with a real TCP client and an in-memory block store: the
// upload budget answers BUSY past bytes/s and requests at once (per peer and in total) and refills
// with the clock; a malformed or oversized frame ends only that connection; a peer that fails or
// lies is skipped or dropped by the fetcher, which returns only blocks the verifier accepts.
import test from 'ava';
import { connect } from 'node:net';
import { createHash } from 'node:crypto';
import { PeerServer } from '../../../rowfs/peer/peer-server.js';
import { PeerConnection, PeerConnectionError } from '../../../rowfs/peer/peer-connection.js';
import { maxBlocksPerGet, PeerStatus } from '../../../rowfs/peer/peer-codec.js';
import { frame } from '../../../rowfs/peer/frames.js';
import { UploadBudget } from '../../../rowfs/peer/upload-budget.js';
import { PeerFetcher, peerFileId } from '../../../rowfs/peer/peer-fetcher.js';
import { Counters } from '../../../rowfs/counters.js';
import { ManualClock } from '../../vnet/manual-clock.js';

const BS = 4096;
const block = (path: string, i: number) => Buffer.alloc(BS, createHash('sha256').update(`${path}/${i}`).digest()[0]!);
/** A store holding blocks 0..9 of `path`, optionally lying about block 3. */
function store(path: string, lie = false) {
  const id = Buffer.from(peerFileId(path)).toString('hex');
  return {
    blockSize: BS,
    read: async (file: Uint8Array, i: number) => (Buffer.from(file).toString('hex') === id && i < 10 ? (lie && i === 3 ? Buffer.alloc(BS, 0xee) : block(path, i)) : undefined),
  };
}

test('upload budget: per-peer and total requests and bytes, refilled by the clock', (t) => {
  const clock = new ManualClock();
  const b = new UploadBudget({ totalBytesPerS: 10_000, peerBytesPerS: 6_000, totalRequests: 3, peerRequests: 2 }, clock);
  const s1 = b.admit('p', 1000)!;
  const s2 = b.admit('p', 1000)!;
  t.is(b.admit('p', 1000), undefined, 'third request of one peer at once');
  const s3 = b.admit('q', 1000)!;
  t.is(b.admit('r', 1000), undefined, 'fourth request in total');
  s1.done(6000);
  t.is(b.admit('p', 1000), undefined, "p spent its second's bytes");
  s2.done(0);
  s3.done(4000);
  t.is(b.admit('q', 1000), undefined, 'all peers together spent the total');
  void clock.advance(1000);
  t.truthy(b.admit('p', 1000), 'a second later p may again');
  t.is(b.refused, 4);
});

test('server: blocks held and not held; BUSY over the budget; a bad frame ends that connection only', async (t) => {
  const clock = new ManualClock();
  const server = await PeerServer.start({ store: store('f'), host: '127.0.0.1', port: 0, clock, limits: { peerBytesPerS: 8 * BS, totalBytesPerS: 64 * BS } });
  t.teardown(() => server.close());
  const c = await PeerConnection.open({ host: '127.0.0.1', port: server.port });
  t.teardown(() => c.close());
  // 8 blocks a second for this peer: all of them now, then any more is over budget until the clock moves.
  t.is((await c.get(peerFileId('f'), 0, 8)).status, PeerStatus.OK);
  t.is((await c.get(peerFileId('f'), 8, 4)).status, PeerStatus.BUSY);
  await clock.advance(1000);
  const r = await c.get(peerFileId('f'), 8, 4);
  t.is(r.status, PeerStatus.OK);
  t.deepEqual(r.blocks.map((b, i) => (b ? Buffer.from(b).equals(block('f', 8 + i)) : null)), [true, true, null, null]);
  const none = await c.get(peerFileId('other'), 0, 2);
  t.deepEqual(none.blocks, [undefined, undefined]);
  // A frame longer than any request, and a reply sent as a request: each ends its connection.
  for (const bytes of [Buffer.from([0, 0, 1, 0]), Buffer.from([0, 0, 0, 13, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0])]) {
    const raw = connect({ host: '127.0.0.1', port: server.port });
    raw.write(bytes);
    await new Promise((resolve) => raw.on('close', resolve));
  }
  t.is(server.stats.badFrames, 2);
  t.is((await c.get(peerFileId('f'), 1, 1)).status, PeerStatus.OK, 'the well-behaved connection goes on');
});

test('connection: a peer that never answers is taken for dead after stallMs, and the get fails with a typed error', async (t) => {
  const silent = await import('node:net').then((n) => n.createServer(() => undefined));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.teardown(() => silent.close());
  const c = await PeerConnection.open({ host: '127.0.0.1', port: (silent.address() as { port: number }).port, stallMs: 200 });
  const e = await t.throwsAsync(c.get(peerFileId('f'), 0, 1), { instanceOf: PeerConnectionError });
  t.is(e!.code, 'STALLED');
});

test('fetcher: verified blocks only; a liar is dropped for the session and its reply unused; the rest is left for the server', async (t) => {
  const liar = await PeerServer.start({ store: store('f', true), host: '127.0.0.1', port: 0 });
  const honest = await PeerServer.start({ store: store('f'), host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    await liar.close();
    await honest.close();
  });
  const counters = new Counters();
  const verifier = { verifyBlock: (path: string, i: number, data: Uint8Array) => Buffer.from(data).equals(block(path, i)) };
  const peers = [
    { id: 'liar', label: `127.0.0.1:${liar.port}`, host: '127.0.0.1', port: liar.port },
    { id: 'honest', label: `127.0.0.1:${honest.port}`, host: '127.0.0.1', port: honest.port },
    { id: 'gone', label: '127.0.0.1:1', host: '127.0.0.1', port: 1 },
  ];
  const f = new PeerFetcher({ source: { peers: async () => peers }, verifier, blockSize: BS, counters, spread: 1, maxPeersPerRead: 3 });
  t.teardown(() => f.close());
  await f.refresh();
  const got = await f.fetch('f', peerFileId('f'), 0, 11);
  t.deepEqual(got.map((b, i) => (b ? Buffer.from(b).equals(block('f', i)) : null)), [...new Array(10).fill(true), null, null], 'blocks 10, 11: nobody has them');
  t.is(counters.peers!.rejectedBlocks, 1);
  t.deepEqual([...counters.peers!.badPeers], [peers[0]!.label]);
  t.deepEqual(Object.fromEntries(counters.peers!.bytesFrom), { [peers[1]!.label]: 10 * BS });
  // The liar is never asked again; the honest peer answers the next range alone.
  const servedBefore = liar.stats.requests;
  await f.fetch('f', peerFileId('f'), 2, 3);
  t.is(liar.stats.requests, servedBefore);
});

test('upload budget: bytes are reserved at admit, so requests admitted together cannot overspend; done refunds the unsent', (t) => {
  const clock = new ManualClock();
  const b = new UploadBudget({ totalBytesPerS: 100_000, peerBytesPerS: 3_000, totalRequests: 32, peerRequests: 8 }, clock);
  const slots = [b.admit('p', 1000), b.admit('p', 1000), b.admit('p', 1000)];
  t.true(slots.every(Boolean));
  t.is(b.admit('p', 1000), undefined, 'the first three reserved the second');
  slots[0]!.done(0);
  t.truthy(b.admit('p', 1000), 'an empty reply gave its reservation back');
});

/** A 1 MiB-block store holding every block of every file (one shared buffer). */
const bigStore = (() => {
  const data = Buffer.alloc(1 << 20, 7);
  return { blockSize: 1 << 20, read: async () => data };
})();

/** A raw client that sends `gets` gets of `count` blocks and never reads its replies (a paused socket does not see the server's close). */
function greedyClient(t: { teardown(fn: () => void): void }, port: number, gets: number, count: number): void {
  const raw = connect({ host: '127.0.0.1', port });
  raw.pause();
  raw.on('error', () => undefined);
  raw.on('connect', () => raw.write(Buffer.concat(Array.from({ length: gets }, (_, i) => frame({ type: 'get', id: i + 1, file: peerFileId('f'), first: i * count, count })))));
  t.teardown(() => raw.destroy());
}

/** Waits (at most 5 s of real time) until `ok()`. */
async function until(ok: () => boolean): Promise<boolean> {
  for (let i = 0; i < 100 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
  return ok();
}

test.serial('server: a client that sends gets and never reads is cut off past the hard queue bound', async (t) => {
  const server = await PeerServer.start({ store: bigStore, host: '127.0.0.1', port: 0, clock: new ManualClock(), maxQueuedReplyBytes: 1 << 20, maxQueuedReplyBytesHard: 4 << 20, limits: { peerBytesPerS: 1 << 30, totalBytesPerS: 1 << 30, peerRequests: 64, totalRequests: 64 } });
  t.teardown(() => server.close());
  greedyClient(t, server.port, 24, 1);
  t.true(await until(() => server.stats.stalledReaders === 1));
});

test.serial('server: queued replies that do not drain for writeStallMs end the connection (injected clock)', async (t) => {
  const clock = new ManualClock();
  const server = await PeerServer.start({ store: bigStore, host: '127.0.0.1', port: 0, clock, writeStallMs: 10_000, maxQueuedReplyBytes: 64 << 20, maxQueuedReplyBytesHard: 128 << 20, limits: { peerBytesPerS: 1 << 30, totalBytesPerS: 1 << 30, peerRequests: 64, totalRequests: 64 } });
  t.teardown(() => server.close());
  greedyClient(t, server.port, 24, 1);
  t.true(await until(() => server.stats.servedBlocks === 24));
  await new Promise((r) => setTimeout(r, 100));
  await clock.advance(5_000);
  t.is(server.stats.stalledReaders, 0, 'still within the deadline');
  await clock.advance(5_600);
  t.true(await until(() => server.stats.stalledReaders === 1));
});

test('server: a get of more blocks than a reply may carry ends the connection', async (t) => {
  const server = await PeerServer.start({ store: bigStore, host: '127.0.0.1', port: 0 });
  t.teardown(() => server.close());
  t.is(maxBlocksPerGet(1 << 20), 8);
  t.is(maxBlocksPerGet(65536), 64);
  greedyClient(t, server.port, 1, 9);
  t.true(await until(() => server.stats.badFrames === 1));
  t.is(server.stats.requests, 0);
});

test('server: when full, the least recently active connection makes room for a new one', async (t) => {
  const clock = new ManualClock();
  const server = await PeerServer.start({ store: store('f'), host: '127.0.0.1', port: 0, clock, maxConnections: 2 });
  t.teardown(() => server.close());
  const a = await PeerConnection.open({ host: '127.0.0.1', port: server.port });
  await clock.advance(100);
  const b = await PeerConnection.open({ host: '127.0.0.1', port: server.port });
  t.teardown(() => (a.close(), b.close()));
  await clock.advance(100);
  t.is((await a.get(peerFileId('f'), 0, 1)).status, PeerStatus.OK, 'a is now the more recently active');
  const c = await PeerConnection.open({ host: '127.0.0.1', port: server.port });
  t.teardown(() => c.close());
  t.is((await c.get(peerFileId('f'), 1, 1)).status, PeerStatus.OK);
  await t.throwsAsync(b.get(peerFileId('f'), 0, 1), { instanceOf: PeerConnectionError });
  t.false(a.closed);
  t.is(server.stats.refusedConnections, 1);
});
