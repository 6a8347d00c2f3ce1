import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Identity } from '../../overlay/identity.js';
import { MemoryDhtStore } from '../../dhcp/vip/memory-dht.js';
import { virtualNetworkService } from '../../src/vnet/index.js';
import { MemoryDevice } from '../../src/tun/memory-device.js';
import type { NodeContext } from '../../src/node.js';
import type { RingAddress } from '../../overlay/ring/ring.js';
import { FakeNet } from './fake-overlay.js';
import { ManualClock, flush } from './manual-clock.js';
import { ipv4Packet } from './packets.js';
import { encodeFrame, FrameKind } from '../../src/forwarder/index.js';
import { ipv4ToInt } from '../../lib/ipv4.js';

function context(stateDir: string, store: MemoryDhtStore, clock: ManualClock, net: FakeNet) {
  const identity = Identity.generate();
  let dataHandler: ((from: RingAddress, p: Uint8Array) => void) | undefined;
  const overlay = Object.assign(net.node(identity.address), {
    dht: store.dhtFor(identity.publicKey),
    onData: (h: (from: RingAddress, p: Uint8Array) => void) => void (dataHandler = h),
  });
  const logs: string[] = [];
  const ctx = { config: { network: 'svc', stateDir }, identity, overlay, clock, log: (l: string) => logs.push(l) } as unknown as NodeContext;
  return { ctx, logs, identity, deliver: (from: RingAddress, p: Uint8Array) => dataHandler?.(from, p) };
}

test('the service leases, logs and remembers its vIP, takes overlay data, and releases on stop', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vnet-svc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const clock = new ManualClock();
  const store = new MemoryDhtStore(clock);
  const net = new FakeNet();
  const devices: MemoryDevice[] = [];
  const openDevice = (o: { name: string; mtu: number }) => {
    const d = new MemoryDevice(o.name, o.mtu);
    devices.push(d);
    return d;
  };
  writeFileSync(join(dir, 'vip'), '10.140.0.77\n');
  const c = context(dir, store, clock, net);
  const svc = virtualNetworkService({ subnet: '10.140.0.0/16', openDevice, leaseConfirmMs: 0 });
  await svc.start(c.ctx);
  t.is(svc.vnet!.vip, '10.140.0.77'); // remembered address preferred
  t.regex(c.logs.join('\n'), /virtual IP 10\.140\.0\.77 on ovl0/);
  t.is(readFileSync(join(dir, 'vip'), 'utf8').trim(), '10.140.0.77');
  // A packet arriving on a direct link's data channel (overlay.onData) reaches the device.
  const packet = ipv4Packet('10.140.0.5', '10.140.0.77', new Uint8Array(4));
  c.deliver(0x1234n, encodeFrame({ kind: FrameKind.Ipv4, sourceVip: ipv4ToInt('10.140.0.5'), destVip: ipv4ToInt('10.140.0.77'), packets: [packet] }));
  await flush();
  t.is(devices[0]!.written.length, 1);
  t.is((svc.status!() as { counters: Record<string, number> }).counters.rxDirect, 1);
  await svc.stop();
  t.true(devices[0]!.closed);
  t.is(store.snapshot().length, 0);
});

test('a remembered address outside the configured subnet is ignored', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vnet-svc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const clock = new ManualClock();
  writeFileSync(join(dir, 'vip'), '192.168.1.1\n');
  const c = context(dir, new MemoryDhtStore(clock), clock, new FakeNet());
  const svc = virtualNetworkService({ subnet: '10.140.0.0/16', openDevice: (o) => new MemoryDevice(o.name, o.mtu), leaseConfirmMs: 0 });
  await svc.start(c.ctx);
  t.regex(svc.vnet!.vip, /^10\.140\./);
  await svc.stop();
});
