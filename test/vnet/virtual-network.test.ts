import test from 'ava';
import { seededRandom } from '../../lib/random.js';
import { addressOfKey } from '../../overlay/identity.js';
import { MemoryDhtStore } from '../../dhcp/vip/memory-dht.js';
import { startVirtualNetwork } from '../../src/vnet/index.js';
import { MemoryDevice } from '../../src/tun/memory-device.js';
import type { TunOptions } from '../../src/tun/tun-device.js';
import { FakeNet } from './fake-overlay.js';
import { ManualClock, flush } from './manual-clock.js';
import { ipv4Packet } from './packets.js';

function setup() {
  const clock = new ManualClock();
  const random = seededRandom(5);
  const store = new MemoryDhtStore(clock);
  const net = new FakeNet();
  const devices: Array<MemoryDevice & { opts: TunOptions }> = [];
  const start = async (preferredVip?: string) => {
    const ownerKey = random.bytes(32);
    const overlay = Object.assign(net.node(addressOfKey(ownerKey)), { dht: store.dhtFor(ownerKey) });
    const vnet = await startVirtualNetwork(overlay, {
      network: 'n1',
      subnet: '10.128.0.0/24',
      ownerKey,
      preferredVip,
      clock,
      random,
      leaseTtlMs: 60_000,
      leaseConfirmMs: 0, // manual clock: the probation is covered by the VipLease tests
      openDevice: (o) => {
        const d = Object.assign(new MemoryDevice(o.name, o.mtu), { opts: o });
        devices.push(d);
        return d;
      },
    });
    overlay.dataSink = (p, from) => vnet.receiveLinkData(p, from);
    return { vnet, overlay, ownerKey, device: devices.at(-1)! };
  };
  return { clock, store, net, start, devices };
}

test('two nodes lease distinct vIPs, configure their devices and exchange packets by vIP', async (t) => {
  const s = setup();
  const a = await s.start('10.128.0.10');
  const b = await s.start('10.128.0.10');
  t.is(a.vnet.vip, '10.128.0.10');
  t.not(b.vnet.vip, '10.128.0.10');
  t.deepEqual([a.device.opts.address, a.device.opts.prefixLength, a.device.opts.mtu], ['10.128.0.10', 24, 9000]);
  a.device.inject([ipv4Packet(a.vnet.vip, b.vnet.vip, new Uint8Array([1, 2, 3]))]);
  await flush();
  t.is(b.device.written.length, 1);
  t.is(a.vnet.status().counters.txRouted, 1);
  t.is(a.vnet.status().resolver.queries, 1);
  // With a direct link, the data channel carries it.
  a.overlay.connectDirect(b.overlay);
  b.device.inject([ipv4Packet(b.vnet.vip, a.vnet.vip, new Uint8Array([4]))]);
  await flush();
  t.is(a.device.written.length, 1);
  t.is(b.vnet.status().counters.txDirect, 1);
  t.is(a.vnet.status().counters.rxDirect, 1);
});

test('stop closes the device and releases the lease (the address is free again)', async (t) => {
  const s = setup();
  const a = await s.start('10.128.0.7');
  t.is(s.store.snapshot().length, 1);
  await a.vnet.stop();
  await a.vnet.stop();
  t.true(a.device.closed);
  t.is(s.store.snapshot().length, 0);
  t.is(a.vnet.status().state, 'stopped');
  const b = await s.start('10.128.0.7');
  t.is(b.vnet.vip, '10.128.0.7');
});

test('a lost lease is reclaimed under a new address and the device recreated', async (t) => {
  const s = setup();
  const a = await s.start('10.128.0.7');
  // a is cut off from the DHT past its TTL; b takes the address meanwhile.
  const aKey = Buffer.from(a.ownerKey).toString('hex');
  s.store.down.add(aKey);
  await s.clock.advance(59_000);
  s.store.down.delete(aKey);
  await s.clock.advance(2_000);
  // the record expired at 60 s; b claims it before a's next renewal attempt lands
  const b = await s.start('10.128.0.7');
  t.is(b.vnet.vip, '10.128.0.7');
  await s.clock.advance(10_000);
  const st = a.vnet.status();
  t.is(st.state, 'up');
  t.not(st.vip, '10.128.0.7');
  t.is(st.counters.leaseReclaims, 1);
  t.true(a.device.closed);
  t.true(st.counters.leaseReclaimFailures! >= 1); // first tried while still cut off
  t.true(s.devices.some((d) => d.opts.address === st.vip && !d.closed && d !== a.device));
  await a.vnet.stop();
  await b.vnet.stop();
  t.is(s.clock.pendingTimers, 0);
});
