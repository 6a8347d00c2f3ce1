// How nodes find members' built-in STUN servers, with real `overlay up` processes on loopback
// (--bind-address 127.0.0.1: no packet leaves loopback): from the WELCOME of the bootstrap endpoint
// they join through, and from the DHT for servers of other members. A founder started with
// --no-stun offers none; a member with --listen runs one and advertises it.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { startProc, type Proc } from '../../simulations/harness/proc.js';
import { eventually } from '../../simulations/harness/eventually.js';

const BIN = fileURLToPath(new URL('../../../bin/overlay.js', import.meta.url));

interface Status {
  iceServers: string[];
  stun?: { port: number; counters: Record<string, number> };
  stunDirectory?: Record<string, number>;
}

function status(dir: string): Promise<Status | undefined> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'status', '--json', '--state', dir], { timeout: 20_000 }, (err, stdout) => resolve(err ? undefined : (JSON.parse(stdout) as Status)));
  });
}

/** A temporary network of `overlay up --no-vnet` processes on loopback, all killed (by PID) and removed on teardown. */
function network(t: { teardown(f: () => Promise<void>): void }, name: string) {
  const root = mkdtempSync(join(tmpdir(), `overlay-${name}-`));
  const procs: Proc[] = [];
  t.teardown(async () => {
    await Promise.all(procs.map((p) => p.kill(3000)));
    rmSync(root, { recursive: true, force: true });
  });
  const dir = (n: string) => join(root, n);
  const up = (node: string, extra: string[]) => {
    const p = startProc(process.execPath, [BIN, 'up', '--no-vnet', '--network', name, '--state', dir(node), '--bind-address', '127.0.0.1', '--dial-timeout', '10', '--verbose', ...extra]);
    procs.push(p);
    return p;
  };
  return { dir, up };
}

test('a joiner uses its bootstrap endpoint\'s STUN server (WELCOME); another learns a member\'s server from the DHT', async (t) => {
  const { dir, up } = network(t, 'stunnet');
  const a = up('a', ['--listen', '0', '--listen-host', '127.0.0.1', '--no-stun']);
  const portA = (await a.waitFor(/bootstrap endpoint listening on 127\.0\.0\.1:(\d+)/, 15_000))[1]!;
  await a.waitFor(/founded network/, 15_000);
  t.notRegex(a.output(), /STUN server on/);
  const secret = ['--secret', join(dir('a'), 'secret')];

  // b joins through a (no STUN there) and runs its own STUN server beside its bootstrap endpoint.
  const b = up('b', [...secret, '--bootstrap', `ws://127.0.0.1:${portA}`, '--listen', '0', '--listen-host', '127.0.0.1']);
  const stunB = (await b.waitFor(/STUN server on udp 127\.0\.0\.1:(\d+)/, 15_000))[1]!;
  const portB = (await b.waitFor(/bootstrap endpoint listening on 127\.0\.0\.1:(\d+)/, 15_000))[1]!;
  await b.waitFor(/joined network/, 30_000);
  t.is(stunB, portB, 'the STUN server takes the bootstrap endpoint\'s port number (UDP) by default');
  t.is(
    await eventually(async () => ((await status(dir('b')))?.stunDirectory?.adverts_published ?? 0) >= 1 ? undefined : 'b has not advertised its STUN server yet', 30_000),
    undefined,
  );

  // c joins through b: b's WELCOME names its STUN port, and c's ICE uses it (b answers c's requests).
  const c = up('c', [...secret, '--bootstrap', `ws://127.0.0.1:${portB}`]);
  await c.waitFor(/joined network/, 30_000);
  t.regex(c.output(), new RegExp(`using the STUN server of the bootstrap endpoint: stun:127\\.0\\.0\\.1:${stunB}`));
  t.is((await status(dir('c')))?.iceServers[0], `stun:127.0.0.1:${stunB}`);
  t.true(((await status(dir('b')))?.stun?.counters.answered ?? 0) >= 1, 'b\'s STUN server answered binding requests');

  // d joins through a, which runs no STUN server: d learns b's from the DHT.
  const d = up('d', [...secret, '--bootstrap', `ws://127.0.0.1:${portA}`]);
  await d.waitFor(/joined network/, 30_000);
  t.notRegex(d.output(), /using the STUN server of the bootstrap endpoint/);
  t.is(
    await eventually(async () => {
      const s = await status(dir('d'));
      return s?.iceServers.includes(`stun:127.0.0.1:${stunB}`) ? undefined : `d's ICE servers: ${JSON.stringify(s?.iceServers)}`;
    }, 30_000),
    undefined,
  );
  t.regex(d.output(), new RegExp(`learned the STUN server stun:127\\.0\\.0\\.1:${stunB} from the overlay`));
});

test('when the member whose STUN server a node uses leaves, the node drops it and uses another member\'s from the DHT', async (t) => {
  const { dir, up } = network(t, 'stungone');
  // a founds with a STUN server; b joins through a and runs (and advertises) its own.
  const a = up('a', ['--listen', '0', '--listen-host', '127.0.0.1']);
  const stunA = (await a.waitFor(/STUN server on udp 127\.0\.0\.1:(\d+)/, 15_000))[1]!;
  const portA = (await a.waitFor(/bootstrap endpoint listening on 127\.0\.0\.1:(\d+)/, 15_000))[1]!;
  await a.waitFor(/founded network/, 15_000);
  const secret = ['--secret', join(dir('a'), 'secret')];
  const b = up('b', [...secret, '--bootstrap', `ws://127.0.0.1:${portA}`, '--listen', '0', '--listen-host', '127.0.0.1']);
  const stunB = (await b.waitFor(/STUN server on udp 127\.0\.0\.1:(\d+)/, 15_000))[1]!;
  await b.waitFor(/joined network/, 30_000);
  t.is(
    await eventually(async () => ((await status(dir('b')))?.stunDirectory?.adverts_published ?? 0) >= 1 ? undefined : 'b has not advertised its STUN server yet', 30_000),
    undefined,
  );
  // c joins through a and uses a's server (WELCOME); it also reads b's from the DHT.
  const c = up('c', [...secret, '--bootstrap', `ws://127.0.0.1:${portA}`]);
  await c.waitFor(/joined network/, 30_000);
  t.is((await status(dir('c')))?.iceServers[0], `stun:127.0.0.1:${stunA}`);
  await c.waitFor(new RegExp(`learned the STUN server stun:127\\.0\\.0\\.1:${stunB} from the overlay`), 30_000);

  // a leaves (a clean down): within a probe interval plus the probe's tries, c stops using a's server.
  await a.kill(10_000);
  t.is(
    await eventually(async () => {
      const s = await status(dir('c'));
      return s?.iceServers[0] === `stun:127.0.0.1:${stunB}` ? undefined : `c's ICE servers: ${JSON.stringify(s?.iceServers)}`;
    }, 45_000),
    undefined,
  );
  t.regex(c.output(), new RegExp(`STUN server stun:127\\.0\\.0\\.1:${stunA} stopped answering; now using stun:127\\.0\\.0\\.1:${stunB}`));
  const st = await status(dir('c'));
  t.false(st!.iceServers.includes(`stun:127.0.0.1:${stunA}`));
  t.is(st!.stunDirectory?.servers_dropped, 1);
});
