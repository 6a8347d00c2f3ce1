// PeerConnection against fake peers on loopback: a peer that announces a big reply and trickles it
// is cut off by the per-request deadline (the stall watchdog alone never fires), and a slot freed
// by a reply goes to the request that waited for it, not to a newcomer (maxInFlight holds).
import test from 'ava';
import { createServer, type Server, type Socket } from 'node:net';
import { PeerConnection, PeerConnectionError } from '../../../rowfs/peer/peer-connection.js';
import { frame, readFrames } from '../../../rowfs/peer/frames.js';
import { PeerStatus } from '../../../rowfs/peer/peer-codec.js';
import { ManualClock } from '../../vnet/manual-clock.js';

async function fakePeer(t: { teardown(fn: () => void): void }, onSocket: (s: Socket) => void): Promise<number> {
  const server: Server = createServer((s) => (s.on('error', () => undefined), onSocket(s)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  return (server.address() as { port: number }).port;
}

test('a peer that trickles a reply fails the request at requestTimeoutMs, though bytes keep coming', async (t) => {
  const clock = new ManualClock();
  const sockets: Socket[] = [];
  const port = await fakePeer(t, (s) => {
    sockets.push(s);
    // An 8 MiB reply announced, then one byte per tick of the test.
    s.once('data', () => s.write(Buffer.from([0, 0x80, 0, 0, 2])));
  });
  const c = await PeerConnection.open({ host: '127.0.0.1', port, clock, stallMs: 60_000, requestTimeoutMs: 3_000 });
  t.teardown(() => c.close());
  const got = c.get(new Uint8Array(20), 0, 1);
  got.catch(() => undefined);
  for (let i = 0; i < 10 && !c.closed; i++) {
    await new Promise((r) => setTimeout(r, 20));
    sockets[0]?.write(Buffer.from([0]));
    await clock.advance(500);
  }
  const e = await t.throwsAsync(got, { instanceOf: PeerConnectionError });
  t.is(e!.code, 'TIMEOUT');
});

test('a freed slot goes to the waiting request, not to one that arrives meanwhile', async (t) => {
  let outstanding = 0;
  let most = 0;
  const port = await fakePeer(t, (s) =>
    readFrames(
      s,
      64,
      (m) => {
        if (m.type !== 'get') return;
        most = Math.max(most, ++outstanding);
        setTimeout(() => {
          outstanding--;
          s.write(frame({ type: 'blocks', id: m.id, status: PeerStatus.OK, first: m.first, blocks: [undefined] }));
        }, 20);
      },
      () => s.destroy(),
    ),
  );
  const c = await PeerConnection.open({ host: '127.0.0.1', port, maxInFlight: 1 });
  t.teardown(() => c.close());
  let late: Promise<unknown> | undefined;
  const a = c.get(new Uint8Array(20), 0, 1).then(() => (late = c.get(new Uint8Array(20), 2, 1)));
  const b = c.get(new Uint8Array(20), 1, 1);
  await Promise.all([a, b]);
  await late;
  t.is(most, 1, 'one request in flight at a time');
});
