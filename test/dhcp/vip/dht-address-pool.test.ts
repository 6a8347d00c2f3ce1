import test from 'ava';
import { seededRandom } from '../../../lib/random.js';
import { DhtAddressPool, MemoryDhtStore, Subnet, VipLease } from '../../../dhcp/vip/index.js';
import { ManualClock } from '../../vnet/manual-clock.js';

const NET = 'pooltest';

function world(cidr = '10.150.0.0/24') {
  const clock = new ManualClock();
  const random = seededRandom(9);
  const store = new MemoryDhtStore(clock);
  const subnet = Subnet.parse(cidr);
  const node = (exclude?: string[]) => {
    const ownerKey = random.bytes(32);
    const dht = store.dhtFor(ownerKey);
    const pool = new DhtAddressPool({ dht, clock, random, ownerKey, now: () => 1_700_000_000_000 + clock.now() }, { network: NET, subnet, exclude });
    return { ownerKey, dht, pool };
  };
  return { clock, random, store, subnet, node };
}

test('offer, claim, renew and release a VM address through DHT records', async (t) => {
  const w = world();
  const n = w.node();
  const offered = await n.pool.offer('vm-a', '10.150.0.50');
  t.is(offered, '10.150.0.50');
  const lease = await n.pool.claim('vm-a', offered!, 600);
  t.truthy(lease);
  t.deepEqual(w.store.snapshot().map((s) => s.key), [`dhcp/${NET}/10.150.0.50`]);
  t.is((await n.pool.leaseOf('vm-a'))?.address, '10.150.0.50');
  // Renewal (same client, same address) refreshes the record.
  await w.clock.advance(500_000);
  t.truthy(await n.pool.claim('vm-a', '10.150.0.50', 600));
  await w.clock.advance(500_000);
  t.is(w.store.snapshot().length, 1);
  await n.pool.release('vm-a', '10.150.0.50');
  t.is(w.store.snapshot().length, 0);
  t.is(await n.pool.leaseOf('vm-a'), undefined);
});

test('never an address another node, or another VM of ours, holds', async (t) => {
  const w = world();
  const a = w.node();
  const b = w.node();
  // Node a's own virtual IP and one of its VMs.
  const own = new VipLease({ dht: a.dht, clock: w.clock, random: w.random, ownerKey: a.ownerKey }, { network: NET, subnet: w.subnet, preferred: 0x0a960005, confirmMs: 0 });
  await own.claim();
  t.truthy(await a.pool.claim('vm-1', '10.150.0.6', 600));
  // b asks for both: refused at offer and at claim.
  t.not(await b.pool.offer('vm-x', '10.150.0.5'), '10.150.0.5');
  t.is(await b.pool.claim('vm-x', '10.150.0.5', 600), undefined);
  t.is(await b.pool.claim('vm-x', '10.150.0.6', 600), undefined);
  // a's other VM cannot take a's own address or vm-1's.
  t.is(await a.pool.claim('vm-2', '10.150.0.5', 600), undefined);
  t.is(await a.pool.claim('vm-2', '10.150.0.6', 600), undefined);
});

test('many VMs on two nodes get distinct addresses', async (t) => {
  const w = world('10.150.0.0/26'); // 62 hosts
  const nodes = [w.node(), w.node()];
  const got: string[] = [];
  for (let i = 0; i < 40; i++) {
    const n = nodes[i % 2]!;
    const addr = await n.pool.offer(`vm-${i}`);
    t.truthy(addr);
    t.truthy(await n.pool.claim(`vm-${i}`, addr!, 600));
    got.push(addr!);
  }
  t.is(new Set(got).size, 40);
  t.is(w.store.snapshot().length, 40);
});

test('a client moving to another address gives up the old record; decline holds the address', async (t) => {
  const w = world();
  const n = w.node(['10.150.0.1']);
  t.false(n.pool.contains('10.150.0.1'));
  t.false(n.pool.contains('10.150.1.1'));
  t.false(n.pool.contains('nonsense'));
  await n.pool.claim('vm-a', '10.150.0.20', 600);
  await n.pool.claim('vm-a', '10.150.0.21', 600);
  t.deepEqual(w.store.snapshot().map((s) => s.key), [`dhcp/${NET}/10.150.0.21`]);
  t.false(await n.pool.decline('spoofer', '10.150.0.21'), 'a DECLINE from a client it is not leased to is ignored');
  t.is(w.store.snapshot().length, 1);
  t.true(await n.pool.decline('vm-a', '10.150.0.21'));
  t.is(w.store.snapshot().length, 0);
  t.is(await n.pool.claim('vm-b', '10.150.0.21', 600), undefined);
  await w.clock.advance(10 * 60_000 + 1);
  t.truthy(await n.pool.claim('vm-b', '10.150.0.21', 600));
});
