// Hostile clients: TFTP transfer slots (issue 11, item 5). 300 read requests with timeout=255 that
// are never acknowledged used to hold every slot (277 counted active, above the cap of 256, since
// the slot was counted only once the file was open) and a legitimate tftp-hpa get failed with
// "server busy" for over a minute. Now a slot is taken as the request arrives, one address holds
// at most 16, a newcomer reclaims the slot of a client that never acknowledged anything (in its first
// 500 ms), or made no progress for 2 s), and a transfer without progress for maxIdleMs ends whatever its timeout.
// All on loopback; attackers use source addresses 127.0.0.2 and up.
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { attackerAddress, silentReader } from '../../bench/hostile/silent-tftp-readers.js';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeTftp, encodeTftp } from '../../dhcp/tftp/tftp-packet.js';
import { TftpServer, type TftpServerOptions } from '../../dhcp/tftp/tftp-server.js';
import { run } from '../../simulations/harness/proc.js';

const test = anyTest as TestFn<unknown>;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FILE = randomBytes(200_000);

async function serve(t: ExecutionContext, extra: Partial<TftpServerOptions> = {}) {
  const work = mkdtempSync(join(tmpdir(), 'tftp-hostile-'));
  const root = join(work, 'boot');
  mkdirSync(root);
  writeFileSync(join(root, 'f'), FILE);
  const server = new TftpServer({ root, address: '127.0.0.1', port: 0, ...extra });
  t.teardown(async () => {
    await server.close();
    rmSync(work, { recursive: true, force: true });
  });
  await server.start();
  // Sample the active count as often as the event loop allows: it must never pass the cap.
  let maxActive = 0;
  const sampler = setInterval(() => (maxActive = Math.max(maxActive, server.counters.active)), 1);
  t.teardown(() => clearInterval(sampler));
  return { server, work, port: server.port, maxActive: () => maxActive };
}

/** A silent reader that the test closes at teardown. */
async function silent(t: ExecutionContext, port: number, address: string, replies?: Array<ReturnType<typeof decodeTftp>>): Promise<void> {
  const s = await silentReader(port, address, 'f', replies ? (m) => replies.push(decodeTftp(m)) : undefined);
  t.teardown(() => s.close());
}

/** A legitimate tftp-hpa get from 127.0.0.1; true when the file arrived intact. */
async function legitimateGet(work: string, port: number, n: number): Promise<boolean> {
  const out = join(work, `legit-${n}`);
  await run('tftp', ['-m', 'binary', '127.0.0.1', String(port), '-c', 'get', 'f', out], 15_000).catch(() => undefined);
  return existsSync(out) && sha(readFileSync(out)) === sha(FILE);
}

test.serial('300 unacknowledged RRQs (timeout=255) from 300 addresses: never above the cap, tftp-hpa still gets its file', async (t) => {
  const { server, work, port, maxActive } = await serve(t);
  // Paced so the outcome does not depend on the machine's speed: the first 256 fill the table, and
  // only once their first-ACK grace (500 ms) has passed are they reclaimable; the other 44 then each
  // take one of their slots. (Unpaced, a fast machine sends all 300 within the grace, and a newcomer
  // is told 'busy' until it passes.)
  for (let i = 0; i < 256; i++) await silent(t, port, attackerAddress(i));
  await sleep(700);
  for (let i = 256; i < 300; i++) await silent(t, port, attackerAddress(i));
  await sleep(200);
  t.true(server.counters.active <= 256, `active ${server.counters.active}`);
  for (let i = 0; i < 5; i++) t.true(await legitimateGet(work, port, i), `legitimate get ${i} during the attack`);
  // The flood goes on while legitimate clients fetch: each new request takes a stalled slot.
  let flooding = true;
  const flood = (async () => {
    for (let i = 300; flooding && i < 2_000; i++) {
      await silent(t, port, attackerAddress(i));
      await sleep(5);
    }
  })();
  try {
    for (let i = 5; i < 10; i++) t.true(await legitimateGet(work, port, i), `legitimate get ${i} during the flood`);
  } finally {
    flooding = false;
    await flood;
  }
  t.true(maxActive() <= 256, `max active ${maxActive()}`);
  t.is(server.counters.refusedBusy, 0);
  t.true(server.counters.reclaimed >= 44, `reclaimed ${server.counters.reclaimed}`);
  t.true(server.counters.completed >= 10);
});

test.serial('one address holds at most 16 slots: 100 RRQs from it leave room for everyone else', async (t) => {
  const { server, work, port, maxActive } = await serve(t, { maxTransfers: 32 });
  const s = createSocket('udp4');
  t.teardown(() => s.close());
  await new Promise<void>((r) => s.bind(0, '127.0.0.2', r));
  for (let i = 0; i < 100; i++) {
    // From one socket: slots are counted per address, whatever the port.
    s.send(encodeTftp({ op: 'RRQ', filename: 'f', mode: 'octet', options: new Map([['timeout', '255']]) }), port, '127.0.0.1');
  }
  for (let i = 0; i < 100 && server.counters.requests < 100; i++) await sleep(50);
  t.is(server.counters.requests, 100);
  t.true(server.counters.active <= 16, `active ${server.counters.active}`);
  t.true(maxActive() <= 16, `max active ${maxActive()}`);
  for (let i = 0; i < 3; i++) t.true(await legitimateGet(work, port, i));
});

test.serial('a transfer whose client makes no progress ends after maxIdleMs, whatever timeout it negotiated', async (t) => {
  const { server, port } = await serve(t, { maxIdleMs: 1_000 });
  const replies: Array<ReturnType<typeof decodeTftp>> = [];
  await silent(t, port, '127.0.0.2', replies);
  await sleep(200);
  t.is(server.counters.active, 1);
  const deadline = Date.now() + 5_000;
  while (server.counters.active > 0 && Date.now() < deadline) await sleep(50);
  t.is(server.counters.active, 0, 'the slot is free again');
  t.is(server.counters.idleTimeouts, 1);
  t.is(replies[0]?.op, 'OACK');
  // The slot is freed as the ERROR is sent: under load the datagram may reach this socket a little later.
  const told = Date.now() + 2_000;
  while (replies.at(-1)?.op !== 'ERROR' && Date.now() < told) await sleep(20);
  t.like(replies.at(-1), { op: 'ERROR' }, 'the client is told');
});
