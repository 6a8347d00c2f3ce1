// A population of real OverlayNodes on a SimNetwork: create, join, crash and leave nodes; probe
// routing; check the ring against the truth. Used by the scenario runner, the benchmark and tests.
import { Identity } from '../overlay/identity.js';
import type { RingAddress } from '../overlay/ring/ring.js';
import { OverlayNode } from '../overlay/node/overlay-node.js';
import type { OverlayOptions } from '../overlay/node/options.js';
import { seededRandom } from '../lib/random.js';
import type { Random } from '../lib/clock.js';
import { NodeClock, SimClock } from './sim-clock.js';
import { SimNetwork, type SimHost, type SimNetworkOptions } from './sim-network.js';
import { directPathPossible, drawNatKind, NatConnector, type NatKind, type NatMix } from './sim-nat.js';
import { networkKey } from '../overlay/handshake/transcript.js';

/** The app tag of simulation probe messages. */
export const PROBE_APP = 16;

/**
 * A newcomer's first link goes to a random member that has been up at least this long (any member
 * while none has): a bootstrap endpoint is a settled node, not one still looking for its own place.
 */
export const BOOTSTRAP_MIN_AGE_MS = 30_000;

export interface SimNode {
  node: OverlayNode;
  host: SimHost;
  clock: NodeClock;
  identity: Identity;
  createdAt: number;
  /** The host's NAT when the simulation has a NAT mix. */
  nat?: NatKind;
}

export interface SimulationOptions {
  /** Put hosts behind NATs with these weights (sim-nat.ts); nodes then get relay edges too. */
  nat?: NatMix;
  /** How long a dial with no direct path takes to fail (ICE timeout). Default 10 s. */
  iceFailMs?: number;
}

/** Network name and key of simulated members (relay edges prove membership like real links). */
const SIM_NETWORK = 'sim';
const SIM_NETWORK_KEY = networkKey(new TextEncoder().encode('simulated network secret'), SIM_NETWORK);

export interface ProbeStats {
  sent: number;
  delivered: number;
  hops: number[];
}

export class Simulation {
  readonly clock = new SimClock();
  readonly random: Random;
  readonly net: SimNetwork;
  readonly nodes = new Map<RingAddress, SimNode>();
  private readonly probes = new Map<number, { dest: RingAddress; delivered: boolean; hops: number }>();
  private nextProbe = 1;
  /** Counters of nodes that are gone, so totals survive churn. */
  readonly departedCounters: Record<string, number> = Object.create(null);
  /** Per-node log lines (trace switch), off by default. */
  log: ((line: string) => void) | undefined;

  constructor(
    seed: number,
    private readonly overlayOptions: Partial<OverlayOptions> = {},
    netOptions: Partial<SimNetworkOptions> = {},
    private readonly simOptions: SimulationOptions = {},
  ) {
    this.random = seededRandom(seed);
    this.net = new SimNetwork(this.clock, seededRandom(seed ^ 0x5eed), netOptions);
  }

  /**
   * Creates a node; it joins through a random live node, or founds the network if there is none.
   * `identity`: a node that comes back (same key, same ring address) after a crash or a leave.
   */
  addNode(o: { identity?: Identity } = {}): SimNode {
    let identity: Identity;
    if (o.identity) {
      if (this.nodes.has(o.identity.address)) throw new Error('a node with this identity is running');
      identity = o.identity;
    } else {
      do identity = Identity.fromSeed(this.random.bytes(32));
      while (this.nodes.has(identity.address));
    }
    const host = this.net.addHost(identity.address, identity.publicKey, this.random.int(this.net.regions));
    const clock = new NodeClock(this.clock);
    const mix = this.simOptions.nat;
    // The founder is the network's first bootstrap endpoint: a public host.
    const nat = mix ? (this.nodes.size === 0 ? 'none' : drawNatKind(mix, this.random)) : undefined;
    const connector = nat ? new NatConnector(host.connector, nat, (a) => this.nodes.get(a)?.nat, clock, this.simOptions.iceFailMs ?? 10_000) : host.connector;
    const node = new OverlayNode(
      {
        identity,
        clock,
        random: seededRandom(this.random.int(2 ** 32)),
        connector,
        ...(nat ? { relay: { network: SIM_NETWORK, networkKey: SIM_NETWORK_KEY } } : {}),
        ...(this.log ? { log: this.log } : {}),
      },
      this.overlayOptions,
    );
    node.onMessage(PROBE_APP, (m) => {
      const id = new DataView(m.payload.buffer, m.payload.byteOffset, m.payload.length).getUint32(0);
      const p = this.probes.get(id);
      if (p && p.dest === node.address && !p.delivered) {
        p.delivered = true;
        p.hops = m.hops;
      }
    });
    const sn: SimNode = { node, host, clock, identity, createdAt: this.clock.now(), ...(nat ? { nat } : {}) };
    // Behind NATs the first link, too, needs a direct path (a bootstrap endpoint is reachable from anywhere).
    // Like a real bootstrap endpoint (a node that has found its place in the ring, e.g. a long-running
    // `overlay up --listen`): a node that never got an answer to its own FIND cannot route a joiner's.
    const boot = this.nodes.size > 0 ? this.randomNode(BOOTSTRAP_MIN_AGE_MS, (b) => b.node.isJoined && (!nat || directPathPossible(nat, b.nat ?? 'none'))) : undefined;
    this.nodes.set(identity.address, sn);
    this.nodeList = undefined;
    node.start();
    if (boot) {
      const [ours, theirs] = this.net.linkPair(host, boot.host);
      boot.node.addLink(theirs);
      node.addLink(ours);
    }
    return sn;
  }

  private retire(sn: SimNode): void {
    for (const [k, v] of Object.entries(sn.node.status().counters)) this.departedCounters[k] = (this.departedCounters[k] ?? 0) + v;
    this.nodes.delete(sn.node.address);
    this.nodeList = undefined;
  }

  /** Silent failure: timers stop, frames vanish, peers are not told. */
  crash(address: RingAddress): void {
    const sn = this.nodes.get(address);
    if (!sn) return;
    this.retire(sn);
    sn.clock.halt();
    this.net.crash(address);
  }

  /** Graceful leave: the node hands off its DHT copies and closes its links. */
  leave(address: RingAddress): void {
    const sn = this.nodes.get(address);
    if (!sn) return;
    this.retire(sn);
    void sn.node.stop();
    sn.clock.halt();
    this.net.remove(address);
  }

  private nodeList: SimNode[] | undefined;

  /** A uniformly random live node, preferring ones up for at least `minAgeMs` (and, if given, that pass `usable`). */
  randomNode(minAgeMs = 0, usable?: (n: SimNode) => boolean): SimNode {
    const now = this.clock.now();
    const all = (this.nodeList ??= [...this.nodes.values()]);
    for (let i = 0; i < 100; i++) {
      const n = all[this.random.int(all.length)]!;
      if (now - n.createdAt >= minAgeMs && (!usable || usable(n))) return n;
    }
    if (usable) for (let i = 0; i < 1_000; i++) {
      const n = all[this.random.int(all.length)]!;
      if (usable(n)) return n;
    }
    return all[this.random.int(all.length)]!;
  }

  sortedAddresses(): RingAddress[] {
    return [...this.nodes.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Fraction of live nodes whose first successor and first predecessor are the true ones. */
  ringConsistency(): { consistent: number; total: number; wrong: RingAddress[] } {
    const sorted = this.sortedAddresses();
    const n = sorted.length;
    const wrong: RingAddress[] = [];
    sorted.forEach((a, i) => {
      if (n < 2) return;
      const node = this.nodes.get(a)!.node;
      const succ = node.successors(1)[0];
      const pred = node.predecessors(1)[0];
      if (succ !== sorted[(i + 1) % n] || pred !== sorted[(i - 1 + n) % n]) wrong.push(a);
    });
    return { consistent: n - wrong.length, total: n, wrong };
  }

  /** Sends one probe from `src` to `dest` (exact). */
  probe(src: SimNode, dest: RingAddress): number {
    const id = this.nextProbe++;
    const payload = new Uint8Array(4);
    new DataView(payload.buffer).setUint32(0, id);
    this.probes.set(id, { dest, delivered: false, hops: -1 });
    src.node.send(dest, PROBE_APP, payload, { exact: true });
    return id;
  }

  /** Results of the probes with the given ids; `alive` filters out those whose destination left meanwhile. */
  probeStats(ids: Iterable<number>): ProbeStats & { destGone: number } {
    const s = { sent: 0, delivered: 0, hops: [] as number[], destGone: 0 };
    for (const id of ids) {
      const p = this.probes.get(id);
      if (!p) continue;
      if (!p.delivered && !this.nodes.has(p.dest)) {
        s.destGone++;
        continue;
      }
      s.sent++;
      if (p.delivered) {
        s.delivered++;
        s.hops.push(p.hops);
      }
    }
    return s;
  }

  /** Sum of one counter over live and departed nodes. */
  counterTotal(name: string): number {
    let t = this.departedCounters[name] ?? 0;
    for (const sn of this.nodes.values()) t += sn.node.counter(name);
    return t;
  }

  async runFor(ms: number): Promise<void> {
    await this.clock.runUntil(this.clock.now() + ms);
  }

  async stopAll(): Promise<void> {
    for (const sn of [...this.nodes.values()]) this.leave(sn.node.address);
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}
