// Our place in the ring. A join sends a FIND for our own address, which greedy routing carries to the
// node now closest to it; that node answers with its near set and we dial the ones that belong in
// ours (the dials' signalling goes through the answerer, which links to them). From then on near
// neighbours swap near sets: on every change of ours (debounced), and every stabilize period.
import type { Clock, Timer } from '../../lib/clock.js';
import type { RingAddress } from '../ring/ring.js';
import type { ConnectionTable, TableEntry } from '../routing-table/connection-table.js';
import { addressHex } from '../ring/ring.js';
import { encodeLinkFrame, FRAME_NEIGHBORS, MAX_NEIGHBORS_PER_FRAME, type LinkFrame, type NeighborsFrame } from '../wire/link-frame.js';
import type { NodeCounter } from './counters.js';
import type { Dialer } from './dialer.js';
import type { FindResult } from './finder.js';
import type { LinkOrigin } from './link-admission.js';
import type { OverlayOptions } from './options.js';

export interface RingKeeperHost {
  readonly self: RingAddress;
  readonly clock: Clock;
  readonly options: Pick<OverlayOptions, 'nearPerSide' | 'topologyDebounceMs'>;
  readonly table: ConnectionTable;
  readonly started: boolean;
  readonly stopped: boolean;
  readonly dialer: Pick<Dialer, 'connect' | 'isPending' | 'pendingAddresses' | 'coolingDown'>;
  count(name: NodeCounter): void;
  readonly log: ((line: string) => void) | undefined;
  find(position: RingAddress): Promise<FindResult | undefined>;
  sendFrame(e: TableEntry, f: LinkFrame): boolean;
  sendEncoded(e: TableEntry, bytes: Uint8Array): boolean;
  /** Our near set changed (after debounce): the DHT re-replicates. */
  nearSetChanged(): void;
}

/** Near-set changes remembered for the DHT's quiet rule (a change older than dhtQuietMs no longer matters). */
const NEAR_CHANGES_KEPT = 16;

export class RingKeeper {
  private joiningNow = false;
  private joinedFlag = false;
  private joinedAtMs = 0;
  private topologyTimer: Timer | undefined;
  /** A near neighbour left since the last near-set change: ask the ring for our place again. */
  private nearLost = false;
  /** Our last near sets' changes (after debounce): when, and which addresses came or went. */
  private readonly nearChanges: Array<{ at: number; diff: RingAddress[] }> = [];
  /** When the newest change dropped from `nearChanges` happened (older history is not kept). */
  private nearChangesForgottenAt = -Infinity;
  private nearSetNow: ReadonlySet<RingAddress> = new Set();

  constructor(private readonly host: RingKeeperHost) {}

  /** Our FIND has placed us in the ring (at least once). */
  get joined(): boolean {
    return this.joinedFlag;
  }
  get joinedAt(): number {
    return this.joinedAtMs;
  }
  /**
   * When our near set last changed other than by `address` alone coming or going: an exclusive DHT
   * create waits for quiet, and a change made only by its requester (a node rejoining beside us) does
   * not move the key's primary, nor can copies of it be on their way because of that node.
   */
  nearChangedAtApartFrom(address: RingAddress): number {
    for (let i = this.nearChanges.length - 1; i >= 0; i--) {
      const c = this.nearChanges[i]!;
      if (c.diff.some((a) => a !== address)) return c.at;
    }
    return this.nearChangesForgottenAt;
  }

  /** Our near set as we tell it (at most one frame's worth). */
  nearList(): RingAddress[] {
    return [...this.host.table.nearSet()].slice(0, MAX_NEIGHBORS_PER_FRAME);
  }

  /** FINDs our own address and links the near set the answer names; one join at a time. */
  join(): void {
    const host = this.host;
    if (this.joiningNow || host.stopped) return;
    this.joiningNow = true;
    host.count('join_attempts');
    void host.find(host.self).then((r) => {
      this.joiningNow = false;
      if (!r || host.stopped) return;
      if (!this.joinedFlag) this.joinedAtMs = host.clock.now();
      this.joinedFlag = true;
      if (host.log) host.log(`found ${addressHex(r.from)}`);
      this.considerCandidates([r.from]);
      this.considerCandidates(r.near, r.from);
    });
  }

  /**
   * Dials every candidate that belongs in our near set. `informer` told us about them and links to
   * them, so our signalling goes through it: greedy routing alone cannot reach a node that the ring
   * around it does not know yet.
   */
  considerCandidates(candidates: RingAddress[], informer?: RingAddress, neighbourList = false): void {
    // Before our FIND has placed us, neighbour lists (from a random bootstrap peer) would only lead
    // us on a walk round the ring.
    if (!this.joinedFlag) return;
    // A neighbour's list with several nodes between us and our nearest neighbours: our FIND was answered
    // by a node that did not know our part of the ring (it happens in join storms). Following such lists
    // walks us home three nodes per dial (hundreds of dials); a FIND for our own address jumps there.
    const { dialer, table } = this.host;
    const now = this.host.clock.now();
    const usable = candidates.filter((c) => !dialer.isPending(c) && !dialer.coolingDown(c, now));
    const near = table.nearCandidates(usable, dialer.pendingAddresses());
    const k = this.host.options.nearPerSide;
    if (neighbourList && near.length >= k && table.insideGaps(near) >= k) {
      this.host.count('near_jumps');
      this.join();
      return;
    }
    for (const c of near) dialer.connect(c, 'near', informer);
  }

  /** A link entered the table. */
  added(entry: TableEntry, origin: LinkOrigin, wasAlone: boolean): void {
    const host = this.host;
    // A founder (or a node left alone) that someone just reached: place ourselves through it now, so
    // DHT requests we are primary for are not deferred until the next self-FIND.
    if (wasAlone && origin === 'incoming' && !this.joinedFlag && host.started) this.join();
    // A bootstrap peer is a random member, not a neighbour: the join's FIND finds the neighbours.
    if (origin !== 'bootstrap' && this.joinedFlag && host.table.isNear(entry.address)) host.sendFrame(entry, { type: FRAME_NEIGHBORS, wantReply: true, addresses: this.nearList() });
    this.topologyChanged();
  }

  /** A link left the table. */
  removed(wasNear: boolean): void {
    if (wasNear) this.nearLost = true;
  }

  /** A near set from a linked peer. */
  onNeighbors(e: TableEntry, f: NeighborsFrame): void {
    const { table } = this.host;
    if (!e.transit) table.setTransit(e.address, true); // only placed nodes send lists
    this.considerCandidates(f.addresses, e.address, true);
    // Answer when asked, and when the sender counts us near but we do not count it: it is then
    // missing nodes between us that only we can name (near sets are not symmetric while the ring
    // fills in, and our own lists go only to our near set, so it would never hear of them).
    if (this.joinedFlag && (f.wantReply || (!f.answer && !table.isNear(e.address)))) this.host.sendFrame(e, { type: FRAME_NEIGHBORS, wantReply: false, answer: true, addresses: this.nearList() });
  }

  /** The table changed: once it settles (topologyDebounceMs), if our near set changed, tell the near neighbours. */
  topologyChanged(): void {
    const host = this.host;
    if (this.topologyTimer || host.stopped) return;
    this.topologyTimer = host.clock.setTimeout(() => {
      this.topologyTimer = undefined;
      if (host.stopped) return;
      const near = host.table.nearSet();
      const diff = [...near].filter((a) => !this.nearSetNow.has(a)).concat([...this.nearSetNow].filter((a) => !near.has(a)));
      if (diff.length === 0) return;
      this.nearSetNow = new Set(near);
      this.nearChanges.push({ at: host.clock.now(), diff });
      if (this.nearChanges.length > NEAR_CHANGES_KEPT) this.nearChangesForgottenAt = this.nearChanges.shift()!.at;
      const askBack = this.nearLost;
      this.nearLost = false;
      if (askBack) this.join();
      // Until our FIND has placed us our list is only our bootstrap peer; and a list is how a peer
      // learns we can route for it.
      if (this.joinedFlag) this.sendToNear(near, askBack);
      host.nearSetChanged();
    }, host.options.topologyDebounceMs);
  }

  /** Every stabilize period: our near set to our near neighbours. */
  stabilize(): void {
    if (this.host.stopped || !this.joinedFlag) return;
    this.sendToNear(this.host.table.nearSet(), false);
  }

  stop(): void {
    this.topologyTimer?.cancel();
  }

  private sendToNear(near: ReadonlySet<RingAddress>, wantReply: boolean): void {
    const bytes = encodeLinkFrame({ type: FRAME_NEIGHBORS, wantReply, addresses: this.nearList() });
    for (const a of [...near]) {
      const e = this.host.table.get(a); // sending may drop a dead link on the way
      if (e) this.host.sendEncoded(e, bytes);
    }
  }
}
