import test from 'ava';
import { seededRandom } from '../../../lib/random.js';
import { addressOfKey } from '../../../overlay/identity.js';
import { intToIpv4, ipv4ToInt } from '../../../lib/ipv4.js';
import { MemoryDhtStore, Subnet, VipDirectory, VipLease, VipLeaseError, DEFAULT_VERIFY_AFTER_MS, leaseKey, encodeLeaseRecord } from '../../../dhcp/vip/index.js';
import { ManualClock, flush } from '../../vnet/manual-clock.js';

const NET = 'testnet';

function world(seed = 1) {
  const clock = new ManualClock();
  const random = seededRandom(seed);
  const store = new MemoryDhtStore(clock);
  // No probation by default (the manual clock would have to be advanced); its own tests set it.
  const node = (subnet = Subnet.parse('10.128.0.0/16'), extra: { preferred?: number; ttlMs?: number; maxAttempts?: number; confirmMs?: number; verifyAfterMs?: number[]; useDuringProbation?: boolean } = {}) => {
    const ownerKey = random.bytes(32);
    const dht = store.dhtFor(ownerKey);
    const lease = new VipLease({ dht, clock, random, ownerKey }, { network: NET, subnet, confirmMs: 0, ...extra });
    return { ownerKey, dht, lease };
  };
  return { clock, random, store, node };
}

test('claims the preferred address when free', async (t) => {
  const w = world();
  const a = w.node(undefined, { preferred: ipv4ToInt('10.128.3.4') });
  t.is(intToIpv4(await a.lease.claim()), '10.128.3.4');
  t.deepEqual(w.store.snapshot().map((s) => s.key), ['dhcp/testnet/10.128.3.4']);
});

test('a taken preferred address moves on to another one', async (t) => {
  const w = world();
  const a = w.node(undefined, { preferred: ipv4ToInt('10.128.3.4') });
  const b = w.node(undefined, { preferred: ipv4ToInt('10.128.3.4') });
  await a.lease.claim();
  const vb = await b.lease.claim();
  t.not(intToIpv4(vb), '10.128.3.4');
  t.true(Subnet.parse('10.128.0.0/16').isHost(vb));
  t.is(b.lease.stats.conflicts, 1);
});

test('a preferred address outside the subnet is refused', (t) => {
  const w = world();
  const err = t.throws(() => w.node(undefined, { preferred: ipv4ToInt('10.129.0.1') }));
  t.is((err as VipLeaseError).code, 'BAD_PREFERRED');
});

test('20 nodes joining at once all get distinct addresses', async (t) => {
  const w = world(7);
  // A /27 (30 hosts) keeps collisions likely, so the conflict path really runs.
  const nodes = Array.from({ length: 20 }, () => w.node(Subnet.parse('10.128.0.0/27')));
  const vips = await Promise.all(nodes.map((n) => n.lease.claim()));
  t.is(new Set(vips).size, 20);
  t.true(nodes.reduce((s, n) => s + n.lease.stats.conflicts, 0) > 0);
  t.is(w.store.snapshot().length, 20);
});

test('1,000 nodes joining at once never share an address (DHT double)', async (t) => {
  const w = world(11);
  const subnet = Subnet.parse('10.128.0.0/22'); // 1,022 hosts: nearly full
  const nodes = Array.from({ length: 1000 }, () => w.node(subnet, { maxAttempts: 1022 }));
  const vips = await Promise.all(nodes.map((n) => n.lease.claim()));
  t.is(new Set(vips).size, 1000);
  t.true(vips.every((v) => subnet.isHost(v)));
});

test('a full subnet gives VipLeaseError EXHAUSTED', async (t) => {
  const w = world(3);
  const subnet = Subnet.parse('10.128.0.0/30'); // two hosts
  await w.node(subnet).lease.claim();
  await w.node(subnet).lease.claim();
  const err = await t.throwsAsync(w.node(subnet).lease.claim());
  t.is((err as VipLeaseError).code, 'EXHAUSTED');
});

test('renewal keeps the lease alive past its TTL; release frees it for others', async (t) => {
  const w = world();
  const a = w.node(undefined, { preferred: ipv4ToInt('10.128.0.9'), ttlMs: 60_000 });
  await a.lease.claim();
  await w.clock.advance(600_000);
  t.true(a.lease.stats.renewals >= 25);
  t.is(a.lease.vip, ipv4ToInt('10.128.0.9'));
  const b = w.node(undefined, { preferred: ipv4ToInt('10.128.0.9') });
  t.not(await b.lease.claim(), ipv4ToInt('10.128.0.9'));
  await a.lease.release();
  t.is(w.clock.pendingTimers, 1 + DEFAULT_VERIFY_AFTER_MS.length); // only b's renewal and its read-backs after use are left
  const c = w.node(undefined, { preferred: ipv4ToInt('10.128.0.9') });
  t.is(await c.lease.claim(), ipv4ToInt('10.128.0.9'));
});

test('a crashed node (no renewals, no release) frees its address after the TTL', async (t) => {
  const w = world();
  const a = w.node(undefined, { preferred: ipv4ToInt('10.128.0.9'), ttlMs: 60_000 });
  await a.lease.claim();
  // Crash: its timers stop (and its DHT view is gone).
  w.store.down.add(Buffer.from(a.ownerKey).toString('hex'));
  (a.lease as unknown as { timer?: { cancel(): void } }).timer?.cancel();
  await w.clock.advance(60_001);
  const b = w.node(undefined, { preferred: ipv4ToInt('10.128.0.9') });
  t.is(await b.lease.claim(), ipv4ToInt('10.128.0.9'));
});

test('renewals failing until expiry lose the lease (reported once)', async (t) => {
  const w = world();
  const a = w.node(undefined, { ttlMs: 60_000 });
  const vip = await a.lease.claim();
  const lost: Array<[number, string]> = [];
  a.lease.onLost((v, r) => lost.push([v, r]));
  w.store.down.add(Buffer.from(a.ownerKey).toString('hex'));
  await w.clock.advance(120_000);
  t.is(lost.length, 1);
  t.is(lost[0]![0], vip);
  t.regex(lost[0]![1], /renewal failed until expiry/);
  t.is(a.lease.vip, undefined);
  t.true(a.lease.stats.renewFailures >= 2);
});

test('after a partition longer than the TTL, a renewal conflict reports the loss', async (t) => {
  const w = world();
  const a = w.node(undefined, { preferred: ipv4ToInt('10.128.0.20'), ttlMs: 60_000 });
  await a.lease.claim();
  const lost: string[] = [];
  a.lease.onLost((_v, r) => lost.push(r));
  // The record expires while a's renewal timer is late (e.g. the process was suspended).
  (a.lease as unknown as { timer?: { cancel(): void } }).timer?.cancel();
  await w.clock.advance(61_000);
  const b = w.node(undefined, { preferred: ipv4ToInt('10.128.0.20') });
  t.is(await b.lease.claim(), ipv4ToInt('10.128.0.20'));
  await (a.lease as unknown as { renew(): Promise<void> }).renew();
  t.is(lost.length, 1);
  t.regex(lost[0]!, /another node holds the address/);
});

test('a DHT race leaving another live owner: the claimant yields, whatever the keys', async (t) => {
  const w = world();
  const vip = ipv4ToInt('10.128.0.31');
  const key = leaseKey(NET, '10.128.0.31');
  const large = new Uint8Array(32).fill(0xff); // larger than any random key: an established holder keeps it anyway
  await w.store.dhtFor(large).put(key, encodeLeaseRecord({ vip, clientId: '' }), 60_000);
  const a = w.node(undefined, { preferred: vip });
  (a.dht as { create: typeof a.dht.create }).create = a.dht.put; // the race: create does not see it
  t.not(await a.lease.claim(), vip);
  t.is(a.lease.stats.raceLosses, 1);
});

test("probation: a copy that reaches the key's primary after the create makes the claimant yield", async (t) => {
  const w = world();
  const vip = ipv4ToInt('10.128.0.32');
  const key = leaseKey(NET, '10.128.0.32');
  const a = w.node(undefined, { preferred: vip, confirmMs: 1_000 });
  let got: number | undefined;
  const claiming = a.lease.claim().then((v) => (got = v));
  await flush();
  t.is(got, undefined); // still on probation
  // Re-replication brings an earlier claim by someone else to the primary during the probation.
  await w.store.dhtFor(w.random.bytes(32)).put(key, encodeLeaseRecord({ vip, clientId: '' }), 60_000);
  for (let i = 0; i < 40 && got === undefined; i++) await w.clock.advance(1_000);
  await claiming;
  t.not(got, vip);
  t.is(a.lease.stats.raceLosses, 1);
  // Without a rival the probation passes and the address is kept.
  const b = w.node(undefined, { preferred: ipv4ToInt('10.128.0.33'), confirmMs: 1_000 });
  let gotB: number | undefined;
  const claimingB = b.lease.claim().then((v) => (gotB = v));
  for (let i = 0; i < 5 && gotB === undefined; i++) await w.clock.advance(500);
  await claimingB;
  t.is(gotB, ipv4ToInt('10.128.0.33'));
});

test('useDuringProbation: the address is handed out before the probation; a rival found at its end takes it away', async (t) => {
  const w = world();
  const vip = ipv4ToInt('10.128.0.34');
  const key = leaseKey(NET, '10.128.0.34');
  const a = w.node(undefined, { preferred: vip, confirmMs: 1_000, useDuringProbation: true });
  const lost: string[] = [];
  a.lease.onLost((_v, why) => lost.push(why));
  t.is(await a.lease.claim(), vip); // no clock advance: nothing waited for the probation
  t.is(a.lease.vip, vip);
  // An earlier claim by someone else reaches the key's primary during the probation.
  await w.store.dhtFor(w.random.bytes(32)).put(key, encodeLeaseRecord({ vip, clientId: '' }), 60_000);
  await w.clock.advance(1_001);
  t.is(a.lease.vip, undefined);
  t.is(a.lease.stats.raceLosses, 1);
  t.regex(lost.join(), /at the same time/);
  t.false((await a.dht.get(key)).some((r) => Buffer.compare(Buffer.from(r.owner), Buffer.from(a.ownerKey)) === 0));
  // Without a rival the address stays through the probation and the read-backs after it.
  const b = w.node(undefined, { preferred: ipv4ToInt('10.128.0.35'), confirmMs: 1_000, useDuringProbation: true });
  const lostB: string[] = [];
  b.lease.onLost((_v, why) => lostB.push(why));
  t.is(await b.lease.claim(), ipv4ToInt('10.128.0.35'));
  for (let i = 0; i < 70; i++) await w.clock.advance(1_000);
  t.is(b.lease.vip, ipv4ToInt('10.128.0.35'));
  t.deepEqual(lostB, []);
  // A release during the probation cancels its read-back.
  const c = w.node(undefined, { preferred: ipv4ToInt('10.128.0.36'), confirmMs: 1_000, useDuringProbation: true });
  await c.lease.claim();
  await c.lease.release();
  await w.clock.advance(1_001);
  t.is(c.lease.stats.raceLosses, 0);
});

test('a DHT race leaving two live owners: the larger key gives the address up', async (t) => {
  const w = world();
  const vip = ipv4ToInt('10.128.0.30');
  const key = leaseKey(NET, '10.128.0.30');
  // Another owner's record slipped in through `put` (as if replicas disagreed during the create).
  const small = new Uint8Array(32); // all zeros: smaller than any random key
  await w.store.dhtFor(small).put(key, encodeLeaseRecord({ vip, clientId: '' }), 60_000);
  const a = w.node(undefined, { preferred: vip });
  (a.dht as { create: typeof a.dht.create }).create = a.dht.put; // the race: create does not see it
  const got = await a.lease.claim();
  t.not(got, vip);
  t.is(a.lease.stats.raceLosses, 1);
  const owners = (await a.dht.get(key)).map((r) => Buffer.from(r.owner).toString('hex'));
  t.deepEqual(owners, [Buffer.from(small).toString('hex')]);
});

test('read-backs after use: a double found later is given up by the larger key only', async (t) => {
  const w = world();
  const small = new Uint8Array(32); // smaller than any random key
  const large = new Uint8Array(32).fill(0xff);
  const claimWithRivalLater = async (vipText: string, rival: Uint8Array) => {
    const vip = ipv4ToInt(vipText);
    const a = w.node(undefined, { preferred: vip, verifyAfterMs: [5_000] });
    const lost: string[] = [];
    a.lease.onLost((_v, why) => lost.push(why));
    t.is(await a.lease.claim(), vip);
    // A claim made elsewhere during the storm reaches the key's primary only now.
    await w.store.dhtFor(rival).put(leaseKey(NET, vipText), encodeLeaseRecord({ vip, clientId: '' }), 60_000);
    await w.clock.advance(5_001);
    return { a, lost };
  };
  const loser = await claimWithRivalLater('10.128.0.40', small);
  t.is(loser.a.lease.vip, undefined);
  t.is(loser.a.lease.stats.lateRivals, 1);
  t.regex(loser.lost.join(), /another node claimed the address/);
  t.false((await loser.a.dht.get(leaseKey(NET, '10.128.0.40'))).some((r) => Buffer.compare(Buffer.from(r.owner), Buffer.from(loser.a.ownerKey)) === 0));
  const keeper = await claimWithRivalLater('10.128.0.41', large);
  t.is(keeper.a.lease.vip, ipv4ToInt('10.128.0.41'));
  t.deepEqual(keeper.lost, []);
});

test('directory: resolves vIP to the owner ring address, caches, refreshes, forgets expired', async (t) => {
  const w = world();
  const a = w.node(undefined, { ttlMs: 60_000 });
  const vip = await a.lease.claim();
  const observer = w.node();
  const dir = new VipDirectory({ dht: observer.dht, clock: w.clock }, { network: NET, cacheTtlMs: 10_000, negativeTtlMs: 1_000 });
  t.is(dir.lookup(vip), undefined); // never does I/O
  const [r1, r2] = await Promise.all([dir.resolve(vip), dir.resolve(vip)]);
  t.is(r1, addressOfKey(a.ownerKey));
  t.is(r2, r1);
  t.is(dir.stats.queries, 1);
  t.is(dir.lookup(vip), r1);
  await w.clock.advance(11_000);
  t.is(dir.lookup(vip), r1); // stale but valid: answers, refreshes in the background
  await flush();
  t.is(dir.stats.queries, 2);
  // Unknown addresses: negative answers are cached briefly.
  const free = ipv4ToInt('10.128.200.200');
  t.is(await dir.resolve(free), undefined);
  t.is(await dir.resolve(free), undefined);
  t.is(dir.stats.queries, 3);
  await w.clock.advance(1_001);
  await dir.resolve(free);
  t.is(dir.stats.queries, 4);
  // Release: after the cached answer expires the address resolves to nobody.
  await a.lease.release();
  await w.clock.advance(10_001);
  t.is(await dir.resolve(vip), undefined);
});

test('directory ignores records that are not lease records for that address', async (t) => {
  const w = world();
  const bad = w.node();
  await bad.dht.put(leaseKey(NET, '10.128.1.1'), new Uint8Array([9, 9, 9]), 60_000);
  await bad.dht.put(leaseKey(NET, '10.128.1.2'), encodeLeaseRecord({ vip: ipv4ToInt('10.128.1.3'), clientId: '' }), 60_000);
  const dir = new VipDirectory({ dht: w.node().dht, clock: w.clock }, { network: NET });
  t.is(await dir.resolve(ipv4ToInt('10.128.1.1')), undefined);
  t.is(await dir.resolve(ipv4ToInt('10.128.1.2')), undefined);
});

test('directory refresh: an address that changed hands is re-resolved, at most once per interval', async (t) => {
  const w = world();
  const vip = ipv4ToInt('10.128.0.40');
  const a = w.node(undefined, { preferred: vip });
  await a.lease.claim();
  const dir = new VipDirectory({ dht: w.node().dht, clock: w.clock }, { network: NET, refreshIntervalMs: 1_000 });
  t.is(await dir.resolve(vip), addressOfKey(a.ownerKey));
  await a.lease.release();
  const c = w.node(undefined, { preferred: vip });
  await c.lease.claim();
  t.is(dir.lookup(vip), addressOfKey(a.ownerKey)); // cached, stale
  await w.clock.advance(1_000);
  dir.refresh(vip);
  dir.refresh(vip); // rate-limited: one query
  await flush();
  t.is(dir.lookup(vip), addressOfKey(c.ownerKey));
  t.is(dir.stats.queries, 2);
});
