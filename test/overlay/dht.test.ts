// The DHT over a small simulated overlay: real OverlayNodes, simulated links, virtual time.
import test from 'ava';
import { Identity } from '../../overlay/identity.js';
import { encodeDhtMessage } from '../../overlay/dht/dht-messages.js';
import { signRecord } from '../../overlay/dht/record.js';
import { LOCAL_DHT } from '../../overlay/node/app-tags.js';
import { keyToAddress, ringDist } from '../../overlay/ring/ring.js';
import { encodeLinkFrame, FRAME_LOCAL } from '../../overlay/wire/link-frame.js';
import { defaultOverlayOptions, type OverlayOptions } from '../../overlay/node/options.js';
import { Simulation, type SimNode } from '../../simulations/simulation.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

async function network(n: number, seed: number, options: Partial<OverlayOptions> = {}): Promise<Simulation> {
  const sim = new Simulation(seed, options);
  for (let i = 0; i < n; i++) {
    sim.addNode();
    await sim.runFor(500);
  }
  await sim.runFor(60_000);
  return sim;
}

/** Resolves a promise by running virtual time until it settles. */
async function settle<T>(sim: Simulation, p: Promise<T>, maxMs = 60_000): Promise<T> {
  let done = false;
  const q = p.finally(() => (done = true));
  for (let waited = 0; !done && waited < maxMs; waited += 100) await sim.runFor(100);
  return q;
}

function holders(sim: Simulation, key: Uint8Array): SimNode[] {
  // The store is internal to the node; tests look inside to count copies.
  return [...sim.nodes.values()].filter((sn) => (sn.node as unknown as { dhtService: { store: { lookup(k: Uint8Array, now: number): unknown[] } } }).dhtService.store.lookup(key, sim.clock.now()).length > 0);
}

test('put then get from another node; values are stored on at least 3 nodes, the closest ones', async (t) => {
  const sim = await network(30, 1);
  t.teardown(() => sim.stopAll());
  const [a, b] = [sim.randomNode(), sim.randomNode()];
  const key = enc.encode('images/debian/12');
  await settle(sim, a.node.dht.put(key, enc.encode('v1'), 600_000));
  const got = await settle(sim, b.node.dht.get(key));
  t.is(got.length, 1);
  t.is(dec.decode(got[0]!.value), 'v1');
  t.deepEqual(got[0]!.owner, a.identity.publicKey);
  t.true(got[0]!.ttlMs > 500_000 && got[0]!.ttlMs <= 600_000);
  const held = holders(sim, key);
  t.true(held.length >= 3, `held by ${held.length}`);
  // The three nodes closest to the key's position are among the holders.
  const pos = keyToAddress(key);
  const byRing = sim.sortedAddresses().sort((x, y) => (ringDist(x, pos) < ringDist(y, pos) ? -1 : 1)).slice(0, 3);
  for (const addr of byRing) t.true(held.some((h) => h.node.address === addr));
});

test('create: a second owner gets DhtConflictError while the first holds a live value; the owner refreshes; after expiry it is free', async (t) => {
  const sim = await network(20, 2);
  t.teardown(() => sim.stopAll());
  const [a, b] = [sim.randomNode(), sim.randomNode()];
  t.not(a, b);
  const key = enc.encode('dhcp/testnet/10.1.0.5');
  await settle(sim, a.node.dht.create(key, enc.encode('a'), 30_000));
  const err = await settle(sim, b.node.dht.create(key, enc.encode('b'), 30_000).then(() => undefined, (e: Error) => e));
  t.is(err?.name, 'DhtConflictError');
  await settle(sim, a.node.dht.create(key, enc.encode('a2'), 30_000));
  const got = await settle(sim, b.node.dht.get(key));
  t.deepEqual(got.map((r) => dec.decode(r.value)), ['a2']);
  await sim.runFor(31_000);
  t.deepEqual(await settle(sim, b.node.dht.get(key)), []);
  await settle(sim, b.node.dht.create(key, enc.encode('b'), 30_000));
  t.deepEqual((await settle(sim, a.node.dht.get(key))).map((r) => dec.decode(r.value)), ['b']);
});

test('concurrent creates on one key: exactly one wins', async (t) => {
  const sim = await network(20, 3);
  t.teardown(() => sim.stopAll());
  const nodes = [...sim.nodes.values()].slice(0, 5);
  const key = enc.encode('lease/x');
  const results = await settle(sim, Promise.allSettled(nodes.map((n, i) => n.node.dht.create(key, enc.encode(`n${i}`), 60_000))));
  const won = results.filter((r) => r.status === 'fulfilled').length;
  t.is(won, 1);
  for (const r of results) if (r.status === 'rejected') t.is((r.reason as Error).name, 'DhtConflictError');
  t.is((await settle(sim, nodes[0]!.node.dht.get(key))).length, 1);
});

test('remove hides the value; put values of several owners all come back', async (t) => {
  const sim = await network(20, 4);
  t.teardown(() => sim.stopAll());
  const [a, b, c] = [...sim.nodes.values()];
  const key = enc.encode('sharers/img');
  await settle(sim, a!.node.dht.put(key, enc.encode('a'), 60_000));
  await settle(sim, b!.node.dht.put(key, enc.encode('b'), 60_000));
  t.deepEqual((await settle(sim, c!.node.dht.get(key))).map((r) => dec.decode(r.value)).sort(), ['a', 'b']);
  await settle(sim, a!.node.dht.remove(key));
  t.deepEqual((await settle(sim, c!.node.dht.get(key))).map((r) => dec.decode(r.value)), ['b']);
});

test('re-replication: after holders crash, the value is copied to new closest nodes and survives', async (t) => {
  const sim = await network(30, 5);
  t.teardown(() => sim.stopAll());
  const writer = sim.randomNode();
  const key = enc.encode('survivor');
  await settle(sim, writer.node.dht.put(key, enc.encode('still here'), 3_600_000));
  for (let round = 0; round < 2; round++) {
    const victim = holders(sim, key).find((h) => h !== writer)!;
    sim.crash(victim.node.address);
    await sim.runFor(120_000); // detection by keepalive timeout, then re-replication
    t.true(holders(sim, key).length >= 3, `round ${round}: ${holders(sim, key).length} holders`);
  }
  const reader = [...sim.nodes.values()].find((n) => n !== writer)!;
  t.deepEqual((await settle(sim, reader.node.dht.get(key))).map((r) => dec.decode(r.value)), ['still here']);
});

test('a hedged get whose primary has just crashed is answered by a stand-in after hedgeMs, not after request timeouts', async (t) => {
  const elapsed: number[] = [];
  for (const hedgeMs of [0, defaultOverlayOptions.dht.hedgeMs]) {
    const sim = await network(20, 8, { dht: { ...defaultOverlayOptions.dht, hedgeMs } });
    t.teardown(() => sim.stopAll());
    const writer = sim.randomNode();
    const key = enc.encode('address/record');
    await settle(sim, writer.node.dht.put(key, enc.encode('v'), 600_000));
    const pos = keyToAddress(key);
    const primary = sim.sortedAddresses().sort((x, y) => (ringDist(x, pos) < ringDist(y, pos) ? -1 : 1))[0]!;
    const reader = [...sim.nodes.values()].find((n) => n !== writer && n.node.address !== primary)!;
    sim.crash(primary);
    const start = sim.clock.now();
    const got = await settle(sim, reader.node.dht.get(key, { hedged: true }));
    elapsed.push(sim.clock.now() - start);
    t.deepEqual(got.map((r) => dec.decode(r.value)), ['v'], `hedgeMs ${hedgeMs}`);
  }
  t.log(`get after the primary crashed: ${elapsed[0]} ms without hedging, ${elapsed[1]} ms with`);
  // Without the hedge the request waits at least one request timeout at the dead primary.
  t.true(elapsed[0]! >= defaultOverlayOptions.dht.requestTimeoutMs, `unhedged ${elapsed[0]} ms`);
  // With it: the hedge delay, then the stand-in's quick gather, which does not wait the replica
  // timeout for the dead replica.
  t.true(elapsed[1]! < defaultOverlayOptions.dht.hedgeMs + defaultOverlayOptions.dht.replicaTimeoutMs / 2, `hedged ${elapsed[1]} ms`);
});

test('a forged record pushed by a member is refused on store', async (t) => {
  const sim = await network(10, 6);
  t.teardown(() => sim.stopAll());
  const victim = sim.randomNode();
  const mallory = Identity.fromSeed(new Uint8Array(32).fill(66));
  const alice = Identity.fromSeed(new Uint8Array(32).fill(65));
  const host = sim.net.addHost(mallory.address, mallory.publicKey, 0);
  const [ours, theirs] = sim.net.linkPair(host, victim.host);
  ours.setHandlers({ control() {}, data() {}, close() {} });
  victim.node.addLink(theirs);
  const key = enc.encode('forged');
  const good = signRecord(alice, { key, value: enc.encode('real'), ttlMs: 60_000, seq: 1, tombstone: false });
  const forged = { ...good, value: enc.encode('fake') };
  ours.sendControl(encodeLinkFrame({ type: FRAME_LOCAL, kind: LOCAL_DHT, payload: encodeDhtMessage({ t: 'store', id: 0, exclusive: false, copies: [{ record: forged, ttlLeftMs: 60_000 }] }) }));
  ours.sendControl(new Uint8Array([6, 1, 0xc1])); // malformed DHT payload
  ours.sendControl(new Uint8Array([250, 1, 2])); // malformed frame
  await sim.runFor(1_000);
  t.is(victim.node.counter('dht_invalid_copies'), 1);
  t.is(victim.node.counter('dht_malformed'), 1);
  t.is(victim.node.counter('frames_malformed'), 1);
  t.is(victim.node.status().dhtRecordsHeld, 0);
  ours.sendControl(encodeLinkFrame({ type: FRAME_LOCAL, kind: LOCAL_DHT, payload: encodeDhtMessage({ t: 'store', id: 0, exclusive: false, copies: [{ record: good, ttlLeftMs: 60_000 }] }) }));
  await sim.runFor(1_000);
  t.is(victim.node.status().dhtRecordsHeld, 1);
});

test('an owner whose sequence counter restarted lower (a restart) can still update its value', async (t) => {
  const sim = await network(10, 7);
  t.teardown(() => sim.stopAll());
  const [a, b] = [...sim.nodes.values()];
  const internals = (a!.node as unknown as { dhtService: { seq: number; opts: { seqEpochMs: number } } }).dhtService;
  const key = enc.encode('lease/after-restart');
  internals.opts.seqEpochMs = 1e12; // the previous run numbered its versions from a later epoch
  await settle(sim, a!.node.dht.create(key, enc.encode('before'), 600_000));
  internals.opts.seqEpochMs = 0;
  internals.seq = 0;
  await settle(sim, a!.node.dht.create(key, enc.encode('after'), 600_000));
  t.deepEqual((await settle(sim, b!.node.dht.get(key))).map((r) => dec.decode(r.value)), ['after']);
});
