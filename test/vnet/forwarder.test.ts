import test from 'ava';
import fc from 'fast-check';
import { Forwarder, APP_TAG_IP_PACKET, encodeFrame, FrameKind, internetChecksum, type VipResolver } from '../../src/forwarder/index.js';
import { ipv4ToInt } from '../../lib/ipv4.js';
import { MemoryDevice } from '../../src/tun/memory-device.js';
import type { RingAddress } from '../../overlay/ring/ring.js';
import { FakeNet, type FakeOverlay } from './fake-overlay.js';
import { ManualClock, flush } from './manual-clock.js';
import { echoRequest, ipv4Packet } from './packets.js';

class MapResolver implements VipResolver {
  resolves = 0;
  constructor(
    readonly table: Map<number, RingAddress>,
    readonly cached = true,
  ) {}
  lookup(vip: number) {
    return this.cached ? this.table.get(vip) : undefined;
  }
  async resolve(vip: number) {
    this.resolves++;
    return this.table.get(vip);
  }
  refreshed: number[] = [];
  refresh(vip: number) {
    this.refreshed.push(vip);
  }
}

const SUBNET = ipv4ToInt('10.128.0.0');
const A_IP = '10.128.0.1';
const B_IP = '10.128.0.2';

function pair(opts: { cached?: boolean; threshold?: number } = {}) {
  const net = new FakeNet();
  const clock = new ManualClock();
  const table = new Map<number, RingAddress>([
    [ipv4ToInt(A_IP), 0xaan],
    [ipv4ToInt(B_IP), 0xbbn],
  ]);
  const mk = (addr: RingAddress, ip: string) => {
    const overlay = net.node(addr);
    const device = new MemoryDevice(`tun-${ip}`, 1400);
    const resolver = new MapResolver(table, opts.cached ?? true);
    const fwd = new Forwarder({ device, overlay, resolver, clock }, { localVip: ipv4ToInt(ip), subnetBase: SUBNET, prefixLength: 16, shortcutThresholdPackets: opts.threshold ?? 4 });
    overlay.dataSink = (packet, from) => fwd.receiveFrame(packet, from, 'direct');
    return { overlay, device, fwd, resolver };
  };
  return { net, clock, a: mk(0xaan, A_IP), b: mk(0xbbn, B_IP), table };
}

test('without a direct link packets are routed and arrive intact', async (t) => {
  const { a, b } = pair();
  const p = ipv4Packet(A_IP, B_IP, new Uint8Array([1, 2, 3, 4]));
  a.device.inject([p]);
  await flush();
  t.is(a.fwd.counters.txRouted, 1);
  t.is(b.fwd.counters.rxRouted, 1);
  t.deepEqual(b.device.written.map((x) => [...x]), [[...p]]);
});

test('a direct link is preferred over routing', async (t) => {
  const { a, b } = pair();
  a.overlay.connectDirect(b.overlay);
  a.device.inject([ipv4Packet(A_IP, B_IP, new Uint8Array(10)), ipv4Packet(A_IP, B_IP, new Uint8Array(11))]);
  await flush();
  t.is(a.fwd.counters.txDirect, 2);
  t.is(a.overlay.routedSent, 0);
  t.is(b.fwd.counters.rxDirect, 2);
  t.is(b.device.written.length, 2);
  // A closed link falls back to routing.
  a.overlay.links.get(0xbbn)!.close();
  a.device.inject([ipv4Packet(A_IP, B_IP, new Uint8Array(12))]);
  await flush();
  t.is(a.fwd.counters.txRouted, 1);
  t.is(b.device.written.length, 3);
});

test('routed traffic crossing the threshold within one tick asks for one shortcut per tick', async (t) => {
  const { a, clock } = pair({ threshold: 4 });
  const send = (n: number) => a.device.inject(Array.from({ length: n }, () => ipv4Packet(A_IP, B_IP, new Uint8Array(8))));
  send(3);
  t.deepEqual(a.overlay.shortcutRequests, []);
  send(10);
  t.deepEqual(a.overlay.shortcutRequests, [0xbbn]);
  await clock.advance(1000);
  send(3);
  t.is(a.overlay.shortcutRequests.length, 1); // counter reset by the tick: 3 < 4
  send(1);
  t.is(a.overlay.shortcutRequests.length, 2);
  t.is(a.fwd.counters.shortcutRequests, 2);
});

test('an unknown destination gets ICMP host unreachable after one resolve', async (t) => {
  const { a } = pair({ cached: false });
  const req = echoRequest(A_IP, '10.128.7.7');
  a.device.inject([req, req]);
  await flush();
  t.is(a.resolver.resolves, 1); // both packets waited on one query
  t.is(a.fwd.counters.dropUnknownDestination, 2);
  t.is(a.device.written.length, 2);
  const icmp = a.device.written[0]!;
  t.is(icmp[20], 3);
  t.is(icmp[21], 1);
  t.is(internetChecksum(icmp, 20, icmp.length), 0);
});

test('uncached but known destinations are delivered after resolving', async (t) => {
  const { a, b } = pair({ cached: false });
  a.device.inject([ipv4Packet(A_IP, B_IP, new Uint8Array(3)), ipv4Packet(A_IP, B_IP, new Uint8Array(4))]);
  await flush();
  t.is(a.resolver.resolves, 1);
  t.is(b.device.written.length, 2);
});

test('off-subnet gets ICMP net unreachable; broadcast, multicast and garbage are dropped and counted', async (t) => {
  const { a } = pair();
  a.device.inject([
    ipv4Packet(A_IP, '8.8.8.8', new Uint8Array(8)),
    ipv4Packet(A_IP, '10.128.255.255', new Uint8Array(8)),
    ipv4Packet(A_IP, '224.0.0.251', new Uint8Array(8)),
    new Uint8Array([0x10, 0, 0, 0]),
    new Uint8Array(40).fill(0x60, 0, 1), // IPv6: not carried
  ]);
  await flush();
  t.is(a.fwd.counters.dropOffSubnet, 1);
  t.is(a.fwd.counters.dropBroadcast, 2);
  t.is(a.fwd.counters.dropMalformedPacket, 1);
  t.is(a.fwd.counters.dropIpv6, 1);
  t.is(a.device.written.length, 1);
  t.is(a.device.written[0]![21], 0);
});

test('no route: counted drop', async (t) => {
  const { a } = pair();
  a.overlay.unreachable.add(0xbbn);
  a.device.inject([ipv4Packet(A_IP, B_IP, new Uint8Array(8))]);
  await flush();
  t.is(a.fwd.counters.dropNoRoute, 1);
  t.is(a.fwd.counters.txPackets, 0);
  t.deepEqual(a.resolver.refreshed, [ipv4ToInt(B_IP)]);
});

test('receive checks: not for us, header/packet mismatch, spoofed source', async (t) => {
  const { b } = pair();
  const frame = (src: string, dst: string, p = ipv4Packet(src, dst, new Uint8Array(4))) =>
    encodeFrame({ kind: FrameKind.Ipv4, sourceVip: ipv4ToInt(src), destVip: ipv4ToInt(dst), packets: [p] });
  b.fwd.receiveFrame(frame(A_IP, '10.128.0.3'), 0xaan, 'routed');
  b.fwd.receiveFrame(frame(A_IP, B_IP, ipv4Packet('10.128.0.9', B_IP, new Uint8Array(4))), 0xaan, 'routed');
  b.fwd.receiveFrame(frame(A_IP, B_IP), 0xccn, 'routed'); // A's vIP but sent by C
  b.fwd.receiveFrame(frame(A_IP, B_IP), 0xaan, 'routed');
  await flush();
  t.is(b.fwd.counters.dropNotForUs, 1);
  t.is(b.fwd.counters.dropHeaderMismatch, 1);
  t.is(b.fwd.counters.dropSpoofed, 1);
  t.deepEqual(b.resolver.refreshed, [ipv4ToInt(A_IP)]); // maybe the address changed hands: re-check
  t.is(b.device.written.length, 1);
});

test('fuzz: random frames from the network never throw and never reach the device unless valid', async (t) => {
  const { b } = pair();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
      b.fwd.receiveFrame(bytes, 0xaan, 'direct');
    }),
    { numRuns: 3000 },
  );
  await flush();
  t.is(b.device.written.length, 0);
  t.true(b.fwd.counters.dropMalformedFrame > 0);
});

test('the routed app tag is outside the overlay-reserved range and stop() halts forwarding', async (t) => {
  t.true(APP_TAG_IP_PACKET >= 16);
  const { a, b, clock } = pair();
  a.fwd.stop();
  a.device.inject([ipv4Packet(A_IP, B_IP, new Uint8Array(8))]);
  await flush();
  t.is(b.device.written.length, 0);
  t.is(clock.pendingTimers, 1); // only b's tick remains
});

test('a full data channel drops (counted) instead of rerouting and reordering the flow', async (t) => {
  const { a, b } = pair();
  a.overlay.connectDirect(b.overlay);
  const link = a.overlay.links.get(0xbbn)!;
  link.sendData = () => false;
  a.device.inject([ipv4Packet(A_IP, B_IP, new Uint8Array(10))]);
  await flush();
  t.is(a.fwd.counters.dropLinkFull, 1);
  t.is(a.overlay.routedSent, 0);
  t.is(b.device.written.length, 0);
});

test('packets of one read batch for one destination travel as bundles of at most maxBundleBytes', async (t) => {
  const { a, b } = pair();
  a.overlay.connectDirect(b.overlay);
  const link = a.overlay.links.get(0xbbn)!;
  // 20 packets of 1,020 bytes: 16 KiB bundles hold 15 entries (1,022 bytes each).
  const batch = Array.from({ length: 20 }, (_, i) => ipv4Packet(A_IP, B_IP, new Uint8Array(1000).fill(i)));
  a.device.inject(batch);
  await flush();
  t.is(link.sent, 2);
  t.is(a.fwd.counters.txFrames, 2);
  t.is(a.fwd.counters.txBundles, 2);
  t.is(a.fwd.counters.txDirect, 20);
  t.is(b.fwd.counters.rxBundles, 2);
  t.deepEqual(
    b.device.written.map((p) => [...p]),
    batch.map((p) => [...p]),
  ); // all delivered, in order
});

test('a bundle with one bad packet delivers the others', async (t) => {
  const { b } = pair();
  const good = ipv4Packet(A_IP, B_IP, new Uint8Array(4));
  const spoofedInner = ipv4Packet('10.128.0.9', B_IP, new Uint8Array(4));
  const frame = encodeFrame({ kind: FrameKind.Ipv4Bundle, sourceVip: ipv4ToInt(A_IP), destVip: ipv4ToInt(B_IP), packets: [good, spoofedInner, new Uint8Array([1, 2, 3]), good] });
  b.fwd.receiveFrame(frame, 0xaan, 'direct');
  await flush();
  t.is(b.device.written.length, 2);
  t.is(b.fwd.counters.dropHeaderMismatch, 1);
  t.is(b.fwd.counters.dropMalformedPacket, 1);
});
