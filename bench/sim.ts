// `npm run bench:sim [-- --nodes N] [--minutes M] [--churn F] [--seed S] [--out FILE]`: the overlay at scale in
// the simulator (same OverlayNode code as real nodes). Default: 10,000 nodes join (over 5 virtual
// minutes), settle for 1, then 10 measured virtual minutes with 1% of the nodes replaced per minute
// (half crash, half leave), 20,000 random routed messages and 2,000 DHT keys read 5,000 times.
// Prints a table and writes bench/results/sim.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname } from 'node:path';
import { defaultScenario, type Scenario } from '../simulations/scenario.js';
import { runScenario } from '../simulations/run-scenario.js';

function arg(argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) {
    console.error(`bench:sim: --${name} needs a non-negative number`);
    process.exit(2);
  }
  return v;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const nodes = Math.floor(arg(argv, 'nodes', 10_000));
  const scenario: Scenario = {
    ...defaultScenario,
    name: 'bench-sim',
    seed: Math.floor(arg(argv, 'seed', 2026)),
    nodes,
    joinMin: Math.max(1, nodes / 2000),
    settleMin: 1,
    durationMin: arg(argv, 'minutes', 10),
    churnPerMin: arg(argv, 'churn', 0.01),
    crashFraction: 0.5,
    routedMessages: 2 * nodes,
    dhtKeys: Math.max(100, nodes / 5),
    dhtGets: Math.max(500, nodes / 2),
  };
  // The machine may be shared: the 1-minute load average at start and end goes into the JSON.
  const loadStart = loadavg()[0]!;
  const r = await runScenario(scenario, argv.includes('--quiet') ? undefined : (l) => console.error(l));
  const f = r.figures;
  const figures = {
    nodes: { value: f.nodes, unit: 'nodes' },
    hops_mean: { value: f.hops_mean, unit: 'hops' },
    hops_p99: { value: f.hops_p99, unit: 'hops' },
    dht_get_success: { value: f.dht_get_success, unit: 'ratio' },
    control_msgs_per_node_min: { value: f.control_msgs_per_node_min, unit: 'msgs/node/min' },
    virtual_min_per_wall_min: { value: f.virtual_min_per_wall_min, unit: 'ratio' },
    wall_s: { value: f.wall_s, unit: 's' },
    peak_rss_mb: { value: f.peak_rss_mb, unit: 'MB' },
    // Context, not targets:
    cpu_s: { value: f.cpu_s, unit: 's' },
    routed_delivery: { value: f.routed_delivery, unit: 'ratio' },
    ring_consistency: { value: f.ring_consistency, unit: 'ratio' },
    dht_put_success: { value: f.dht_put_success, unit: 'ratio' },
    virtual_min: { value: f.virtual_min, unit: 'min' },
    departures: { value: f.departures, unit: 'nodes' },
    events: { value: f.events, unit: 'events' },
  };
  console.log('figure                       value');
  for (const [k, v] of Object.entries(figures)) console.log(`${k.padEnd(28)} ${Number.isInteger(v.value) ? v.value : v.value.toFixed(4)} ${v.unit}`);
  const outIdx = argv.indexOf('--out');
  const out = outIdx >= 0 && argv[outIdx + 1] ? argv[outIdx + 1]! : 'bench/results/sim.json';
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ bench: 'sim', date: new Date().toISOString(), load_avg_1min: { start: loadStart, end: loadavg()[0]! }, scenario, figures }, null, 2) + '\n');
  console.error(`written ${out}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
