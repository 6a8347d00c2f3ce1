// A member dies: traffic to another, live member must not wait for the dead one. Real `overlay up`
// nodes (simulations/netns/failover-stall.ts): C pulls bulk data from A over the virtual network, A is
// SIGKILLed, C starts pinging B, whose address record A holds (DHT primary) and C has not looked up
// yet. Before reads were hedged, the lookup went to the dead A three times (6 s request timeout
// each, retries routed greedily to A again), and the pings waited 18 s; now a stand-in answers
// after 1 s without waiting for the dead replica.
import test from 'ava';
import { measureFailoverStall, longestGapMs, parsePingReplies } from '../../simulations/netns/failover-stall.js';

/**
 * Over twice what hedged reads take here (about 2 s: C's lookup of B and B's of C, 1 s hedge each),
 * far below the 18 s before. (Hedging alone, with gathers still waiting 2 s for the dead replica,
 * gave 5 to 6 s.)
 */
const MAX_GAP_MS = 5_000;

test('ping replies are parsed with their arrival relative to the kill; the longest gap counts the wait for the first', (t) => {
  const out = [
    'PING 10.1.0.2 (10.1.0.2) 56(84) bytes of data.',
    '[1000.500000] 64 bytes from 10.1.0.2: icmp_seq=2 ttl=64 time=250 ms',
    '[1000.500100] 64 bytes from 10.1.0.2: icmp_seq=1 ttl=64 time=500.5 ms',
    '[1000.750000] 64 bytes from 10.1.0.2: icmp_seq=3 ttl=64 time=1.2 ms',
    'From 10.1.0.1 icmp_seq=4 Destination Host Unreachable',
  ].join('\n');
  const replies = parsePingReplies(out, 1_000_000);
  t.deepEqual(replies.map((r) => [r.seq, r.atMs, r.rttMs]), [[2, 500, 250], [1, 500, 500.5], [3, 750, 1.2]]);
  t.is(longestGapMs(replies, 0, 800), 500);
  t.is(longestGapMs(replies, 0, 2_000), 1_250); // silence after the last reply counts too
  t.is(longestGapMs([], 0, 2_000), 2_000);
});

test.serial('pings to a live member are not held while a directly linked member that holds its address record dies', async (t) => {
  const r = await measureFailoverStall({ bulk: 'from-victim', log: (l) => t.log(l) });
  t.log(`longest gap ${r.longestGapMs} ms, max rtt ${r.maxRttMs} ms, ${r.received}/${r.sent} replies`);
  t.true(r.sent >= 60, `only ${r.sent} pings sent`);
  t.true(r.longestGapMs < MAX_GAP_MS, `pings to the live member were held ${r.longestGapMs} ms`);
  t.true(r.received >= r.sent - 4, `${r.sent - r.received} of ${r.sent} pings lost`);
});
