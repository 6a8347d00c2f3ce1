// `overlay up` checks before it acts (issue 14 item 5): a busy TUN name, a busy listen port or an
// unusable state directory is reported in one line, before the node joins anything, and a state
// directory that did not exist is still absent afterwards (no lock, no secret, no identity).
// Real processes (bin/overlay.js); the busy TUN name is a device in a namespace the test made.
import test from 'ava';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns } from '../../simulations/harness/netns.js';
import { cli } from './cli-process.js';

const root = mkdtempSync(join(tmpdir(), 'up-checks-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));

test('a TUN name in use: up says so, suggests --tun, and leaves the state directory untouched', async (t) => {
  const ns = await Netns.create('tun');
  t.teardown(() => ns.destroy());
  await ns.exec('ip', ['tuntap', 'add', 'dev', 'busy0', 'mode', 'tun']);
  const state = join(root, 'tun-state');
  const r = await cli(['up', '--network', 'n', '--state', state, '--tun', 'busy0', '--listen', '0', '--listen-host', '127.0.0.1'], 30_000, ['ip', 'netns', 'exec', ns.name]);
  t.is(r.code, 1, r.stdout + r.stderr);
  t.regex(r.stderr, /^overlay up: TUN name busy0 is in use .*--tun NAME\n$/);
  t.is(r.stdout, '', 'nothing started: no node line, no endpoint');
  t.false(existsSync(state), 'state directory not created');
});

test('a listen port in use: up fails in one line and writes nothing (no secret, no identity, no lock)', async (t) => {
  const holder = createServer();
  await new Promise<void>((r) => holder.listen({ host: '127.0.0.1', port: 0 }, r));
  t.teardown(() => holder.close());
  const port = (holder.address() as AddressInfo).port;
  const fresh = join(root, 'port-fresh');
  const r = await cli(['up', '--no-vnet', '--network', 'n', '--state', fresh, '--listen', String(port), '--listen-host', '127.0.0.1']);
  t.is(r.code, 1, r.stdout + r.stderr);
  t.is(r.stderr, `overlay up: --listen 127.0.0.1:${port} is in use by another process; choose another port\n`);
  t.false(existsSync(fresh), 'state directory not created');
  // An existing, empty state directory stays empty.
  const empty = join(root, 'port-empty');
  mkdirSync(empty, { mode: 0o700 });
  const again = await cli(['up', '--no-vnet', '--network', 'n', '--state', empty, '--listen', String(port), '--listen-host', '127.0.0.1']);
  t.is(again.code, 1);
  t.deepEqual(readdirSync(empty), []);
  // The built-in STUN server answers on UDP at the --listen port: a UDP port in use is caught too.
  const udp = createSocket('udp4');
  await new Promise<void>((r) => udp.bind({ address: '127.0.0.1', port: 0 }, r));
  t.teardown(() => udp.close());
  const udpPort = udp.address().port;
  const stun = await cli(['up', '--no-vnet', '--network', 'n', '--state', fresh, '--listen', String(udpPort), '--listen-host', '127.0.0.1']);
  t.is(stun.code, 1, stun.stdout + stun.stderr);
  t.is(stun.stderr, `overlay up: the STUN server on --listen 127.0.0.1:${udpPort} (UDP) is in use by another process; choose another port\n`);
  t.false(existsSync(fresh), 'state directory not created');
});

test('a state directory owned by someone else, writable by others, or not a directory is refused before anything is written', async (t) => {
  const foreign = join(root, 'foreign');
  mkdirSync(foreign, { mode: 0o700 });
  chownSync(foreign, 65534, 65534);
  const open = join(root, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  const file = join(root, 'file');
  writeFileSync(file, '');
  const cases: Array<[string, RegExp]> = [
    [foreign, /--state .*foreign: owned by uid 65534, not by this user \(uid 0\); chown it or choose another/],
    [open, /--state .*open: writable by others \(mode 777\); chmod 700 it/],
    [file, /--state .*file: not a directory/],
    [join(file, 'sub'), /--state .*file\/sub: .*file is not a directory/],
  ];
  for (const [state, message] of cases) {
    const r = await cli(['up', '--no-vnet', '--network', 'n', '--state', state]);
    t.is(r.code, 2, `${state}: ${r.stderr}`);
    t.regex(r.stderr, message);
  }
  t.deepEqual(readdirSync(foreign), []);
  t.deepEqual(readdirSync(open), []);
  // Joining without the secret is refused before the state directory is created.
  const joiner = join(root, 'joiner');
  const r = await cli(['up', '--no-vnet', '--network', 'n', '--state', joiner, '--bootstrap', 'ws://127.0.0.1:9']);
  t.regex(r.stderr, /needs its secret/);
  t.false(existsSync(joiner));
});
