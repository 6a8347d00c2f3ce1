// 1,000 simulated nodes behind a mix of NATs (public, endpoint-independent, symmetric) join at once
// and each claims a virtual IP through the DHT (VipLease, as `overlay up` does): no address may be
// held by two live nodes, and the DHT must name exactly one owner for each. Symmetric pairs have no
// direct path, so the overlay needs its relay edges and routing to get there.
import test from 'ava';
import { Subnet, VipLease } from '../../dhcp/vip/index.js';
import { leaseKey } from '../../dhcp/vip/lease-record.js';
import { seededRandom } from '../../lib/random.js';
import { intToIpv4 } from '../../lib/ipv4.js';
import { Simulation } from '../../simulations/simulation.js';

const NODES = 1_000;
const SUBNET = Subnet.parse('10.128.0.0/21'); // 2,046 hosts: half of them taken at the end

test('1,000 nodes behind NATs join at once and claim virtual IPs: never one address twice', async (t) => {
  const sim = new Simulation(Number(process.env.VIP_STORM_SEED ?? 4242), {}, {}, { nat: { none: 0.3, eim: 0.5, symmetric: 0.2 } });
  t.teardown(() => sim.stopAll());
  const claims: Array<{ lease: VipLease; vip?: number; error?: string; lost: number }> = [];
  for (let i = 0; i < NODES; i++) {
    const sn = sim.addNode();
    const random = seededRandom(i + 1);
    const c = { lost: 0 } as (typeof claims)[number];
    // As the virtual network does: a lost lease is claimed anew under another address.
    const claim = () => {
      c.lease = new VipLease({ dht: sn.node.dht, clock: sn.clock, random, ownerKey: sn.identity.publicKey }, { network: 'sim', subnet: SUBNET });
      c.vip = undefined;
      c.lease.onLost(() => {
        c.lost++;
        claim();
      });
      c.lease.claim().then((v) => (c.vip = v), (err: Error) => (c.error = err.message));
    };
    claim();
    claims.push(c);
    await sim.runFor(2); // all within two virtual seconds
  }
  for (let i = 0; i < 60 && claims.some((c) => c.vip === undefined && c.error === undefined); i++) await sim.runFor(10_000);
  await sim.runFor(70_000); // past the read-backs after use (verifyAfterMs: the last at 60 s)
  const kinds = new Map<string, number>();
  for (const sn of sim.nodes.values()) kinds.set(sn.nat!, (kinds.get(sn.nat!) ?? 0) + 1);
  t.log(`NATs: ${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}; relay edges built ${sim.counterTotal('relay_links_up')}, dial failures ${sim.counterTotal('dial_failures')}`);

  const failed = claims.filter((c) => c.vip === undefined);
  t.log(`claims: ${NODES - failed.length} held, ${failed.length} failed (${[...new Set(failed.map((c) => c.error))].join('; ')}); conflicts ${claims.reduce((s, c) => s + c.lease.stats.conflicts, 0)}, yielded in probation ${claims.reduce((s, c) => s + c.lease.stats.raceLosses, 0)}, given up after use ${claims.reduce((s, c) => s + c.lost, 0)}`);
  t.true(failed.length <= NODES / 100, `${failed.length} claims failed`);

  // No address held twice by live leases...
  const holders = new Map<number, number>();
  for (const c of claims) if (c.lease.vip !== undefined) holders.set(c.lease.vip, (holders.get(c.lease.vip) ?? 0) + 1);
  const doubles = [...holders].filter(([, n]) => n > 1).map(([v]) => intToIpv4(v));
  t.deepEqual(doubles, []);

  // ...and the DHT names exactly that one owner for a sample of them.
  const asker = sim.randomNode();
  const sample = [...holders.keys()].slice(0, 100);
  const answers: number[] = [];
  for (const v of sample) {
    let n = -1;
    asker.node.dht.get(leaseKey('sim', intToIpv4(v))).then((r) => (n = r.length), () => (n = -2));
    for (let waited = 0; n === -1 && waited < 60_000; waited += 1_000) await sim.runFor(1_000); // a get may retry
    answers.push(n);
  }
  t.deepEqual(answers.filter((n) => n !== 1), [], 'records per sampled address');
});
