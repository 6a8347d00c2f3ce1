// Which links the node keeps. Every link (bootstrap, incoming, dialed, relay edge) enters the
// connection table here, or is refused as a duplicate: of two links to one peer a direct one beats a
// relay edge, and otherwise both sides keep the one the lower address dialed; but a new link of the
// same kind as one held for more than duplicateGlareMs replaces it (the peer lost the old one). Links leave the table
// here too (timeout, release, close), and the parts that care are told.
import type { Clock } from '../../lib/clock.js';
import type { Link } from '../link/link.js';
import type { RingAddress } from '../ring/ring.js';
import type { ConnectionTable, TableEntry } from '../routing-table/connection-table.js';
import { addressHex } from '../ring/ring.js';
import type { NodeCounter } from './counters.js';
import type { OverlayOptions } from './options.js';

/** Newcomers remembered between their bootstrap HELLO and their link (more are forgotten, not refused). */
const MAX_EXPECTED_NEWCOMERS = 1024;

export type LinkOrigin = 'dialed' | 'incoming' | 'bootstrap';
/** Why we wanted a link besides the near set (a link may serve several). */
export interface LinkPurposes {
  far: boolean;
  shortcut: boolean;
}

export interface LinkAdmissionHost {
  readonly self: RingAddress;
  readonly clock: Clock;
  readonly options: Pick<OverlayOptions, 'duplicateGlareMs'>;
  readonly table: ConnectionTable;
  readonly stopped: boolean;
  /** Our FIND has placed us in the ring. */
  readonly joined: boolean;
  count(name: NodeCounter): void;
  readonly log: ((line: string) => void) | undefined;
  /** Installs the frame handlers on a link (also on a refused one: frames already sent still count). */
  attach(link: Link): void;
  /** Releases a link by BYE handshake (link-release.ts). */
  sayBye(link: Link, reason: string): void;
  /** A relay edge that closed and that we still want (the link's entry is already gone) is rebuilt. */
  wants(e: TableEntry, now: number): boolean;
  rebuildRelay(remote: RingAddress, purposes: LinkPurposes, why: string, avoid: RingAddress): void;
  /** A new entry is in the table (after the handlers are installed). */
  added(entry: TableEntry, origin: LinkOrigin, wasAlone: boolean): void;
  /** An entry left the table; `wasNear`: it was in our near set. */
  removed(address: RingAddress, wasNear: boolean): void;
  /** The table changed (debounced by the ring keeper). */
  topologyChanged(): void;
  /** A link closed under us: no BYE timer for it any more. */
  linkClosed(link: Link): void;
}

export class LinkAdmission {
  /** Newcomers our bootstrap endpoint is talking to (expectNewcomer), until their link arrives. */
  private readonly newcomers = new Set<RingAddress>();

  constructor(private readonly host: LinkAdmissionHost) {}

  expectNewcomer(address: RingAddress): void {
    if (this.newcomers.size >= MAX_EXPECTED_NEWCOMERS) this.newcomers.clear(); // bounded: a stale entry only delays transit
    this.newcomers.add(address);
  }

  /** Takes a link into the table (or refuses a duplicate); true if it was kept. */
  adopt(link: Link, how: LinkOrigin, purposes?: LinkPurposes): boolean {
    const { self, table, stopped } = this.host;
    if (stopped || link.closed || link.remote === self) {
      link.close(stopped ? 'stopped' : 'unusable');
      return false;
    }
    const now = this.host.clock.now();
    const remote = link.remote;
    const existing = table.get(remote);
    if (existing && (existing.link.relayedVia !== undefined) === (link.relayedVia !== undefined) && now - existing.addedAt > this.host.options.duplicateGlareMs) {
      // Not a dial race: the peer lost the old link (e.g. restarted). Keeping it would refuse the
      // peer's only link and leave it cut off until our keepalive finds the old one dead.
      this.host.count('links_replaced_stale');
      this.dropEntry(existing, 'stale');
    } else if (existing) {
      // Two links to one peer (both dialed at once): both sides keep the one the lower address dialed.
      const dialedByLower = (byUs: boolean) => (byUs ? self < remote : remote < self);
      const merge = (e: TableEntry) => {
        e.far ||= purposes?.far ?? false;
        e.shortcut ||= purposes?.shortcut ?? false;
        e.bootstrap ||= how === 'bootstrap';
      };
      // A direct link always wins over a relay edge (the relay was only a fallback); otherwise
      // both sides keep the one the lower address dialed.
      const relayedNew = link.relayedVia !== undefined;
      const relayedOld = existing.link.relayedVia !== undefined;
      const takeNew = relayedNew !== relayedOld ? relayedOld : dialedByLower(how === 'dialed') && !dialedByLower(existing.dialedByUs);
      if (takeNew) {
        if (relayedOld && !relayedNew) this.host.count('relay_replaced_by_direct');
        const old = existing.link;
        existing.link = link;
        existing.dialedByUs = how === 'dialed';
        merge(existing);
        this.host.attach(link);
        this.host.sayBye(old, 'duplicate');
        this.host.count('links_replaced_duplicate');
        return true;
      }
      merge(existing);
      // Frames the peer already sent on the refused link still count: take them, then close it.
      this.host.attach(link);
      this.host.sayBye(link, 'duplicate');
      this.host.count('links_refused_duplicate');
      return false;
    }
    const entry: TableEntry = {
      address: remote,
      link,
      dialedByUs: how === 'dialed',
      far: purposes?.far ?? false,
      shortcut: purposes?.shortcut ?? false,
      bootstrap: how === 'bootstrap',
      // A bootstrap link reaching a member comes from a newcomer (not yet routable); reaching a
      // newcomer, it comes from the member it joins through. A real bootstrap endpoint's newcomers
      // arrive as incoming links, announced by expectNewcomer.
      transit: !((how === 'bootstrap' && this.host.joined) || this.newcomers.delete(remote)),
      remoteWants: true,
      announcedWant: true,
      addedAt: now,
      lastHeard: now,
      lastUsed: now,
    };
    const wasAlone = table.size === 0;
    table.add(entry);
    this.host.attach(link);
    this.host.count('links_opened');
    this.host.added(entry, how, wasAlone);
    return true;
  }

  /** A link closed (either side, or failed). A relay edge we still want is rebuilt through another neighbour. */
  onLinkClosed(link: Link, reason: string): void {
    this.host.linkClosed(link);
    const e = this.host.table.get(link.remote);
    if (!e || e.link !== link || this.host.stopped) return;
    const via = link.relayedVia;
    const heal = via !== undefined && this.host.wants(e, this.host.clock.now());
    this.dropEntry(e, reason);
    // The tunnel went under us (its middle node left or lost the other end): rebuild it through
    // another common neighbour at once; meanwhile traffic is routed over the overlay.
    if (heal) this.host.rebuildRelay(link.remote, { far: e.far, shortcut: e.shortcut }, `rebuilt after ${reason}`, via);
  }

  /** Forgets a link: at once for a dead one ('timeout'), by BYE handshake otherwise, so nothing in flight is lost. */
  dropEntry(e: TableEntry, reason: string, how: 'close' | 'bye' | 'none' = 'close'): void {
    const wasNear = this.host.table.isNear(e.address);
    this.host.table.remove(e.address);
    if (how === 'close') e.link.close(reason);
    else if (how === 'bye') this.host.sayBye(e.link, reason);
    this.host.count(reason === 'timeout' ? 'links_closed_timeout' : reason === 'released' ? 'links_closed_released' : reason === 'duplicate' ? 'links_closed_duplicate' : 'links_closed_other');
    this.host.removed(e.address, wasNear);
    if (this.host.log) this.host.log(`drop ${addressHex(e.address).slice(0, 8)} ${reason} ${how} near=${wasNear}`);
    this.host.topologyChanged();
  }
}
