// Runs a scenario on a Simulation and measures it: joins, a quiet settle, then the measured phase
// with churn, random routed messages and DHT puts/gets. Everything is scheduled on the virtual
// clock from the scenario's seed, so a scenario and seed always give the same figures (wall time
// and memory aside).
import type { RingAddress } from '../overlay/ring/ring.js';
import type { Scenario } from './scenario.js';
import { percentile, Simulation } from './simulation.js';

export interface SimResult {
  scenario: string;
  seed: number;
  /** The first few failed DHT operations, for diagnosis. */
  dhtFailures: string[];
  figures: {
    nodes: number;
    nodes_at_end: number;
    ring_consistency: number;
    routed_sent: number;
    routed_delivery: number;
    hops_mean: number;
    hops_p99: number;
    dht_put_success: number;
    dht_get_success: number;
    /** DHT operations whose client crashed or left before they finished (not counted either way). */
    dht_ops_client_departed: number;
    control_msgs_per_node_min: number;
    departures: number;
    virtual_min: number;
    wall_s: number;
    /** CPU time of this process (user + system): the machine may be shared. */
    cpu_s: number;
    virtual_min_per_wall_min: number;
    peak_rss_mb: number;
    events: number;
  };
}

const MIN = 60_000;
/** Routed probes only go between nodes that have been up this long (a joining node is not yet routable). */
const PROBE_MIN_AGE_MS = MIN;
/** Time left after the measured phase for operations in flight to finish. */
const DRAIN_MS = 30_000;

export async function runScenario(s: Scenario, progress?: (line: string) => void): Promise<SimResult> {
  const wallStart = performance.now();
  const cpuStart = process.cpuUsage();
  const sim = new Simulation(s.seed, s.overlay, { ...(s.latencyMs ? { latencyMs: s.latencyMs } : {}), jitterMs: s.jitterMs, loss: s.loss });
  const rnd = sim.random;
  const say = (line: string) => progress?.(`[${(sim.clock.now() / MIN).toFixed(1)} vmin, ${((performance.now() - wallStart) / 1000).toFixed(0)} s] ${line}`);

  // Joins, spread evenly.
  const joinStep = (s.joinMin * MIN) / Math.max(1, s.nodes);
  for (let i = 0; i < s.nodes; i++) {
    sim.addNode();
    await sim.runFor(joinStep);
    if ((i + 1) % Math.max(1, Math.floor(s.nodes / 10)) === 0) say(`${i + 1} nodes joined`);
  }
  await sim.runFor(s.settleMin * MIN);
  say(`settled; ring consistency ${sim.ringConsistency().consistent}/${sim.nodes.size}`);

  // Measured phase.
  const start = sim.clock.now();
  const duration = s.durationMin * MIN;
  const controlAtStart = sim.counterTotal('control_frames_out');
  let nodeMs = 0; // integral of live nodes over virtual time, for per-node rates
  let lastSample = start;
  const sampleNodes = () => {
    const now = sim.clock.now();
    nodeMs += sim.nodes.size * (now - lastSample);
    lastSample = now;
  };

  // Churn: each event replaces one node (leave or crash, then a fresh join).
  const churnEvents = Math.round(s.churnPerMin * s.nodes * s.durationMin);
  let departures = 0;
  for (let i = 0; i < churnEvents; i++) {
    sim.clock.at(start + ((i + 0.5) * duration) / churnEvents, () => {
      sampleNodes();
      const victim = sim.randomNode();
      if (rnd.float() < s.crashFraction) sim.crash(victim.node.address);
      else sim.leave(victim.node.address);
      departures++;
      sim.addNode();
    });
  }

  // Routed probes.
  const probeIds: number[] = [];
  for (let i = 0; i < s.routedMessages; i++) {
    sim.clock.at(start + ((i + 0.5) * duration) / s.routedMessages, () => {
      const src = sim.randomNode(PROBE_MIN_AGE_MS);
      let dest = sim.randomNode(PROBE_MIN_AGE_MS);
      if (dest === src && sim.nodes.size > 1) dest = sim.randomNode(PROBE_MIN_AGE_MS);
      probeIds.push(sim.probe(src, dest.node.address));
    });
  }

  // DHT: puts over the first tenth, gets of successfully put keys over the rest.
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const dhtFailures: string[] = [];
  let clientGone = 0;
  const putOk: Array<{ key: Uint8Array; value: Uint8Array; owner: RingAddress }> = [];
  let putsDone = 0;
  let putsFailed = 0;
  let getsOk = 0;
  let getsFailed = 0;
  const putWindow = duration / 10;
  for (let i = 0; i < s.dhtKeys; i++) {
    sim.clock.at(start + ((i + 0.5) * putWindow) / s.dhtKeys, () => {
      const key = enc.encode(`${s.name}/key/${i}`);
      const value = enc.encode(`value ${i}`);
      const owner = sim.randomNode(PROBE_MIN_AGE_MS);
      owner.node.dht.put(key, value, s.dhtTtlMin * MIN).then(
        () => {
          putsDone++;
          putOk.push({ key, value, owner: owner.node.address });
        },
        (e: Error) => {
          putsDone++;
          // An owner that crashed or left during its put is not a DHT failure.
          if (!sim.nodes.has(owner.node.address)) {
            clientGone++;
            return;
          }
          putsFailed++;
          if (dhtFailures.length < 10) dhtFailures.push(`put ${dec.decode(key)}: ${e.message}`);
        },
      );
    });
  }
  const getStart = start + putWindow + 10_000;
  for (let i = 0; i < s.dhtGets; i++) {
    sim.clock.at(getStart + ((i + 0.5) * (start + duration - getStart)) / s.dhtGets, () => {
      if (putOk.length === 0) {
        getsFailed++;
        return;
      }
      const target = putOk[rnd.int(putOk.length)]!;
      const reader = sim.randomNode(PROBE_MIN_AGE_MS);
      reader.node.dht.get(target.key).then(
        (recs) => {
          if (recs.some((r) => Buffer.compare(r.value, target.value) === 0)) getsOk++;
          else {
            getsFailed++;
            if (dhtFailures.length < 10) dhtFailures.push(`get ${dec.decode(target.key)} at ${(sim.clock.now() / 1000).toFixed(1)} s: ${recs.length} records, none matching`);
          }
        },
        (e: Error) => {
          if (!sim.nodes.has(reader.node.address)) {
            clientGone++;
            return;
          }
          getsFailed++;
          if (dhtFailures.length < 10) dhtFailures.push(`get ${dec.decode(target.key)} at ${(sim.clock.now() / 1000).toFixed(1)} s: ${e.message}`);
        },
      );
    });
  }

  const steps = 10;
  for (let i = 1; i <= steps; i++) {
    await sim.clock.runUntil(start + (duration * i) / steps);
    sampleNodes();
    say(`measured ${((duration * i) / steps / MIN).toFixed(1)} min: ${sim.nodes.size} nodes, ${departures} departures`);
  }
  const controlFrames = sim.counterTotal('control_frames_out') - controlAtStart;
  await sim.runFor(DRAIN_MS);

  const probes = sim.probeStats(probeIds);
  const hops = probes.hops.sort((a, b) => a - b);
  const ring = sim.ringConsistency();
  const wallS = (performance.now() - wallStart) / 1000;
  const virtualMin = sim.clock.now() / MIN;
  const result: SimResult = {
    scenario: s.name,
    seed: s.seed,
    dhtFailures,
    figures: {
      nodes: s.nodes,
      nodes_at_end: sim.nodes.size,
      ring_consistency: ring.total ? ring.consistent / ring.total : 1,
      routed_sent: probes.sent,
      routed_delivery: probes.sent ? probes.delivered / probes.sent : 1,
      hops_mean: hops.length ? hops.reduce((a, b) => a + b, 0) / hops.length : NaN,
      hops_p99: percentile(hops, 0.99),
      dht_put_success: s.dhtKeys ? (putsDone - putsFailed - clientGone) / Math.max(1, putsDone - clientGone) : 1,
      dht_ops_client_departed: clientGone,
      dht_get_success: s.dhtGets ? getsOk / Math.max(1, getsOk + getsFailed) : 1,
      control_msgs_per_node_min: nodeMs > 0 ? controlFrames / (nodeMs / MIN) : 0,
      departures,
      virtual_min: virtualMin,
      wall_s: wallS,
      cpu_s: ((c) => (c.user + c.system) / 1e6)(process.cpuUsage(cpuStart)),
      virtual_min_per_wall_min: virtualMin / (wallS / 60),
      peak_rss_mb: process.resourceUsage().maxRSS / 1024,
      events: sim.clock.eventsRun,
    },
  };
  await sim.stopAll();
  return result;
}
