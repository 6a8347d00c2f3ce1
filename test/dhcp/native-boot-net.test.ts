// The native boot-network addon (dhcp/native/): SO_BINDTODEVICE on a dgram socket, and a raw ICMPv6
// socket that sends router advertisements a Linux kernel accepts (it drops RAs whose hop limit is
// not 255, RFC 4861 6.1.2) and answers Router Solicitations. Errors are typed, never crashes.
import test from 'ava';
import { createHook } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { BindToDeviceError, bindToDevice } from '../../dhcp/server/bind-to-device.js';
import { RaSender, RaSenderError } from '../../dhcp/ra/ra-sender.js';
import { systemClock } from '../../lib/clock.js';
import { loadBootNetAddon } from '../../dhcp/native/boot-net-addon.js';
import { Icmp6Socket, NativeNetError, UdpConnection } from '../../dhcp/native/index.js';
import { Netns, vethPair } from '../../simulations/harness/netns.js';
import { startProc, type Proc } from '../../simulations/harness/proc.js';
import { until } from '../../simulations/harness/boot-link.js';

const PROBE = new URL('./native-probe.js', import.meta.url).pathname;

async function boundSocket(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  return s;
}

test('bindToDevice ties a dgram socket to lo; it still receives there', async (t) => {
  const rx = await boundSocket();
  const tx = createSocket('udp4');
  t.teardown(() => { rx.close(); tx.close(); });
  bindToDevice(rx, 'lo');
  const got = new Promise<string>((resolve) => rx.once('message', (m) => resolve(m.toString())));
  tx.send('hello', rx.address().port, '127.0.0.1');
  t.is(await got, 'hello');
});

test('bindToDevice errors are typed: unknown interface, unbound socket, bad arguments', async (t) => {
  const s = await boundSocket();
  t.teardown(() => s.close());
  const unknown = t.throws(() => bindToDevice(s, 'nosuchif0'), { instanceOf: BindToDeviceError });
  t.is(unknown?.code, 'NET_ENODEV');
  t.regex(unknown?.message ?? '', /SO_BINDTODEVICE nosuchif0 failed/);
  const tooLong = t.throws(() => bindToDevice(s, 'a-name-longer-than-15'), { instanceOf: BindToDeviceError });
  t.is(tooLong?.code, 'NET_EINVAL');
  const unbound = createSocket('udp4');
  t.is(t.throws(() => bindToDevice(unbound, 'lo'), { instanceOf: BindToDeviceError })?.code, 'NO_FD');
  unbound.close();
  const addon = loadBootNetAddon() as unknown as Record<string, (...a: unknown[]) => unknown>;
  t.is((t.throws(() => addon.bindToDevice!('x', 'lo')) as { code?: string }).code, 'NET_EINVAL');
  t.is((t.throws(() => addon.bindToDevice!(100_000, 'lo')) as { code?: string }).code, 'NET_EBADF');
  t.is((t.throws(() => addon.icmp6Open!('lo', 'x', [])) as { code?: string }).code, 'NET_EINVAL');
  t.is((t.throws(() => addon.icmp6Open!('lo', [999], [])) as { code?: string }).code, 'NET_EINVAL');
  t.is((t.throws(() => addon.icmp6Open!('lo', [], ['fe80::1'])) as { code?: string }).code, 'NET_EINVAL');
  t.is((t.throws(() => addon.icmp6Send!({}, new Uint8Array(8), 'ff02::1')) as { code?: string }).code, 'NET_EINVAL');
});

test('raw ICMPv6 socket: typed errors for an unknown interface, bad destination and use after close', (t) => {
  t.is(t.throws(() => Icmp6Socket.open({ interfaceName: 'nosuchif0', acceptTypes: [133] }), { instanceOf: NativeNetError })?.code, 'NET_ENODEV');
  const s = Icmp6Socket.open({ interfaceName: 'lo', acceptTypes: [133], groups: ['ff02::2'] });
  t.is(t.throws(() => s.send(new Uint8Array(8), 'not-an-address'), { instanceOf: NativeNetError })?.code, 'NET_EINVAL');
  t.is(t.throws(() => s.send(new Uint8Array(2), 'ff02::1'), { instanceOf: NativeNetError })?.code, 'NET_EINVAL');
  s.close();
  s.close(); // idempotent
  t.false(s.isOpen);
  t.is(t.throws(() => s.send(new Uint8Array(8), 'ff02::1'), { instanceOf: NativeNetError })?.code, 'NET_EBADF');
});

/** RFC 4443 2.1: type 200 is for private experimentation (the kernel ignores it), so the test owns it. */
const ICMP6_PRIVATE_EXPERIMENTATION = 200;

test('raw ICMPv6 socket: a long message arrives whole, one longer than maxMessageBytes is dropped and counted, one async context', async (t) => {
  let contexts = 0;
  const hook = createHook({ init: (_id, type) => void (type === 'Icmp6Receive' && contexts++) }).enable();
  t.teardown(() => hook.disable());
  const tx = Icmp6Socket.open({ interfaceName: 'lo', acceptTypes: [] });
  const rx = Icmp6Socket.open({ interfaceName: 'lo', acceptTypes: [ICMP6_PRIVATE_EXPERIMENTATION] });
  const small = Icmp6Socket.open({ interfaceName: 'lo', acceptTypes: [ICMP6_PRIVATE_EXPERIMENTATION], maxMessageBytes: 1024 });
  t.teardown(() => [tx, rx, small].forEach((s) => s.close()));
  // A tag in every message: other processes' ICMPv6 on lo is not ours.
  const tag = randomBytes(8);
  const message = (bytes: number) => {
    const m = Buffer.alloc(bytes, 0x5a);
    m[0] = ICMP6_PRIVATE_EXPERIMENTATION;
    tag.copy(m, 4);
    return m;
  };
  const ours = (m: Buffer) => m.length >= 12 && m.subarray(4, 12).equals(tag);
  const atRx: number[] = [];
  const atSmall: number[] = [];
  rx.onMessage((m) => void (ours(m) && atRx.push(m.length)));
  small.onMessage((m) => void (ours(m) && atSmall.push(m.length)));

  tx.send(message(3000), '::1'); // longer than the 2 KiB the receive buffer had: it used to arrive cut to 2048
  tx.send(message(100), '::1');
  await until('both messages at rx', 3000, () => (atRx.length >= 2 ? true : undefined));
  await until('the short one at small', 3000, () => (atSmall.length >= 1 ? true : undefined));
  t.deepEqual(atRx, [3000, 100]);
  t.deepEqual(atSmall, [100], 'the 3000-byte message is not delivered truncated');
  t.is(small.truncatedMessages, 1);
  t.is(rx.truncatedMessages, 0);
  t.is(contexts, 2, 'one async context per receiving socket, not one per message');
  small.close();
  t.is(small.truncatedMessages, 1, 'the count outlives close');
  t.throws(() => Icmp6Socket.open({ interfaceName: 'lo', acceptTypes: [], maxMessageBytes: 70_000 }), { instanceOf: NativeNetError, code: 'NET_EINVAL' });
});

test('UdpConnection: connected to its peer, receives into one reused buffer, serves a lock-step chain, flags truncation, closes from its own callback', async (t) => {
  const peer = await boundSocket();
  t.teardown(() => peer.close());
  const conn = UdpConnection.open('127.0.0.1', '127.0.0.1', peer.address().port);
  t.teardown(() => conn.close());
  t.true(conn.localPort > 0);
  const fromPeer: Buffer[] = [];
  peer.on('message', (m) => fromPeer.push(m));
  const untilPeerHas = (n: number) => until(`${n} datagrams at the peer`, 3000, () => (fromPeer.length >= n ? true : undefined));
  t.is(conn.send(Buffer.from('ping')), 0);
  await untilPeerHas(1);
  t.is(fromPeer[0]!.toString(), 'ping');

  const buffer = Buffer.alloc(8);
  const seen: Array<{ bytes: string; truncated: boolean; shares: boolean }> = [];
  let closedFromCallback!: () => void;
  const closed = new Promise<void>((resolve) => (closedFromCallback = resolve));
  conn.onDatagram(buffer, (d, truncated) => {
    seen.push({ bytes: d.toString('hex'), truncated, shares: d.buffer === buffer.buffer });
    if (seen.length === 2) {
      conn.close(); // from inside the callback: the rest of the wakeup must not touch the socket
      closedFromCallback();
    }
  });
  // A chain whose blocks would lie outside its chunk is refused, not served out of bounds.
  t.is(t.throws(() => conn.serveChain(Buffer.alloc(1024), 1, 512, 1024, 1, 3), { instanceOf: NativeNetError })?.code, 'NET_EINVAL');
  // Chunk = file blocks 1..3 of 8 bytes, 20 bytes valid; block 1 is out; the chain serves 2 and 3.
  const chunk = Buffer.from('AAAAAAAABBBBBBBBCCCC________');
  conn.serveChain(chunk, 1, 8, 20, 2, 3);
  const ack = (n: number) => peer.send(Buffer.from([0, 4, n >> 8, n & 255]), conn.localPort, '127.0.0.1');
  ack(1);
  await untilPeerHas(2);
  t.deepEqual(fromPeer[1], Buffer.concat([Buffer.from([0, 3, 0, 2]), Buffer.from('BBBBBBBB')]));
  ack(1); // duplicate: the chain waits for ACK 2, so this one goes to the callback
  ack(2);
  await untilPeerHas(3);
  t.deepEqual(fromPeer[2], Buffer.concat([Buffer.from([0, 3, 0, 3]), Buffer.from('CCCC')]));
  t.is(conn.takeServed(), 2);
  t.is(conn.takeServed(), 0);
  peer.send('a-datagram-longer-than-8', conn.localPort, '127.0.0.1'); // the chain is done: to the callback
  await closed;
  t.deepEqual(seen, [
    { bytes: '00040001', truncated: false, shares: true },
    { bytes: Buffer.from('a-datagr').toString('hex'), truncated: true, shares: true },
  ]);
  t.is(fromPeer.length, 3, 'nothing else was sent');
  t.is(conn.send(Buffer.from('late')), 9, 'EBADF after close');
  t.is(t.throws(() => conn.onDatagram(buffer, () => undefined), { instanceOf: NativeNetError })?.code, 'NET_EBADF');
  t.is(t.throws(() => UdpConnection.open('127.0.0.1', 'not-an-ip', 69), { instanceOf: NativeNetError })?.code, 'NET_EINVAL');
  t.is(t.throws(() => UdpConnection.open('10.255.255.254', '127.0.0.1', 69), { instanceOf: NativeNetError })?.code, 'NET_EADDRNOTAVAIL');
});

test('RaSender on an unknown interface fails with RaSenderError', async (t) => {
  const sender = new RaSender({
    interfaceName: 'nosuchif0', clock: systemClock,
    advertisement: { curHopLimit: 64, managed: false, other: false, routerLifetimeS: 0, reachableTimeMs: 0, retransTimerMs: 0, prefixes: [] },
  });
  const err = await t.throwsAsync(sender.start(), { instanceOf: RaSenderError });
  t.is(err?.code, 'NET_ENODEV');
});

test('router advertisements reach a Linux host (default route, SLAAC address) and solicitations are answered', async (t) => {
  const srv = await Netns.create('ras');
  const cli = await Netns.create('rac');
  const procs: Proc[] = [];
  t.teardown(async () => {
    for (const p of procs) await p.kill();
    await srv.destroy();
    await cli.destroy();
  });
  await vethPair({ ns: srv, ifname: `ras${process.pid % 10000}` }, { ns: cli, ifname: `rac${process.pid % 10000}` });
  const srvIf = `ras${process.pid % 10000}`;
  const cliIf = `rac${process.pid % 10000}`;
  // Accept RAs (and autoconfigure) on the client; no duplicate address detection delay.
  await cli.exec('sysctl', ['-qw', `net.ipv6.conf.${cliIf}.accept_ra=2`, `net.ipv6.conf.${cliIf}.accept_dad=0`]);
  await srv.exec('sysctl', ['-qw', `net.ipv6.conf.${srvIf}.accept_dad=0`]);
  // Both sides need their link-local address before ICMPv6 can leave them.
  await until('link-local addresses', 10_000, async () => {
    const a = (await srv.exec('ip', ['-6', 'addr', 'show', 'dev', srvIf])).stdout;
    const b = (await cli.exec('ip', ['-6', 'addr', 'show', 'dev', cliIf])).stdout;
    return /fe80::.*scope link\s*$/m.test(a) && !/tentative/.test(a) && /fe80::/.test(b) && !/tentative/.test(b) ? true : undefined;
  });
  const server = startProc(...srv.wrap('node', [PROBE, 'ra-server', srvIf]));
  procs.push(server);
  await server.waitFor(/^ready$/m, 10_000);

  const route = await until('a default route learned from the RA', 15_000, async () => {
    const r = (await cli.exec('ip', ['-6', 'route', 'show', 'default'])).stdout;
    return /via fe80::\S+ dev \S+ proto ra/.test(r) ? r : undefined;
  });
  t.regex(route, new RegExp(`dev ${cliIf}`));
  const addr = await until('a SLAAC address in fd42:77::/64', 15_000, async () => {
    const r = (await cli.exec('ip', ['-6', 'addr', 'show', 'dev', cliIf])).stdout;
    return /inet6 fd42:77::\S+\/64 scope global/.test(r) ? r : undefined;
  });
  t.regex(addr, /dynamic/);

  const client = startProc(...cli.wrap('node', [PROBE, 'rs-client', cliIf]));
  procs.push(client);
  const heard = await client.waitFor(/^ra (fe80::\S+) (\d+)$/m, 10_000);
  t.true(Number(heard[2]) >= 16, 'an RA of at least its header');
  await client.kill();
  await server.kill();
  const counters = JSON.parse((await server.waitFor(/^counters (.*)$/m, 5000))[1]!);
  t.true(counters.solicitations >= 1, 'the solicitation was heard');
  t.true(counters.sent >= 2, 'the periodic RA and the answer');
  t.is(counters.errors, 0);
  t.regex(server.output(), /ra: router solicitation from fe80::/);
});
