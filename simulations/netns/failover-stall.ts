// How long traffic to a live peer is held when another peer dies. Real `overlay up` nodes (ImageNet):
// a public founder and three members behind EIM NATs, A (the victim), B (live) and C (observer),
// C directly linked to both. Bulk traffic runs between C and A (iperf3 over the virtual IPs), A is
// SIGKILLed, C starts pinging B every 250 ms, and the replies' arrival times at C give the longest gap. B's
// virtual IP is chosen so that A holds its DHT address record (primary), and C has not resolved
// it before the kill (unless `warmLive`): the first packets to B wait for a lookup that meets
// the dead A, as when a client fails over to a server it has not talked to yet.
//
//   C --ping--> B          measured: longest gap between two replies, largest round trip
//   C <==bulk==> A         A SIGKILLed mid-transfer; the pings start then
//
// Every wait is bounded; `ImageNet.destroy` kills every process by PID and deletes the namespaces.
import type { RingAddress } from '../../overlay/ring/ring.js';
import { keyToAddress, ringDist } from '../../overlay/ring/ring.js';
import { leaseKey } from '../../dhcp/vip/lease-record.js';
import { intToIpv4, ipv4ToInt } from '../../lib/ipv4.js';
import { ImageNet, OVERLAY_BIN, waitUntil } from './image-net.js';

const VICTIM = 0;
const LIVE = 1;
const OBSERVER = 2;
export const PING_INTERVAL_S = 0.25;

export interface FailoverStallOptions {
  /** Which way the bulk flow between C and A runs before the kill ('none': no bulk traffic). */
  bulk: 'from-victim' | 'to-victim' | 'none';
  /** Seconds of bulk traffic before the kill. Default 4. */
  bulkBeforeKillS?: number;
  /** Seconds of pinging after the kill. Default 20. */
  pingAfterKillS?: number;
  /** Whether C exchanges packets with B before the kill (B's virtual IP then resolved and cached). Default false. */
  warmLive?: boolean;
  /** Extra `overlay up` options for every member (e.g. --verbose). */
  upExtra?: string[];
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface PingReply {
  seq: number;
  /** Arrival at C, ms since the kill (negative: before). */
  atMs: number;
  rttMs: number;
}

export interface FailoverStallResult {
  /** Longest time between two consecutive replies from B arriving at C, counted from the kill (pings start then). */
  longestGapMs: number;
  /** Largest round trip of any reply after the kill (a held reply shows here). */
  maxRttMs: number;
  sent: number;
  received: number;
  replies: PingReply[];
  /** Observer's `--verbose` lines (if asked for), each with its arrival time relative to the kill. */
  observerLog: string[];
  /** C's `overlay status --json` at the end. */
  observerStatus: Record<string, unknown>;
}

/** Parses `ping -D` reply lines: `[1700000000.123456] 64 bytes from X: icmp_seq=3 ttl=64 time=0.5 ms`. */
export function parsePingReplies(output: string, killAtMs: number): PingReply[] {
  const replies: PingReply[] = [];
  for (const m of output.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from [^:]+: icmp_seq=(\d+) ttl=\d+ time=([\d.]+) ms/gm)) {
    replies.push({ seq: Number(m[2]), atMs: Math.round(Number(m[1]) * 1000 - killAtMs), rttMs: Number(m[3]) });
  }
  return replies.sort((a, b) => a.atMs - b.atMs);
}

/** Longest interval between consecutive arrivals from `fromMs` on, including the wait for the first one. */
export function longestGapMs(replies: readonly PingReply[], fromMs: number, untilMs: number): number {
  let last = fromMs;
  let longest = 0;
  for (const r of replies) {
    if (r.atMs < fromMs) continue;
    longest = Math.max(longest, r.atMs - last);
    last = r.atMs;
  }
  return Math.max(longest, untilMs - last);
}

/**
 * The virtual IP in `subnet` whose lease record's ring position is closest to `holder` (of 65,534
 * hosts, the closest lies about 2^-17 of the ring away: another node lands closer with negligible
 * odds), so `holder` is the primary of its DHT record.
 */
export function vipStoredAt(holder: RingAddress, network: string, subnet: string, taken: readonly string[]): string {
  const [base, bits] = subnet.split('/');
  const first = ipv4ToInt(base!);
  const hosts = 2 ** (32 - Number(bits));
  let best: { vip: string; d: bigint } | undefined;
  for (let i = 1; i < Math.min(hosts - 1, 65_536); i++) {
    const vip = intToIpv4((first + i) >>> 0);
    if (taken.includes(vip)) continue;
    const d = ringDist(keyToAddress(leaseKey(network, vip)), holder);
    if (!best || d < best.d) best = { vip, d };
  }
  return best!.vip;
}

export async function measureFailoverStall(o: FailoverStallOptions): Promise<FailoverStallResult> {
  const log = o.log ?? (() => {});
  const net = await ImageNet.create({ nats: ['eim', 'eim', 'eim'], tag: 'fs' });
  try {
    const victim = await net.up(VICTIM, o.upExtra ?? []);
    const observer = await net.up(OBSERVER, o.upExtra ?? []);
    // B's address record lives on A: C's lookup of B's virtual IP has to get past the dead A.
    const liveVip = vipStoredAt(BigInt(`0x${victim.ring}`), net.network, net.subnet, [victim.vip, observer.vip]);
    const live = await net.up(LIVE, [...(o.upExtra ?? []), '--vip', liveVip]);
    if (live.vip !== liveVip) throw new Error(`B got ${live.vip}, not the ${liveVip} it asked for`);
    const observerLog: string[] = [];
    let killAtMs = Number.NaN;
    observer.up.child.stderr?.on('data', (d: Buffer) => {
      const at = Date.now();
      for (const line of d.toString().split('\n')) if (line) observerLog.push(`${Number.isNaN(killAtMs) ? 'pre' : at - killAtMs} ${line}`);
    });
    // Traffic makes C ask for shortcuts; wait until both of C's links are direct.
    await waitUntil(
      'direct links from C to A and B',
      async () => {
        // Only A is pinged: C must not have B's address cached when A dies (cold, as for a server it
        // fails over to), unless asked.
        for (const n of o.warmLive ? [victim, live] : [victim]) await net.run(OBSERVER, 'ping', ['-c', '40', '-i', '0.01', '-W', '1', '-q', n.vip], 10_000).catch(() => '');
        const links = (await net.status(OBSERVER)).links;
        const direct = (n: { ring: string }) => links.some((l) => n.ring.startsWith(l.remote.slice(0, 8)) && l.path === 'direct');
        return direct(victim) && direct(live) ? true : undefined;
      },
      60_000,
    );
    log(`C ${observer.vip} linked directly to A ${victim.vip} and B ${live.vip}`);
    if (o.bulk !== 'none') {
      net.topo.spawn(VICTIM, 'iperf3', ['-s', '-1', '-B', victim.vip]);
      await new Promise((r) => setTimeout(r, 500));
      const seconds = String((o.bulkBeforeKillS ?? 4) + (o.pingAfterKillS ?? 20) + 10);
      const client = net.topo.spawn(OBSERVER, 'iperf3', ['-c', victim.vip, '-t', seconds, '-i', '1', '--connect-timeout', '5000', '--forceflush', ...(o.bulk === 'from-victim' ? ['-R'] : [])]);
      await client.waitFor(/sec\s+[\d.]+ [KMG]?Bytes/, 15_000);
      log(`bulk ${o.bulk} running`);
    }
    await new Promise((r) => setTimeout(r, (o.bulkBeforeKillS ?? 4) * 1000));
    const pingS = o.pingAfterKillS ?? 20;
    killAtMs = Date.now();
    process.kill(victim.up.pid, 'SIGKILL');
    const ping = net.topo.spawn(OBSERVER, 'ping', ['-D', '-n', '-i', String(PING_INTERVAL_S), '-w', String(pingS), live.vip]);
    log('A killed, pinging B');
    const timer = setTimeout(() => void ping.kill(1000), (pingS + 10) * 1000);
    await ping.exited;
    clearTimeout(timer);
    const status = JSON.parse(await net.run(OBSERVER, process.execPath, [OVERLAY_BIN, 'status', '--json', '--state', observer.state])) as Record<string, unknown>;
    const out = ping.output();
    const replies = parsePingReplies(out, killAtMs);
    const endMs = Date.now() - killAtMs;
    const sent = Number(out.match(/(\d+) packets transmitted/)?.[1] ?? Number.NaN);
    const after = replies.filter((r) => r.atMs >= 0);
    return {
      longestGapMs: longestGapMs(replies, 0, Math.min(endMs, pingS * 1000)),
      maxRttMs: after.reduce((m, r) => Math.max(m, r.rttMs), 0),
      sent,
      received: replies.length,
      replies,
      observerLog,
      observerStatus: status,
    };
  } finally {
    await net.destroy();
  }
}
