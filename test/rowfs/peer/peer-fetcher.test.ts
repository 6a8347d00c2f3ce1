// PeerFetcher against fake peers on loopback: a peer that answers BUSY is left alone for a while,
// a fetch gives up on a silent peer at its deadline (the rest goes to the server), callers that find
// a connection closed share one reconnect, gets are cut so a reply fits the protocol's bound, and
// a request this side could not queue costs only itself (the peer is not failed, its connection stays).
import test from 'ava';
import { createServer, type Socket } from 'node:net';
import { PeerFetcher, peerFileId, type PeerEndpoint } from '../../../rowfs/peer/peer-fetcher.js';
import { frame, readFrames } from '../../../rowfs/peer/frames.js';
import { PeerStatus, type PeerGet } from '../../../rowfs/peer/peer-codec.js';
import { Counters } from '../../../rowfs/counters.js';
import { ManualClock } from '../../vnet/manual-clock.js';

const BS = 1 << 20;
const data = Buffer.alloc(BS, 3);

/** A fake peer answering each get with `answer` (undefined: never answers); counts connections and gets. */
async function fakePeer(t: { teardown(fn: () => void): void }, answer: (m: PeerGet) => PeerStatus | undefined, delayMs = 0) {
  const seen = { connections: 0, gets: [] as PeerGet[], sockets: [] as Socket[] };
  const server = createServer((s) => {
    seen.connections++;
    seen.sockets.push(s);
    s.on('error', () => undefined);
    readFrames(
      s,
      64,
      (m) => {
        if (m.type !== 'get') return;
        seen.gets.push(m);
        const status = answer(m);
        if (status === undefined) return;
        const reply = () => s.write(frame({ type: 'blocks', id: m.id, status, first: m.first, blocks: Array.from({ length: m.count }, () => (status === PeerStatus.OK ? data : undefined)) }));
        if (delayMs > 0) setTimeout(reply, delayMs);
        else reply();
      },
      () => s.destroy(),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => (seen.sockets.forEach((s) => s.destroy()), server.close()));
  const port = (server.address() as { port: number }).port;
  const peer: PeerEndpoint = { id: `p${port}`, label: `127.0.0.1:${port}`, host: '127.0.0.1', port };
  return { seen, peer };
}

function fetcher(t: { teardown(fn: () => void): void }, peers: PeerEndpoint[], extra: Partial<ConstructorParameters<typeof PeerFetcher>[0]> = {}) {
  const f = new PeerFetcher({ source: { peers: async () => peers }, verifier: { verifyBlock: () => true }, blockSize: BS, counters: new Counters(), spread: 1, ...extra });
  t.teardown(() => f.close());
  return f;
}

test('gets are cut to what a reply may carry: 1 MiB blocks, 8 a get', async (t) => {
  const { seen, peer } = await fakePeer(t, () => PeerStatus.OK);
  const f = fetcher(t, [peer]);
  await f.refresh();
  const got = await f.fetch('f', peerFileId('f'), 0, 19);
  t.true(got.every((b) => b !== undefined));
  t.deepEqual(seen.gets.map((g) => [g.first, g.count]), [[0, 8], [8, 8], [16, 4]]);
});

test('a peer that answered BUSY is not asked again within busyBackoffMs', async (t) => {
  const clock = new ManualClock();
  const { seen, peer } = await fakePeer(t, () => PeerStatus.BUSY);
  const f = fetcher(t, [peer], { clock, busyBackoffMs: 1_000 });
  await f.refresh();
  await f.fetch('f', peerFileId('f'), 0, 0);
  await f.fetch('f', peerFileId('f'), 1, 1);
  t.is(seen.gets.length, 1, 'skipped while backing off');
  await clock.advance(1_001);
  await f.fetch('f', peerFileId('f'), 2, 2);
  t.is(seen.gets.length, 2);
});

test('a fetch returns at its deadline with what it has; the silent peer costs no more', async (t) => {
  const clock = new ManualClock();
  const { peer } = await fakePeer(t, () => undefined);
  const f = fetcher(t, [peer], { clock, fetchDeadlineMs: 2_000, stallMs: 60_000, requestTimeoutMs: 60_000 });
  await f.refresh();
  let done = false;
  const got = f.fetch('f', peerFileId('f'), 0, 3).finally(() => (done = true));
  await new Promise((r) => setTimeout(r, 50));
  await clock.advance(1_900);
  t.false(done);
  await clock.advance(200);
  t.deepEqual(await got, [undefined, undefined, undefined, undefined]);
});

test('callers that find the connection closed share one reconnect', async (t) => {
  const { seen, peer } = await fakePeer(t, () => PeerStatus.OK);
  const f = fetcher(t, [peer]);
  await f.refresh();
  await f.fetch('f', peerFileId('f'), 0, 0);
  const closed = new Promise((r) => seen.sockets[0]!.once('close', r));
  seen.sockets[0]!.destroy();
  await closed;
  await new Promise((r) => setTimeout(r, 50));
  const got = await Promise.all([1, 2, 3, 4, 5].map((i) => f.fetch('f', peerFileId('f'), i, i)));
  t.true(got.every((g) => g[0] !== undefined));
  t.is(seen.connections, 2);
});

test('a request over the local queue (QUEUE_FULL) skips the peer for itself only: no failure, the connection stays', async (t) => {
  const { seen, peer } = await fakePeer(t, () => PeerStatus.OK, 30);
  const counters = new Counters();
  const f = fetcher(t, [peer], { counters });
  await f.refresh();
  // 8 in flight and 64 waiting fit one connection; the rest are refused here at once.
  const got = await Promise.all(Array.from({ length: 90 }, (_, i) => f.fetch('f', peerFileId('f'), i, i)));
  t.is(got.filter((g) => g[0] !== undefined).length, 72);
  t.is(seen.connections, 1);
  t.is(counters.peers!.failures, 0);
  t.not((await f.fetch('f', peerFileId('f'), 200, 200))[0], undefined, 'the peer is still asked');
});
