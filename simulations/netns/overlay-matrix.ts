// The NAT matrix over the real overlay: a bootstrap node in the public namespace, and for each pair
// of NAT kinds two fresh overlay nodes (OverlayDaemon + virtual network, overlay-vnet-node.ts) that
// join through it. Connected = a ping over virtual IPs is answered; then a burst of traffic lets the
// overlay set up its shortcut, and the path is read from `overlay status`: a link straight to the peer
// (direct; relayed through TURN; or a relay edge through an overlay neighbour, as the link reports it),
// or none (routed through the overlay).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Proc } from '../harness/proc.js';
import { expectsDirect, harnessScript, natPairs, type Harness } from './harness.js';
import { PUBLIC_IP, type NatKind } from './topology.js';

export const OVERLAY_BOOTSTRAP_PORT = 7000;
const overlayCli = fileURLToPath(new URL('../../../bin/overlay.js', import.meta.url));

export interface OverlayPairResult {
  natA: NatKind;
  natB: NatKind;
  connected: boolean;
  /** 'direct' / 'relayed' from the link to the peer; 'routed' when no link to it exists. */
  path?: 'direct' | 'relayed' | 'routed';
  /** Which kind of path: a relayed link is TURN or an overlay relay edge ("relayed via <node>"). */
  via?: PathVia;
  /** How the virtual network's last packets to the peer went (its status: link kind and detail, or routed). */
  dataPath?: string;
  /**
   * For a pair expected to be direct whose first link was not: the path after waiting for the
   * overlay's direct retry of relayed peers (relayFirstDirectRetryMs), up to `settleWaitMs`.
   */
  settledVia?: PathVia;
  detail?: string;
  /** Seconds from starting the second node to the first answered ping. */
  onlineS?: number;
  error?: string;
}

export type PathVia = 'direct' | 'turn' | 'overlay-relay' | 'routed';

/** Classifies a link's status entry. */
export function pathVia(path: 'direct' | 'relayed' | 'routed', detail: string): PathVia {
  if (path !== 'relayed') return path;
  return detail.startsWith('relayed via ') ? 'overlay-relay' : 'turn';
}

export interface OverlayMatrixOptions {
  subnet: string;
  /**
   * A new bootstrap node (new network state) for every pair, so pairs are independent cases (as
   * conntrack is flushed between them). With false, all pairs share one bootstrap, which also
   * exercises churn (every pair's nodes join and leave through it).
   */
  freshBootstrap: boolean;
  /**
   * ICE servers (`--ice`) of every node. Default none: zero configuration, as a user runs it (the
   * bootstrap node's built-in STUN server is learned from its WELCOME). The harness's coturn
   * (STUN, or STUN + TURN) for comparisons.
   */
  iceServers?: string[];
  /** How long to wait for a link to the peer after the traffic burst. */
  linkWaitMs: number;
  /** How long a relayed pair that should be direct gets to turn direct (see settledVia). */
  settleWaitMs: number;
}

export class OverlayMatrix {
  readonly dir = mkdtempSync(join(tmpdir(), 'overlay-matrix-'));
  private bootstrap: Proc | undefined;
  private counter = 0;

  /**
   * freshBootstrap: a new bootstrap node (new network state) for every pair, so pairs are independent
   * cases (as conntrack is flushed between them). With false, all pairs share one bootstrap, which
   * also exercises churn (every pair's nodes join and leave through it).
   */
  private readonly o: OverlayMatrixOptions;

  constructor(
    private readonly h: Harness,
    options: Partial<OverlayMatrixOptions> = {},
  ) {
    this.o = { subnet: '10.128.0.0/16', freshBootstrap: true, linkWaitMs: 45_000, settleWaitMs: 45_000, ...options };
    writeFileSync(join(this.dir, 'secret'), randomBytes(32));
  }

  private args(state: string, bind: string, extra: string[]): string[] {
    const a = [harnessScript('overlay-vnet-node'), state, 'matrixnet', join(this.dir, 'secret'), this.o.subnet, '9000', bind, ...extra];
    for (const url of this.o.iceServers ?? []) a.push('--ice', url);
    return a;
  }

  /** (Re)starts the bootstrap node in the public namespace. */
  async start(): Promise<void> {
    await this.bootstrap?.kill(5000);
    this.bootstrap = this.h.topo.spawnPublic(process.execPath, this.args(join(this.dir, `boot-${this.counter++}`), PUBLIC_IP, ['--listen', String(OVERLAY_BOOTSTRAP_PORT)]));
    await this.bootstrap.waitFor(/VNET up/, 60_000);
  }

  /** The running bootstrap node (public namespace), if started. */
  get bootstrapProc(): Proc | undefined {
    return this.bootstrap;
  }

  /** Starts an overlay node (with the virtual network) in node i's namespace, joining through the bootstrap. */
  node(i: number): { proc: Proc; state: string } {
    const state = join(this.dir, `n${i}-${this.counter++}`);
    const proc = this.h.topo.spawn(i, process.execPath, this.args(state, this.h.topo.node(i).lanIp, ['--bootstrap', `ws://${PUBLIC_IP}:${OVERLAY_BOOTSTRAP_PORT}`]));
    return { proc, state };
  }

  async pair(a: number, b: number): Promise<OverlayPairResult> {
    const base = { natA: this.h.topo.node(a).nat, natB: this.h.topo.node(b).nat };
    if (this.o.freshBootstrap || !this.bootstrap) await this.start();
    await this.h.topo.flushConntrack();
    const na = this.node(a);
    const nb = this.node(b);
    try {
      const started = performance.now();
      const vipB = (await nb.proc.waitFor(/VNET up (\S+)/, 60_000))[1]!;
      await na.proc.waitFor(/VNET up (\S+)/, 60_000);
      const ringB = (await nb.proc.waitFor(/overlay: node ([0-9a-f]{40})/, 5_000))[1]!;
      let onlineS: number | undefined;
      for (let i = 0; i < 100 && onlineS === undefined; i++) {
        if (await this.h.topo.exec(a, 'ping', ['-c', '1', '-W', '0.3', vipB]).then(() => true, () => false)) onlineS = (performance.now() - started) / 1000;
      }
      if (onlineS === undefined) return { ...base, connected: false, error: 'no ping answered' };
      // Enough traffic for a traffic-driven shortcut, then give the link a moment to form.
      await this.h.topo.exec(a, 'ping', ['-c', '200', '-i', '0.005', '-q', '-W', '1', vipB]).catch(() => undefined);
      const l = await this.linkTo(a, na.state, ringB, this.o.linkWaitMs);
      const path: OverlayPairResult['path'] = l?.path ?? 'routed';
      const detail = l?.detail ?? 'no link to the peer';
      // A few more packets, then ask the virtual network which way they went.
      await this.h.topo.exec(a, 'ping', ['-c', '3', '-i', '0.2', '-W', '1', '-q', vipB]).catch(() => undefined);
      const dataPath = await this.vnetPeer(a, na.state, ringB);
      const via = pathVia(path, detail);
      let settledVia: PathVia | undefined;
      if (expectsDirect(base) && via !== 'direct') {
        const until = performance.now() + this.o.settleWaitMs;
        do {
          await new Promise((r) => setTimeout(r, 2_000));
          const later = await this.linkTo(a, na.state, ringB, 0);
          settledVia = later ? pathVia(later.path, later.detail) : 'routed';
        } while (settledVia !== 'direct' && performance.now() < until);
      }
      return { ...base, connected: true, path, via, detail, onlineS, ...(dataPath ? { dataPath } : {}), ...(settledVia ? { settledVia } : {}) };
    } catch (err) {
      return { ...base, connected: false, error: (err as Error).message.slice(0, 400) };
    } finally {
      await Promise.all([na.proc.kill(5000), nb.proc.kill(5000)]);
    }
  }

  /** Node i's link to `ring` as `overlay status` shows it, waiting up to `waitMs` for one to appear. */
  async linkTo(i: number, state: string, ring: string, waitMs: number): Promise<{ path: 'direct' | 'relayed'; detail: string } | undefined> {
    const until = performance.now() + waitMs;
    for (;;) {
      const st = await this.h.topo.exec(i, process.execPath, [overlayCli, 'status', '--json', '--state', state]).catch(() => undefined);
      if (st) {
        const links = (JSON.parse(st.stdout) as { links: Array<{ remote: string; path: 'direct' | 'relayed'; detail: string }> }).links;
        const l = links.find((x) => x.remote === ring);
        if (l) return l;
      }
      if (performance.now() > until) return undefined;
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** The virtual network's record of its last packets to `ring`: "direct: <link kind and detail>" or "routed: ...". */
  async vnetPeer(i: number, state: string, ring: string): Promise<string | undefined> {
    const st = await this.h.topo.exec(i, process.execPath, [overlayCli, 'status', '--json', '--state', state]).catch(() => undefined);
    if (!st) return undefined;
    const vnet = (JSON.parse(st.stdout) as { services?: { vnet?: { peers?: Array<{ address: string; path: string; why: string }> } } }).services?.vnet;
    const p = vnet?.peers?.find((x) => x.address === ring);
    return p ? `${p.path}: ${p.why}` : undefined;
  }

  /** Every pair of NAT kinds present in the topology (two nodes of each kind, see matrixNodes()). */
  async run(): Promise<OverlayPairResult[]> {
    const kinds = [...new Set(this.h.topo.nodes.map((n) => n.nat))];
    const out: OverlayPairResult[] = [];
    for (const [ka, kb] of natPairs(kinds)) {
      const a = this.h.topo.nodes.find((n) => n.nat === ka)!.index;
      const b = this.h.topo.nodes.find((n) => n.nat === kb && n.index !== a)!.index;
      out.push(await this.pair(a, b));
    }
    return out;
  }

  async stop(): Promise<void> {
    await this.bootstrap?.kill(5000);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
