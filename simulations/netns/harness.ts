// The NAT-matrix harness: a topology with coturn and the relay in the public namespace, and a
// runner that connects every pair of nodes and records how (direct or relayed through TURN).
// This is what the overlay's NAT-matrix test builds on: create, run things in node namespaces, destroy.
import { fileURLToPath } from 'node:url';
import { NetnsTopology, NAT_KINDS, PUBLIC_IP, type NatKind } from './topology.js';
import { startCoturn, type TurnService } from './coturn.js';

export const RELAY_PORT = 8700;
const distDir = fileURLToPath(new URL('.', import.meta.url));
export const harnessScript = (name: string) => `${distDir}${name}.js`;

export interface Harness {
  topo: NetnsTopology;
  turn: TurnService;
  relayUrl: string;
  destroy(): Promise<void>;
}

/** A topology with coturn and the relay running in its public namespace. */
export async function createHarness(nodes: readonly NatKind[], tag?: string): Promise<Harness> {
  const topo = await NetnsTopology.create({ nodes, tag });
  try {
    const turn = await startCoturn(topo);
    const relay = topo.spawnPublic(process.execPath, [harnessScript('relay'), PUBLIC_IP, String(RELAY_PORT)]);
    await relay.waitFor(/relay listening/, 10_000);
    return { topo, turn, relayUrl: `ws://${PUBLIC_IP}:${RELAY_PORT}`, destroy: () => topo.destroy() };
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
  /** True when policy 'all' failed and the retry with iceTransportPolicy 'relay' was needed. */
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

async function probe(h: Harness, a: number, b: number, policy: 'all' | 'relay', timeoutMs: number, attempt: number): Promise<Record<string, unknown>> {
  const tag = `${a}-${b}-${policy}-${attempt}`;
  const args = (name: string, peer: string, role: string) => [harnessScript('dc-peer'), h.relayUrl, name, peer, role, policy, String(timeoutMs), ...h.turn.iceServers];
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

/**
 * Connects node a to node b with plain node-datachannel peers: ICE policy 'all' first (STUN + TURN);
 * if that fails (libjuice's TURN CreatePermission failure behind symmetric NATs), again with
 * iceTransportPolicy 'relay'. NAT state is flushed before each attempt.
 */
export async function connectPair(h: Harness, a: number, b: number, timeoutMs = 8_000): Promise<PairResult> {
  const base = { a, b, natA: h.topo.node(a).nat, natB: h.topo.node(b).nat };
  await h.topo.flushConntrack();
  let r = await probe(h, a, b, 'all', timeoutMs, 0);
  let fallback = false;
  if (!r.connected) {
    fallback = true;
    await h.topo.flushConntrack();
    r = await probe(h, a, b, 'relay', timeoutMs, 1);
  }
  return {
    ...base,
    connected: r.connected === true,
    path: r.path as PairResult['path'],
    detail: r.detail as string | undefined,
    relayPolicyFallback: fallback,
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
