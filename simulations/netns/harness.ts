// The NAT-matrix harness: a topology with coturn and the relay in the public namespace, and a
// runner that connects every pair of nodes and records how (direct or relayed through TURN).
// This is what the overlay's NAT-matrix test builds on: create, run things in node namespaces, destroy.
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NetnsTopology, NAT_KINDS, PUBLIC_IP, type NatKind } from './topology.js';
import { startCoturn, type TurnService } from './coturn.js';

export const RELAY_PORT = 8700;
/** UDP port of the built-in STUN server the relay runs in the public namespace (coturn has 3478). */
export const BUILTIN_STUN_PORT = 3479;
const distDir = fileURLToPath(new URL('.', import.meta.url));
export const harnessScript = (name: string) => `${distDir}${name}.js`;

export interface Harness {
  topo: NetnsTopology;
  turn: TurnService;
  relayUrl: string;
  /** The overlay's built-in STUN server (overlay/stun/) in the public namespace, as `stun:IP:PORT`. */
  stunUrl: string;
  destroy(): Promise<void>;
}

/** A topology with coturn and the relay running in its public namespace. */
export async function createHarness(nodes: readonly NatKind[], tag?: string): Promise<Harness> {
  const topo = await NetnsTopology.create({ nodes, tag });
  try {
    const turn = await startCoturn(topo);
    const relay = topo.spawnPublic(process.execPath, [harnessScript('relay'), PUBLIC_IP, String(RELAY_PORT), String(BUILTIN_STUN_PORT)]);
    await relay.waitFor(/relay listening/, 10_000);
    await relay.waitFor(/stun listening/, 10_000);
    const destroy = async () => {
      await topo.destroy();
      rmSync(turn.pidFile, { force: true });
    };
    return { topo, turn, relayUrl: `ws://${PUBLIC_IP}:${RELAY_PORT}`, stunUrl: `stun:${PUBLIC_IP}:${BUILTIN_STUN_PORT}`, destroy };
  } catch (err) {
    await topo.destroy();
    throw err;
  }
}

export interface PairResult {
  a: number;
  b: number;
  natA: NatKind;
  natB: NatKind;
  connected: boolean;
  path?: 'direct' | 'relayed';
  /** Selected candidate types, e.g. "srflx<->srflx" or "relay<->srflx". */
  detail?: string;
  /** Stages tried, in order ('stun', 'stun+turn', 'relay-policy'); the last one is the result. */
  stages: string[];
  /** True when STUN+TURN with policy 'all' failed and iceTransportPolicy 'relay' was needed. */
  relayPolicyFallback: boolean;
  connectMs?: number;
  rttMs?: number;
  error?: string;
}

/** Every unordered pair of NAT kinds, with replacement: (none,none), (none,eim), ... 6 pairs. */
export function natPairs(kinds: readonly NatKind[] = NAT_KINDS): Array<[NatKind, NatKind]> {
  const out: Array<[NatKind, NatKind]> = [];
  for (let i = 0; i < kinds.length; i++) for (let j = i; j < kinds.length; j++) out.push([kinds[i]!, kinds[j]!]);
  return out;
}

/** Two nodes of each kind, so pairs of the same kind use two different routers. */
export function matrixNodes(kinds: readonly NatKind[] = NAT_KINDS): NatKind[] {
  return kinds.flatMap((k) => [k, k]);
}

async function probe(h: Harness, a: number, b: number, policy: 'all' | 'relay', iceServers: string[], timeoutMs: number, attempt: number): Promise<Record<string, unknown>> {
  const tag = `${a}-${b}-${policy}-${attempt}`;
  const args = (name: string, peer: string, role: string) => [harnessScript('dc-peer'), h.relayUrl, name, peer, role, policy, String(timeoutMs), ...iceServers];
  const answer = h.topo.spawn(b, process.execPath, args(`b${tag}`, `a${tag}`, 'answer'));
  const offer = h.topo.spawn(a, process.execPath, args(`a${tag}`, `b${tag}`, 'offer'));
  try {
    const m = await offer.waitFor(/RESULT (.*)/, timeoutMs + 10_000);
    return JSON.parse(m[1]!) as Record<string, unknown>;
  } catch (err) {
    return { connected: false, error: (err as Error).message.slice(0, 300) };
  } finally {
    await Promise.all([offer.kill(1000), answer.kill(1000)]);
  }
}

/** Bound on the STUN-only attempt: hole punching, when it works here, takes ~1 s. */
export const STUN_ONLY_TIMEOUT_MS = 5_000;

/**
 * Connects node a to node b with plain node-datachannel peers, in stages (NAT state flushed before each):
 *   1. STUN only, through the overlay's built-in STUN server (not coturn): a direct path if there is
 *      one. (With TURN offered too, libjuice sometimes nominates a relay pair that succeeded first,
 *      even between two public hosts.)
 *   2. STUN + TURN, policy 'all'. Behind symmetric NATs libjuice's TURN CreatePermission requests fail
 *      (438 Stale Nonce, then 400) and this stage fails too;
 *   3. STUN + TURN with iceTransportPolicy 'relay': the fallback that works there.
 */
export async function connectPair(h: Harness, a: number, b: number, timeoutMs = 8_000): Promise<PairResult> {
  const base = { a, b, natA: h.topo.node(a).nat, natB: h.topo.node(b).nat };
  const stages: Array<{ name: string; policy: 'all' | 'relay'; ice: string[]; timeout: number }> = [
    { name: 'stun', policy: 'all', ice: [h.stunUrl], timeout: STUN_ONLY_TIMEOUT_MS },
    { name: 'stun+turn', policy: 'all', ice: h.turn.iceServers, timeout: timeoutMs },
    { name: 'relay-policy', policy: 'relay', ice: h.turn.iceServers, timeout: timeoutMs },
  ];
  let r: Record<string, unknown> = {};
  const tried: string[] = [];
  for (const [i, st] of stages.entries()) {
    await h.topo.flushConntrack();
    tried.push(st.name);
    r = await probe(h, a, b, st.policy, st.ice, st.timeout, i);
    if (r.connected) break;
  }
  return {
    ...base,
    connected: r.connected === true,
    path: r.path as PairResult['path'],
    detail: r.detail as string | undefined,
    stages: tried,
    relayPolicyFallback: tried.includes('relay-policy'),
    connectMs: r.connectMs as number | undefined,
    rttMs: r.rttMs as number | undefined,
    error: r.error as string | undefined,
  };
}

/** The whole matrix on a harness built with `matrixNodes()`. */
export async function runNatMatrix(h: Harness, timeoutMs?: number): Promise<PairResult[]> {
  const kinds = [...new Set(h.topo.nodes.map((n) => n.nat))];
  const results: PairResult[] = [];
  for (const [ka, kb] of natPairs(kinds)) {
    const a = h.topo.nodes.find((n) => n.nat === ka)!.index;
    const b = h.topo.nodes.find((n) => n.nat === kb && n.index !== a)!.index;
    results.push(await connectPair(h, a, b, timeoutMs));
  }
  return results;
}

/** Pairs where neither side is behind a symmetric NAT: these should connect directly. */
export const expectsDirect = (r: Pick<PairResult, 'natA' | 'natB'>) => r.natA !== 'symmetric' && r.natB !== 'symmetric';
