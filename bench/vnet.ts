// bench:vnet — the virtual network's data path against its baselines, on one namespace pair of the
// NAT harness (simulations/netns): iperf3 TCP throughput and ping RTT over
//   - the plain network (no tunnel: node -> router -> bridge -> router -> node, all veth),
//   - wireguard-go between the same two namespaces,
//   - our TUN + forwarder + one WebRTC data channel (node-datachannel) at several TUN MTUs,
//   - the real overlay (OverlayDaemon + virtualNetworkService, simulations/netns/overlay-vnet-node.ts),
// time until the first ping through the virtual network is answered (no NAT, and two EIM NATs),
// and the NAT matrix: plain node-datachannel peers (dc_nat_*), and overlay nodes (nat_*) with STUN + TURN
// and again with STUN only (nat_*_no_turn: pairs with a symmetric NAT must use relay edges); the same
// matrix with zero configuration against coturn as STUN (nat_pairs_*_zero_config, *_with_coturn), and
// the time a member takes to rejoin after down/up on the same state (rejoin_s).
// Prints a table; writes bench/results/vnet.json.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHarness, harnessScript, runNatMatrix, matrixNodes, expectsDirect, type Harness } from '../simulations/netns/harness.js';
import { OverlayMatrix } from '../simulations/netns/overlay-matrix.js';
import type { Proc } from '../simulations/harness/proc.js';

const overlayCli = fileURLToPath(new URL('../../bin/overlay.js', import.meta.url));
type Figures = Record<string, { value: number; unit: string }>;
const figures: Figures = {};
const notes: string[] = [];
const IPERF_SECONDS = Number(process.env.VNET_BENCH_SECONDS ?? 5);
const MTUS = (process.env.VNET_BENCH_MTUS ?? '1200,1400,4000,9000,16000').split(',').map(Number);
const SUBNET = '10.128.0.0/16';
const ALL_PARTS = ['veth', 'wg', 'dc', 'online', 'overlay', 'rejoin', 'nat', 'zeroconf'];
/** Which parts to run (default all); a partial run merges its figures into the results file. */
const PARTS = new Set(process.env.VNET_BENCH_PARTS?.split(',') ?? ALL_PARTS);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function put(name: string, value: number, unit: string) {
  figures[name] = { value: Math.round(value * 1000) / 1000, unit };
  console.log(`${name.padEnd(30)} ${String(figures[name]!.value).padStart(10)} ${unit}`);
}

/** iperf3 TCP from node `client` to `serverIp` (server in node `server`); Mbit/s received. */
async function iperf(h: Harness, client: number, server: number, serverIp: string): Promise<number> {
  const s = h.topo.spawn(server, 'iperf3', ['-s', '-1', '-B', serverIp, '--forceflush']);
  try {
    await s.waitFor(/Server listening/, 10_000);
    const r = await h.topo.exec(client, 'iperf3', ['-c', serverIp, '-t', String(IPERF_SECONDS), '-J'], (IPERF_SECONDS + 20) * 1000);
    const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
    return j.end.sum_received.bits_per_second / 1e6;
  } finally {
    await s.kill(1000);
  }
}

/** Median ping RTT in ms (50 pings, 20 ms apart). */
async function rtt(h: Harness, from: number, ip: string): Promise<number> {
  const r = await h.topo.exec(from, 'ping', ['-c', '50', '-i', '0.02', '-W', '2', ip], 30_000);
  const times = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
  if (times.length === 0) throw new Error(`no ping replies from ${ip}`);
  return times[Math.floor(times.length / 2)]!;
}

async function wireguard(h: Harness): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vnet-bench-wg-'));
  const names = [`wgb${process.pid % 100000}a`, `wgb${process.pid % 100000}b`];
  const ips = ['10.99.0.1', '10.99.0.2'];
  const procs: Proc[] = [];
  try {
    const keys = [0, 1].map((i) => {
      const priv = join(dir, `k${i}`);
      return { priv, pub: join(dir, `p${i}`) };
    });
    for (const k of keys) await h.topo.execPublic('sh', ['-c', `umask 077; wg genkey > ${k.priv}; wg pubkey < ${k.priv} > ${k.pub}`]);
    for (const i of [0, 1]) {
      const p = h.topo.spawn(i, 'wireguard-go', ['-f', names[i]!], { WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1', LOG_LEVEL: 'error' });
      procs.push(p);
    }
    for (const i of [0, 1]) {
      const other = 1 - i;
      // wireguard-go creates the interface right away; wait for it (bounded).
      for (let tries = 0; ; tries++) {
        const ok = await h.topo.exec(i, 'ip', ['link', 'show', names[i]!]).then(() => true, () => false);
        if (ok) break;
        if (tries > 50) throw new Error(`wireguard-go did not create ${names[i]}`);
        await sleep(100);
      }
      const pub = readFileSync(keys[other]!.pub, 'utf8').trim();
      await h.topo.exec(i, 'wg', ['set', names[i]!, 'private-key', keys[i]!.priv, 'listen-port', '51820', 'peer', pub, 'allowed-ips', `${ips[other]}/32`, 'endpoint', `${h.topo.node(other).lanIp}:51820`]);
      await h.topo.exec(i, 'ip', ['addr', 'add', `${ips[i]}/24`, 'dev', names[i]!]);
      await h.topo.exec(i, 'ip', ['link', 'set', names[i]!, 'up']);
    }
    put('wireguard_go_mbps', await iperf(h, 0, 1, ips[1]!), 'Mbit/s');
    put('wireguard_go_rtt_ms', await rtt(h, 0, ips[1]!), 'ms');
  } finally {
    await Promise.all(procs.map((p) => p.kill(2000)));
    rmSync(dir, { recursive: true, force: true });
  }
}

interface VnetPair {
  a: Proc;
  b: Proc;
  vipA: string;
  vipB: string;
  startedAt: number;
}

let pairCounter = 0;
async function startVnetPair(h: Harness, ia: number, ib: number, mtu: number, mode: 'direct' | 'shortcut', iceServers: string[]): Promise<VnetPair> {
  const tag = `${pairCounter++}`;
  const args = (n: string, p: string, role: string) => [harnessScript('vnet-peer'), h.relayUrl, n + tag, p + tag, role, mode, String(mtu), SUBNET, ...iceServers];
  const startedAt = performance.now();
  const b = h.topo.spawn(ib, process.execPath, args('B', 'A', 'answer'));
  const a = h.topo.spawn(ia, process.execPath, args('A', 'B', 'offer'));
  const vipB = (await b.waitFor(/VNET up (\S+)/, 20_000))[1]!;
  const vipA = (await a.waitFor(/VNET up (\S+)/, 20_000))[1]!;
  return { a, b, vipA, vipB, startedAt };
}

async function vnetDatachannel(h: Harness): Promise<void> {
  let best = { mtu: 0, mbps: 0 };
  for (const mtu of MTUS) {
    // Public pair: STUN only, so the MTU comparison never runs over a TURN relay.
    const p = await startVnetPair(h, 0, 1, mtu, 'direct', [h.turn.stunUrl]);
    try {
      await p.a.waitFor(/PATH direct/, 40_000);
      const mbps = await iperf(h, 0, 1, p.vipB);
      put(`vnet_dc_mbps_mtu_${mtu}`, mbps, 'Mbit/s');
      put(`vnet_dc_rtt_ms_mtu_${mtu}`, await rtt(h, 0, p.vipB), 'ms');
      if (mbps > best.mbps) best = { mtu, mbps };
    } finally {
      await Promise.all([p.a.kill(), p.b.kill()]);
    }
  }
  put('vnet_dc_best_mtu', best.mtu, 'bytes');
}

/** The data channel's own round trip in one process, same gap as rtt()'s pings (bench/dc-rtt-floor.ts). */
async function dcRttFloor(h: Harness): Promise<void> {
  const p = h.topo.spawn(0, process.execPath, [fileURLToPath(new URL('./dc-rtt-floor.js', import.meta.url)), '20', '50']);
  try {
    const m = await p.waitFor(/DC_RTT_FLOOR_MS (\S+)/, 30_000);
    put('dc_rtt_floor_ms', Number(m[1]), 'ms');
  } finally {
    await p.kill(2_000);
  }
}

/** Start of both vnet peers -> first ping answered through the virtual network. */
async function onlineTime(h: Harness, ia: number, ib: number): Promise<number> {
  const p = await startVnetPair(h, ia, ib, 9000, 'direct', h.turn.iceServers);
  try {
    for (let i = 0; i < 200; i++) {
      const ok = await h.topo.exec(ia, 'ping', ['-c', '1', '-W', '0.2', p.vipB]).then(() => true, () => false);
      if (ok) return (performance.now() - p.startedAt) / 1000;
    }
    throw new Error('no ping answered within 200 tries');
  } finally {
    await Promise.all([p.a.kill(), p.b.kill()]);
  }
}

/** Real overlay nodes (OverlayDaemon + virtualNetworkService) in harness namespaces. */
class OverlayNodes {
  readonly dir = mkdtempSync(join(tmpdir(), 'vnet-bench-ov-'));
  constructor(private readonly h: Harness) {
    writeFileSync(join(this.dir, 'secret'), randomBytes(32));
  }
  start(i: number, extra: string[], env?: Record<string, string>): Proc {
    const n = this.h.topo.node(i);
    const args = [harnessScript('overlay-vnet-node'), join(this.dir, `s${i}`), 'benchnet', join(this.dir, 'secret'), SUBNET, '9000', n.lanIp, ...extra];
    for (const url of this.h.turn.iceServers) args.push('--ice', url);
    return this.h.topo.spawn(i, process.execPath, args, env);
  }
  static vip(p: Proc): Promise<string> {
    return p.waitFor(/VNET up (\S+)/, 60_000).then((m) => m[1]!);
  }
  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Pings `ip` from node `from` (200 ms timeout each) until one is answered; seconds since `since`. */
async function firstPing(h: Harness, from: number, ip: string, since: number): Promise<number> {
  for (let i = 0; i < 300; i++) {
    const ok = await h.topo.exec(from, 'ping', ['-c', '1', '-W', '0.2', ip]).then(() => true, () => false);
    if (ok) return (performance.now() - since) / 1000;
  }
  throw new Error(`no ping to ${ip} answered`);
}

async function overlay(h: Harness): Promise<void> {
  const nodes = new OverlayNodes(h);
  const procs: Proc[] = [];
  try {
    // Node 0 founds the network with a bootstrap endpoint; node 1 joins it: time to online, then throughput.
    const a = nodes.start(0, ['--listen', '7000']);
    procs.push(a);
    const vipA = await OverlayNodes.vip(a);
    const t1 = performance.now();
    const b = nodes.start(1, ['--bootstrap', `ws://${h.topo.node(0).lanIp}:7000`]);
    procs.push(b);
    put('online_s', await firstPing(h, 1, vipA, t1), 's');
    const vipB = await OverlayNodes.vip(b);
    put('overlay_mbps', await iperf(h, 0, 1, vipB), 'Mbit/s');
    put('overlay_rtt_ms', await rtt(h, 0, vipB), 'ms');
    // Nodes 2 and 3, each behind an EIM NAT, join through node 0; time until 3 reaches 2.
    const c = nodes.start(2, ['--bootstrap', `ws://${h.topo.node(0).lanIp}:7000`]);
    procs.push(c);
    const vipC = await OverlayNodes.vip(c);
    const t3 = performance.now();
    const d = nodes.start(3, ['--bootstrap', `ws://${h.topo.node(0).lanIp}:7000`]);
    procs.push(d);
    put('online_nat_s', await firstPing(h, 3, vipC, t3), 's');
  } finally {
    await Promise.all(procs.map((p) => p.kill(5000)));
    nodes.cleanup();
  }
}

/**
 * Rejoin: a founder (node 0, bootstrap endpoint) and two members; member 1 goes down (SIGTERM: a clean
 * `down`) and comes up again on the same state (identity, vIP), 5 times. Each time: seconds from the
 * restart to its first answered ping to the founder's vIP (as online_s for a first join). Median.
 */
async function rejoin(h: Harness): Promise<void> {
  const nodes = new OverlayNodes(h);
  const procs: Proc[] = [];
  const boot = ['--bootstrap', `ws://${h.topo.node(0).lanIp}:7000`];
  // VNET_BENCH_TRACE=PREFIX: every node prints its diagnostic lines; PREFIX-<run>.log (member 1), PREFIX-founder.log, PREFIX-node<i>.log.
  const trace = process.env.VNET_BENCH_TRACE ? { OVERLAY_NODE_LOG: '1' } : undefined;
  let a: Proc | undefined;
  let m: Proc | undefined;
  let run = 0;
  const others: Array<[number, Proc]> = [];
  try {
    a = nodes.start(0, ['--listen', '7000'], trace);
    procs.push(a);
    const vipA = await OverlayNodes.vip(a);
    for (const i of [2, 3]) {
      const p = nodes.start(i, boot, trace);
      procs.push(p);
      others.push([i, p]);
      await OverlayNodes.vip(p);
    }
    const tj = performance.now();
    m = nodes.start(1, boot, trace);
    procs.push(m);
    const upJ = m.waitFor(/VNET up/, 60_000).then(() => (performance.now() - tj) / 1000);
    upJ.catch(() => undefined); // awaited below; firstPing may fail first
    const js = await firstPing(h, 1, vipA, tj);
    console.log(`  first join: vIP after ${(await upJ).toFixed(2)} s, first ping after ${js.toFixed(2)} s`);
    put('rejoin_first_join_s', js, 's');
    const times: number[] = [];
    for (let k = 0; k < 5; k++) {
      // VNET_BENCH_REJOIN_CRASH=1: SIGKILL instead of a clean down (the neighbours keep stale links).
      const td = performance.now();
      if (process.env.VNET_BENCH_REJOIN_CRASH) {
        process.kill(m.pid, 'SIGKILL');
        await m.exited;
      } else await m.kill(10_000);
      if (process.env.VNET_BENCH_TRACE) writeFileSync(`${process.env.VNET_BENCH_TRACE}-${run}.log`, m.output());
      run = k + 1;
      const downS = (performance.now() - td) / 1000;
      const t0 = performance.now();
      m = nodes.start(1, boot, trace);
      procs.push(m);
      const up = m.waitFor(/VNET up/, 60_000).then(() => (performance.now() - t0) / 1000);
      up.catch(() => undefined); // awaited below; firstPing may fail first
      const s = await firstPing(h, 1, vipA, t0);
      const vnetUp = await up;
      times.push(s);
      const st = await h.topo.exec(1, process.execPath, [overlayCli, 'status', '--json', '--state', join(nodes.dir, 's1')]).then((r) => JSON.parse(r.stdout) as { counters: Record<string, number> }, () => undefined);
      const c = st?.counters ?? {};
      console.log(`  rejoin ${k + 1}: down took ${downS.toFixed(2)} s (not counted); vIP after ${vnetUp.toFixed(2)} s, first ping after ${s.toFixed(2)} s (find_timeouts ${c.find_timeouts ?? 0}, dht_requests_deferred ${c.dht_requests_deferred ?? 0}, join_attempts ${c.join_attempts ?? 0})`);
      const fs = await h.topo.exec(0, process.execPath, [overlayCli, 'status', '--json', '--state', join(nodes.dir, 's0')]).then((r) => JSON.parse(r.stdout) as { counters: Record<string, number> }, () => undefined);
      console.log(`    founder: ${JSON.stringify(Object.fromEntries(Object.entries(fs?.counters ?? {}).filter(([k]) => /dup|closed|deferred|find/.test(k))))}`);
      await sleep(2_000);
    }
    times.sort((x, y) => x - y);
    put('rejoin_s', times[Math.floor(times.length / 2)]!, 's');
    put('rejoin_max_s', times[times.length - 1]!, 's');
  } finally {
    if (process.env.VNET_BENCH_TRACE && a) writeFileSync(`${process.env.VNET_BENCH_TRACE}-founder.log`, a.output());
    if (process.env.VNET_BENCH_TRACE) for (const [i, p] of others) writeFileSync(`${process.env.VNET_BENCH_TRACE}-node${i}.log`, p.output());
    if (process.env.VNET_BENCH_TRACE && m && !m.output().includes('LEFT')) writeFileSync(`${process.env.VNET_BENCH_TRACE}-${run}.log`, m.output());
    await Promise.all(procs.map((p) => p.kill(5000)));
    nodes.cleanup();
  }
}

/**
 * The NAT matrix of overlay nodes twice in one harness: with zero configuration (no --ice: the
 * bootstrap node's built-in STUN server, learned from its WELCOME), and with coturn as the STUN
 * server (--ice stun:..., no TURN). Direct = the pair's link is a direct WebRTC link.
 */
async function zeroConfigMatrix(m: Harness): Promise<void> {
  for (const [name, iceServers] of [['zero_config', []], ['with_coturn', [m.turn.stunUrl]]] as const) {
    await m.topo.flushConntrack();
    const om = new OverlayMatrix(m, { iceServers: [...iceServers] });
    try {
      const rows = await om.run();
      console.log(`NAT matrix, overlay nodes, ${name === 'zero_config' ? 'zero configuration (built-in STUN)' : 'coturn as STUN server'}:`);
      for (const r of rows) console.log(`  ${`${r.natA}-${r.natB}`.padEnd(22)} ${r.connected ? 'connected' : 'FAILED   '} ${String(r.via ?? r.path).padEnd(14)} ${r.onlineS ? `(${r.onlineS.toFixed(2)} s)` : ''} ${r.detail ?? r.error ?? ''}`);
      if (name === 'zero_config') put('nat_pairs_connected_zero_config', rows.filter((r) => r.connected).length, 'pairs');
      put(`nat_pairs_direct_${name}`, rows.filter((r) => r.connected && r.via === 'direct').length, 'pairs');
    } finally {
      await om.stop();
    }
  }
}

/** Runs one part; a failure is reported (its figures stay out) and the other parts still run. */
async function part(name: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const msg = `${name} failed: ${(err as Error).message.split('\n')[0]}`;
    console.log(msg);
    notes.push(msg);
  }
}

async function main() {
  console.log(`bench:vnet (iperf3 ${IPERF_SECONDS} s per run, MTUs ${MTUS.join(', ')})`);
  const h = await createHarness(['none', 'none', 'eim', 'eim'], 'b');
  try {
    if (PARTS.has('veth')) {
      put('veth_mbps', await iperf(h, 0, 1, h.topo.node(1).lanIp), 'Mbit/s');
      put('veth_rtt_ms', await rtt(h, 0, h.topo.node(1).lanIp), 'ms');
    }
    if (PARTS.has('wg')) await part('wireguard-go', () => wireguard(h));
    if (PARTS.has('dc')) await part('TUN + datachannel', () => vnetDatachannel(h));
    if (PARTS.has('dc')) await part('datachannel RTT floor', () => dcRttFloor(h));
    if (PARTS.has('online')) {
      await part('vnet pair online', async () => put('vnet_pair_online_s', await onlineTime(h, 0, 1), 's'));
      await h.topo.flushConntrack();
      await part('vnet pair online through NAT', async () => put('vnet_pair_online_nat_s', await onlineTime(h, 2, 3), 's'));
    }
    await h.topo.flushConntrack();
    if (PARTS.has('overlay')) await part('overlay', () => overlay(h));
    await h.topo.flushConntrack();
    if (PARTS.has('rejoin')) await part('rejoin', () => rejoin(h));
  } finally {
    await h.destroy();
  }
  const m = PARTS.has('nat') ? await createHarness(matrixNodes(), 'bm') : undefined;
  if (m) {
    try {
      // The transport alone: plain node-datachannel peers (STUN+TURN, relay-policy fallback).
      const rows = await runNatMatrix(m);
      console.log('NAT matrix, plain node-datachannel peers:');
      for (const r of rows) console.log(`  ${`${r.natA}-${r.natB}`.padEnd(22)} ${r.connected ? 'connected' : 'FAILED   '} ${String(r.path).padEnd(8)} ${String(r.detail).padEnd(16)} stages: ${r.stages.join(',')}`);
      put('dc_nat_pairs_connected', rows.filter((r) => r.connected).length, 'pairs');
      put('dc_nat_direct_misses', rows.filter((r) => expectsDirect(r) && r.path !== 'direct').length, 'pairs');
      // The overlay: bootstrap node in the public namespace, two fresh nodes per pair; once with
      // STUN + TURN (coturn), once with STUN only (pairs with a symmetric NAT need a relay edge then).
      for (const withTurn of [true, false]) {
        await m.topo.flushConntrack();
        const om = new OverlayMatrix(m, { iceServers: withTurn ? m.turn.iceServers : [m.turn.stunUrl] });
        const suffix = withTurn ? '' : '_no_turn';
        try {
          const orows = await om.run();
          console.log(`NAT matrix, overlay nodes, ${withTurn ? 'STUN + TURN' : 'STUN only (no TURN server)'} (ping over virtual IPs, then path from overlay status):`);
          for (const r of orows) {
            console.log(`  ${`${r.natA}-${r.natB}`.padEnd(22)} ${r.connected ? 'connected' : 'FAILED   '} ${String(r.via ?? r.path).padEnd(14)} ${r.onlineS ? `(${r.onlineS.toFixed(2)} s)` : ''} ${r.detail ?? r.error ?? ''}`);
            if (r.dataPath) console.log(`  ${''.padEnd(22)} vnet packets: ${r.dataPath}`);
            if (r.settledVia) console.log(`  ${''.padEnd(22)} after the direct retry: ${r.settledVia}`);
          }
          if (withTurn) put('nat_pairs_total', orows.length, 'pairs');
          put(`nat_pairs_connected${suffix}`, orows.filter((r) => r.connected).length, 'pairs');
          put(`nat_direct_misses${suffix}`, orows.filter((r) => expectsDirect(r) && r.path !== 'direct').length, 'pairs');
          // Misses still relayed after the overlay's direct retry had its chance (up to 45 s more).
          put(`nat_direct_misses_settled${suffix}`, orows.filter((r) => expectsDirect(r) && r.path !== 'direct' && r.settledVia !== 'direct').length, 'pairs');
          put(`nat_pairs_turn${suffix}`, orows.filter((r) => r.connected && r.via === 'turn').length, 'pairs');
          put(`nat_pairs_relay_edge${suffix}`, orows.filter((r) => r.connected && r.via === 'overlay-relay').length, 'pairs');
          put(`nat_pairs_routed${suffix}`, orows.filter((r) => r.connected && r.via === 'routed').length, 'pairs');
        } finally {
          await om.stop();
        }
      }
    } finally {
      await m.destroy();
    }
  }
  const z = PARTS.has('zeroconf') ? await createHarness(matrixNodes(), 'bz') : undefined;
  if (z) {
    try {
      await part('zero-configuration NAT matrix', () => zeroConfigMatrix(z));
    } finally {
      await z.destroy();
    }
  }
  const out = 'bench/results/vnet.json';
  if (PARTS.size < ALL_PARTS.length) {
    // A partial run replaces only its own figures; the others stay as the last full run left them.
    const old = JSON.parse(readFileSync(out, 'utf8')) as { figures: Figures; partialRuns?: unknown[] };
    const merged = { ...old, figures: { ...old.figures, ...figures }, partialRuns: [...(old.partialRuns ?? []), { date: new Date().toISOString(), parts: [...PARTS], figures: Object.keys(figures) }] };
    writeFileSync(out, `${JSON.stringify(merged, null, 2)}\n`);
    for (const n of notes) console.log(`note: ${n}`);
    console.log(`partial run (VNET_BENCH_PARTS): merged ${Object.keys(figures).length} figures into ${out}`);
    return;
  }
  notes.push('overlay_*, online_*: real OverlayDaemon + virtualNetworkService (simulations/netns/overlay-vnet-node.ts: the composition of `overlay up --subnet`, with an MTU argument and machine-readable lines)');
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(out, `${JSON.stringify({ bench: 'vnet', date: new Date().toISOString(), figures }, null, 2)}\n`);
  for (const n of notes) console.log(`note: ${n}`);
  console.log('wrote bench/results/vnet.json');
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
