// The STUN probe against the built-in STUN server on loopback (real UDP): a server that answers, one
// that is gone (its port closed), a peer that answers with something else, and URLs it cannot use.
import test from 'ava';
import { createSocket } from 'node:dgram';
import { systemClock } from '../../lib/clock.js';
import { cryptoRandom } from '../../lib/random.js';
import { StunServer } from '../../overlay/stun/stun-server.js';
import { parseStunUrl, probeStun, STUN_PROBE_RTO_MS, STUN_PROBE_TRIES } from '../../overlay/stun/stun-probe.js';

const deps = { clock: systemClock, random: cryptoRandom, bindAddress: '127.0.0.1' };

test('a running server answers; after it closes, the probe gives up after its tries', async (t) => {
  const server = await StunServer.listen({ host: '127.0.0.1', port: 0, clock: systemClock });
  const url = `stun:127.0.0.1:${server.port}`;
  t.true(await probeStun(url, deps));
  t.is(server.counters.answered, 1);
  await server.close();
  const started = performance.now();
  t.false(await probeStun(url, deps));
  // Every try was waited for (no answer ends it sooner): 0.5 + 1 + 2 s.
  t.true(performance.now() - started >= STUN_PROBE_RTO_MS * (2 ** STUN_PROBE_TRIES - 1) - 50);
});

test('a peer that answers with something other than a Binding success does not count', async (t) => {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  t.teardown(() => sock.close());
  let requests = 0;
  sock.on('message', (msg, rinfo) => {
    requests++;
    // Our header back with its type zeroed: a request (method 0) carrying our transaction id.
    sock.send(Buffer.from(msg.subarray(0, 20)).fill(0, 0, 2), rinfo.port, rinfo.address);
  });
  t.false(await probeStun(`stun:127.0.0.1:${sock.address().port}`, deps));
  t.is(requests, STUN_PROBE_TRIES);
});

test('URLs the probe cannot use are a failed probe, not an error', async (t) => {
  t.deepEqual(parseStunUrl('stun:10.0.0.1:3478'), { host: '10.0.0.1', port: 3478 });
  t.deepEqual(parseStunUrl('stun:[::1]:3478'), { host: '::1', port: 3478 });
  for (const u of ['turn:10.0.0.1:3478', 'stun:10.0.0.1', 'stun:10.0.0.1:0', 'stun:10.0.0.1:70000', 'stun::::1:3478']) t.is(parseStunUrl(u), undefined, u);
  t.false(await probeStun('stun:10.0.0.1', deps));
});
