// bench:failover-stall — how long pings to a live peer are held when another peer (with which the
// pinging node was exchanging bulk traffic) is SIGKILLed; see simulations/netns/failover-stall.ts.
// FAILOVER_BULK=from-victim|to-victim|none (default from-victim), FAILOVER_RUNS (default 3),
// FAILOVER_VERBOSE=1 prints the observer's --verbose lines with their time since the kill.
import { measureFailoverStall, type FailoverStallOptions } from '../simulations/netns/failover-stall.js';

const bulk = (process.env.FAILOVER_BULK ?? 'from-victim') as FailoverStallOptions['bulk'];
const runs = Number(process.env.FAILOVER_RUNS ?? 3);
const verbose = process.env.FAILOVER_VERBOSE === '1';
const warmLive = process.env.FAILOVER_WARM === '1';
const gaps: number[] = [];
for (let run = 1; run <= runs; run++) {
  const r = await measureFailoverStall({ bulk, warmLive, ...(verbose ? { upExtra: ['--verbose'] } : {}), log: (l) => console.log(`  ${l}`) });
  gaps.push(r.longestGapMs);
  console.log(`run ${run}: bulk ${bulk}, longest gap ${r.longestGapMs} ms, max rtt ${r.maxRttMs} ms, ${r.received}/${r.sent} replies`);
  if (verbose) {
    for (const l of r.observerLog) console.log(`  | ${l}`);
    console.log(`  status: ${JSON.stringify(r.observerStatus)}`);
    console.log(`  replies (ms since kill / rtt): ${r.replies.filter((x) => x.atMs > -1000).map((x) => `${x.atMs}/${Math.round(x.rttMs)}`).join(' ')}`);
  }
}
console.log(`failover_live_peer_gap_ms ${gaps.join(' ')} (max ${Math.max(...gaps)})`);
