// bench:failover-stall — how long pings to a live peer are held when another peer (with which the
// pinging node was exchanging bulk traffic) is SIGKILLed; see simulations/netns/failover-stall.ts.
// FAILOVER_BULK=from-victim|to-victim|none (default from-victim), FAILOVER_RUNS (default 3),
// FAILOVER_VERBOSE=1 prints the observer's --verbose lines with their time since the kill.
// Prints a table and writes bench/results/failover-stall.json (the default bulk direction only).
import { measureFailoverStall, type FailoverStallOptions } from '../simulations/netns/failover-stall.js';
import { writeBenchResults, type Figures } from './results-file.js';

const bulk = (process.env.FAILOVER_BULK ?? 'from-victim') as FailoverStallOptions['bulk'];
const runs = Number(process.env.FAILOVER_RUNS ?? 3);
const verbose = process.env.FAILOVER_VERBOSE === '1';
const warmLive = process.env.FAILOVER_WARM === '1';
if (!['from-victim', 'to-victim', 'none'].includes(bulk) || !Number.isInteger(runs) || runs < 1) {
  console.error('bench:failover-stall: FAILOVER_BULK is from-victim, to-victim or none; FAILOVER_RUNS a whole number from 1');
  process.exit(2);
}
const gaps: number[] = [];
let lost = 0;
for (let run = 1; run <= runs; run++) {
  const r = await measureFailoverStall({ bulk, warmLive, ...(verbose ? { upExtra: ['--verbose'] } : {}), log: (l) => console.log(`  ${l}`) });
  gaps.push(r.longestGapMs);
  lost += r.sent - r.received;
  console.log(`run ${run}: bulk ${bulk}, longest gap ${r.longestGapMs} ms, max rtt ${r.maxRttMs} ms, ${r.received}/${r.sent} replies`);
  if (verbose) {
    for (const l of r.observerLog) console.log(`  | ${l}`);
    console.log(`  status: ${JSON.stringify(r.observerStatus)}`);
    console.log(`  replies (ms since kill / rtt): ${r.replies.filter((x) => x.atMs > -1000).map((x) => `${x.atMs}/${Math.round(x.rttMs)}`).join(' ')}`);
  }
}
const sorted = [...gaps].sort((a, b) => a - b);
const figures: Figures = {
  failover_live_peer_gap_ms: { value: sorted[Math.floor((sorted.length - 1) / 2)]!, unit: 'ms' },
  failover_live_peer_gap_max_ms: { value: sorted[sorted.length - 1]!, unit: 'ms' },
  failover_live_peer_lost_replies: { value: lost, unit: 'replies' },
};
console.log(`\nfigure                            value  unit   (${runs} runs, bulk ${bulk}; gaps ${gaps.join(', ')} ms)`);
for (const [k, f] of Object.entries(figures)) console.log(`${k.padEnd(32)} ${String(f.value).padStart(6)}  ${f.unit}`);
if (bulk === 'from-victim' && !warmLive && !verbose) console.log(`wrote ${writeBenchResults('failover-stall', figures, { runs })}`);
else console.log('(not the default run: no results file written)');
