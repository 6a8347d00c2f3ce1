// The connection table: who we have links to and why. Pure data (no I/O, no timers): the node feeds it
// links and reads routing choices from it. Addresses are kept in a sorted array, so the neighbour
// closest to any key is found by binary search (it is the key's successor or predecessor in that array).
import type { Link } from '../link/link.js';
import type { RingAddress } from '../ring/ring.js';
import { closerTo, cwDist } from '../ring/ring.js';

export interface TableEntry {
  readonly address: RingAddress;
  link: Link;
  /** True if we dialed this link (used to break ties between duplicate links). */
  dialedByUs: boolean;
  far: boolean;
  shortcut: boolean;
  bootstrap: boolean;
  /**
   * Whether greedy routing may hand other nodes' messages to this peer. False for a newcomer that
   * reached us through the bootstrap path until it shows it has found its place (its first NEIGHBORS
   * list): it cannot route yet, and two such newcomers each sitting next to the other's bootstrap
   * caught each other's FIND answers for ever.
   */
  transit: boolean;
  /** Whether the peer still wants the link (it says so with WANT frames); starts true. */
  remoteWants: boolean;
  /** What we last told the peer about wanting the link. */
  announcedWant: boolean;
  addedAt: number;
  lastHeard: number;
  lastUsed: number;
  rttMs?: number;
  /** Set when the table drops the entry (a holder of the object can tell without a lookup). */
  removed?: boolean;
  pingNonce?: number;
  pingSentAt?: number;
}

export class ConnectionTable {
  private readonly entries = new Map<RingAddress, TableEntry>();
  private sorted: RingAddress[] = [];
  private nearCache: Set<RingAddress> | undefined;
  /** Linked peers that are not transit (usually none). */
  private readonly notTransit = new Set<RingAddress>();

  constructor(readonly self: RingAddress, readonly nearPerSide: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(address: RingAddress): TableEntry | undefined {
    return this.entries.get(address);
  }

  has(address: RingAddress): boolean {
    return this.entries.has(address);
  }

  all(): IterableIterator<TableEntry> {
    return this.entries.values();
  }

  addresses(): readonly RingAddress[] {
    return this.sorted;
  }

  add(entry: TableEntry): void {
    if (entry.address === this.self) throw new Error('cannot link to self');
    if (this.entries.has(entry.address)) throw new Error('duplicate entry');
    this.entries.set(entry.address, entry);
    if (!entry.transit) this.notTransit.add(entry.address);
    const i = this.lowerBound(entry.address);
    this.sorted.splice(i, 0, entry.address);
    this.nearCache = undefined;
  }

  remove(address: RingAddress): TableEntry | undefined {
    const e = this.entries.get(address);
    if (!e) return undefined;
    this.entries.delete(address);
    e.removed = true;
    this.notTransit.delete(address);
    const i = this.lowerBound(address);
    if (this.sorted[i] === address) this.sorted.splice(i, 1);
    this.nearCache = undefined;
    return e;
  }

  /** Index of the first sorted address >= a. */
  private lowerBound(a: RingAddress): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sorted[mid]! < a) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The `n` linked addresses following self clockwise, nearest first. */
  successors(n = this.nearPerSide): RingAddress[] {
    const out: RingAddress[] = [];
    const len = this.sorted.length;
    if (len === 0) return out;
    const start = this.lowerBound(this.self + 1n);
    for (let i = 0; i < Math.min(n, len); i++) out.push(this.sorted[(start + i) % len]!);
    return out;
  }

  /** The `n` linked addresses preceding self counter-clockwise, nearest first. */
  predecessors(n = this.nearPerSide): RingAddress[] {
    const out: RingAddress[] = [];
    const len = this.sorted.length;
    if (len === 0) return out;
    const start = this.lowerBound(this.self) - 1 + len;
    for (let i = 0; i < Math.min(n, len); i++) out.push(this.sorted[(start - i) % len]!);
    return out;
  }

  /** The near set: `nearPerSide` successors and predecessors (they overlap in tiny rings). */
  nearSet(): Set<RingAddress> {
    if (!this.nearCache) this.nearCache = new Set([...this.successors(), ...this.predecessors()]);
    return this.nearCache;
  }

  isNear(address: RingAddress): boolean {
    return this.nearSet().has(address);
  }

  /**
   * Would `candidate` (not linked yet) enter our near set? True if it is closer clockwise than our
   * current last successor, or closer counter-clockwise than our last predecessor, or a side is short.
   */
  wouldBeNear(candidate: RingAddress): boolean {
    return this.nearTest()(candidate);
  }

  /** wouldBeNear for many candidates: the near set's reach is computed once. */
  private nearTest(): (candidate: RingAddress) => boolean {
    const succ = this.successors();
    const pred = this.predecessors();
    const short = succ.length < this.nearPerSide || pred.length < this.nearPerSide;
    const cwReach = short ? 0n : cwDist(this.self, succ[succ.length - 1]!);
    const ccwReach = short ? 0n : cwDist(pred[pred.length - 1]!, this.self);
    return (c) => c !== this.self && !this.entries.has(c) && (short || cwDist(this.self, c) < cwReach || cwDist(c, this.self) < ccwReach);
  }

  /**
   * Which of `candidates` (not linked) belong in the near set of everything we know: linked nodes,
   * `pending` dials and the candidates themselves. Dialing only these avoids dialing six nodes for
   * one free place when a neighbour list arrives.
   */
  nearCandidates(candidates: readonly RingAddress[], pending: Iterable<RingAddress>): RingAddress[] {
    // Exact shortcut: a candidate that does not beat our current near set cannot be near among a
    // pool that contains that set. Most neighbour lists bring nothing new, so this is the usual exit.
    const fresh = candidates.filter(this.nearTest());
    if (fresh.length === 0) return [];
    // Only our current near set can compete with the candidates, plus dials in flight.
    const pool = [...new Set([...this.successors(), ...this.predecessors(), ...pending, ...fresh])].filter((a) => a !== this.self);
    const k = this.nearPerSide;
    const cw = pool.map((a) => ({ a, d: cwDist(this.self, a) }));
    const byCw = [...cw].sort((x, y) => (x.d < y.d ? -1 : x.d > y.d ? 1 : 0)).slice(0, k);
    const byCcw = cw.sort((x, y) => (x.d > y.d ? -1 : x.d < y.d ? 1 : 0)).slice(0, k);
    const near = new Set([...byCw, ...byCcw].map((x) => x.a));
    return [...new Set(fresh)].filter((c) => near.has(c));
  }

  /**
   * How many of `candidates` (not linked) lie strictly between us and our nearest linked neighbour on
   * either side. In a settled ring a neighbour's list brings at most a newcomer or two there; several
   * at once mean our near set is far from our true place in the ring.
   */
  insideGaps(candidates: readonly RingAddress[]): number {
    const succ = this.successors(1)[0];
    const pred = this.predecessors(1)[0];
    if (succ === undefined || pred === undefined) return 0;
    const toSucc = cwDist(this.self, succ);
    const fromPred = cwDist(pred, this.self);
    let n = 0;
    for (const c of new Set(candidates)) {
      if (c === this.self || this.entries.has(c)) continue;
      const cw = cwDist(this.self, c);
      if ((cw !== 0n && cw < toSucc) || cwDist(c, this.self) < fromPred) n++;
    }
    return n;
  }

  /** Marks a linked peer as able (or not) to route for others. */
  setTransit(address: RingAddress, transit: boolean): void {
    const e = this.entries.get(address);
    if (!e) return;
    e.transit = transit;
    if (transit) this.notTransit.delete(address);
    else this.notTransit.add(address);
  }

  /**
   * The transit peer closest to `key` by ring distance (ties to the lower address), skipping
   * `exclude`. Undefined if there is none. O(log n) when all peers are transit: the closest point of
   * a sorted circular set to a key is the key's successor or predecessor in it.
   */
  closest(key: RingAddress, exclude?: RingAddress): RingAddress | undefined {
    const len = this.sorted.length;
    if (len === 0) return undefined;
    const i = this.lowerBound(key);
    const usable = (a: RingAddress) => a !== exclude && (this.notTransit.size === 0 || !this.notTransit.has(a));
    let best: RingAddress | undefined;
    for (let j = 0; j < len; j++) {
      const a = this.sorted[(i + j) % len]!;
      if (usable(a)) {
        best = a;
        break;
      }
    }
    for (let j = 1; j <= len; j++) {
      const a = this.sorted[(((i - j) % len) + len) % len]!;
      if (usable(a)) {
        if (best === undefined || closerTo(key, a, best)) best = a;
        break;
      }
    }
    return best;
  }

  /** The `n` linked addresses closest to `key`, closest first (used for DHT replica sets). */
  closestN(key: RingAddress, n: number): RingAddress[] {
    const len = this.sorted.length;
    if (len === 0) return [];
    const take = Math.min(n, len);
    // Merge outward from the key's position in both directions.
    let right = this.lowerBound(key);
    let left = right - 1;
    const out: RingAddress[] = [];
    while (out.length < take) {
      const r = this.sorted[((right % len) + len) % len]!;
      const l = this.sorted[((left % len) + len) % len]!;
      if (out.length + 1 === take && r === l) {
        out.push(r);
        break;
      }
      if (closerTo(key, r, l)) {
        out.push(r);
        right++;
      } else {
        out.push(l);
        left--;
      }
      if (right - left - 1 >= len) break;
    }
    return out;
  }
}
