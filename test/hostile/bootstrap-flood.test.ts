// Hostile clients: a flood of the bootstrap endpoint (issue 11, item 11). 300 WebSocket connections
// that each say HELLO and then wait used to fill its 64 places for their 60 s lifetime, and every
// joiner was told "busy" for as long as the flood lasted. Now one source address holds at most 4
// connections, and at the total bound a newcomer takes the place of the oldest connection of the
// address holding the most, else of the connection silent longest (at least evictIdleAfterMs).
// Real sockets on loopback; attackers use 127.0.0.2 and up.
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { WebSocket } from 'ws';
import { randomBytes } from 'node:crypto';
import { systemClock } from '../../lib/clock.js';
import { BootstrapServer } from '../../overlay/bootstrap/server.js';
import { BootstrapType, decodeBootstrap, encodeBootstrap } from '../../overlay/bootstrap/messages.js';
import { toBytes } from '../../overlay/bootstrap/server.js';

const test = anyTest as TestFn<unknown>;
const NETWORK = 'floodnet';
const randomAddress = () => BigInt(`0x${randomBytes(20).toString('hex')}`);

async function endpoint(t: ExecutionContext, evictIdleAfterMs?: number): Promise<BootstrapServer> {
  const server = await BootstrapServer.listen({
    ...(evictIdleAfterMs !== undefined ? { evictIdleAfterMs } : {}),
    host: '127.0.0.1',
    port: 0,
    network: NETWORK,
    address: randomAddress(),
    connector: { onSignal: () => undefined },
    clock: systemClock,
  });
  t.teardown(() => server.close());
  return server;
}

/** Connects from `localAddress`, says HELLO; resolves with the first message's type ('welcome' or the ERROR text). */
function join(t: ExecutionContext, port: number, localAddress: string): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, { localAddress });
    t.teardown(() => ws.terminate());
    ws.on('error', () => resolve('socket error'));
    ws.once('message', (data) => {
      const msg = decodeBootstrap(toBytes(data as Buffer));
      if (msg.type === BootstrapType.Welcome) {
        ws.send(encodeBootstrap({ type: BootstrapType.Hello, network: NETWORK, address: randomAddress() }));
        resolve('welcome');
      } else {
        resolve(msg.type === BootstrapType.Error ? msg.message : `type ${msg.type}`);
      }
    });
  });
}

const attacker = (i: number, perAddress: number) => `127.0.${(2 + Math.floor(i / perAddress)) >> 8}.${(2 + Math.floor(i / perAddress)) & 255}`;

async function flood(t: ExecutionContext, port: number, n: number, perAddress: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i += 50) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 50); j++) batch.push(join(t, port, attacker(j, perAddress)));
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

test('300 connections from one address hold 4 places; a joiner is welcome', async (t) => {
  const server = await endpoint(t);
  const answers = await flood(t, server.port, 300, 300);
  t.is(answers.filter((a) => a === 'welcome').length, 4);
  t.is(server.counters.rejected_per_address, 296);
  t.is(await join(t, server.port, '127.0.0.1'), 'welcome');
});

test('64 connections from 16 addresses fill the table; a joiner from another address takes the place of a crowded one at once', async (t) => {
  const server = await endpoint(t);
  t.true((await flood(t, server.port, 64, 4)).every((a) => a === 'welcome'));
  for (let i = 0; i < 5; i++) t.is(await join(t, server.port, `127.0.1.${200 + i}`), 'welcome', `joiner ${i}`);
  t.is(server.counters.evicted, 5);
  t.is(server.counters.rejected_full, 0);
});

test('300 connections from 75 addresses (more than the 64 places): joiners are welcome once the flood is silent 1 s', async (t) => {
  const server = await endpoint(t, 1_000);
  await flood(t, server.port, 300, 4);
  await new Promise((r) => setTimeout(r, 1_100));
  for (let i = 0; i < 5; i++) t.is(await join(t, server.port, `127.0.1.${200 + i}`), 'welcome', `joiner ${i}`);
  t.true(server.counters.evicted >= 5, `evicted ${server.counters.evicted}`);
});
