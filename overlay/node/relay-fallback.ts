// Relay edges as a fallback for direct links. A near or shortcut peer that cannot be dialed directly
// (ICE fails, or is still trying after relayHeadStartMs) is linked through a common neighbour instead
// (overlay/relay/), rebuilt through another one if that neighbour goes, and replaced by a direct link
// when a later direct dial (every relayDirectRetryMs, by the lower address) succeeds. This part also
// carries other nodes' tunnels as the middle, over our direct links only: tunnels never nest.
import type { Clock, Random } from '../../lib/clock.js';
import type { Identity } from '../identity.js';
import type { Connector, Link } from '../link/link.js';
import type { RingAddress } from '../ring/ring.js';
import type { ConnectionTable, TableEntry } from '../routing-table/connection-table.js';
import { addressHex } from '../ring/ring.js';
import type { RelayCandidate } from '../relay/relay-messages.js';
import { RelayService, type RelayMembership, type RelayOptions } from '../relay/relay-service.js';
import type { OverlayCounter } from './counters.js';
import { FRAME_LOCAL, type LinkFrame, type RoutedFrame } from '../wire/link-frame.js';
import { APP_RELAY, APP_SIGNAL, LOCAL_RELAY } from './app-tags.js';
import type { LinkOrigin, LinkPurposes } from './link-admission.js';
import type { Liveness } from './liveness.js';
import type { OverlayOptions } from './options.js';
import type { RouteOptions } from './router.js';

export interface RelayFallbackHost {
  readonly self: RingAddress;
  readonly identity: Identity;
  readonly clock: Clock;
  readonly random: Random;
  readonly options: Pick<OverlayOptions, 'relayDirectRetryMs' | 'relayFirstDirectRetryMs'>;
  readonly table: Pick<ConnectionTable, 'get' | 'has' | 'all'>;
  readonly stopped: boolean;
  readonly connector: Pick<Connector, 'dial'>;
  readonly liveness: Pick<Liveness, 'isDead' | 'probeIfQuiet'>;
  count(name: OverlayCounter): void;
  readonly log: ((line: string) => void) | undefined;
  /** Drops a peer that stopped answering (link-admission.ts). */
  dropDead(e: TableEntry): void;
  sendFrame(e: TableEntry, f: LinkFrame): boolean;
  sendRouted(dest: RingAddress, app: number, payload: Uint8Array, o: RouteOptions): boolean;
  adopt(link: Link, how: LinkOrigin, purposes?: LinkPurposes): boolean;
}

export class RelayFallback {
  /** Undefined without network membership: the node then neither builds nor carries relay edges. */
  private readonly service: RelayService | undefined;
  /** Relay edges being built (possibly alongside a direct dial to the same peer). */
  private readonly pending = new Set<RingAddress>();
  /** Relayed peers: when we last tried a direct dial to each, and which are being tried now. */
  private readonly directRetryAt = new Map<RingAddress, number>();
  private readonly directRetries = new Set<RingAddress>();

  constructor(private readonly host: RelayFallbackHost, membership: (RelayMembership & { options?: Partial<RelayOptions> }) | undefined) {
    if (!membership) return;
    this.service = new RelayService(
      {
        self: host.self,
        signer: host.identity,
        network: membership.network,
        networkKey: membership.networkKey,
        clock: host.clock,
        random: host.random,
        directNeighbours: () => this.directNeighbours(),
        canCarry: (peer) => this.directEntry(peer) !== undefined,
        sendControl: (peer, bytes) => {
          const e = this.directEntry(peer, true);
          return e ? host.sendFrame(e, { type: FRAME_LOCAL, kind: LOCAL_RELAY, payload: bytes }) : false;
        },
        sendData: (peer, bytes) => this.directEntry(peer, true)?.link.sendData(bytes) ?? false,
        sendRouted: (dest, payload, via) => host.sendRouted(dest, APP_RELAY, payload, { exact: true, askReplyVia: true, notSrc: true, ...(via !== undefined ? { via } : {}) }),
        incoming: (link) => void host.adopt(link, 'incoming'),
        count: (name) => host.count(name),
        log: (line) => host.log?.(line),
      },
      membership.options,
    );
  }

  /** Whether the node builds relay edges at all. */
  get enabled(): boolean {
    return this.service !== undefined;
  }

  /** Links to `remote` through a common neighbour (the direct dial failed, or the old tunnel went). */
  connect(remote: RingAddress, purposes: LinkPurposes, why: string, via?: RingAddress, avoid?: ReadonlySet<RingAddress>): void {
    const { service, host } = this;
    if (!service || host.stopped || host.table.has(remote) || this.pending.has(remote)) return;
    this.pending.add(remote);
    host.count('relay_dials_started');
    service.dial(remote, why, { ...(via !== undefined ? { via } : {}), ...(avoid ? { avoid } : {}) }).then(
      (link) => {
        this.pending.delete(remote);
        // A direct dial still running adds its purposes when it lands (it then replaces the relay).
        host.adopt(link, 'dialed', { ...purposes });
      },
      (err: Error) => {
        this.pending.delete(remote);
        if (host.stopped) return;
        host.count('relay_dial_failures');
        host.log?.(`relay to ${addressHex(remote).slice(0, 8)} failed: ${err.message}`);
      },
    );
  }

  /** A relay edge we still want closed under us: rebuild it through another middle than `avoid`. */
  rebuild(remote: RingAddress, purposes: LinkPurposes, why: string, avoid: RingAddress): void {
    this.host.count('relay_heals');
    this.connect(remote, purposes, why, undefined, new Set([avoid]));
  }

  /** A relayed peer gets a direct dial now and then (by the lower address); success replaces the tunnel. */
  maybeRetryDirect(e: TableEntry, now: number): void {
    const host = this.host;
    const every = host.options.relayDirectRetryMs;
    if (every <= 0 || host.self > e.address || this.directRetries.has(e.address)) return;
    const last = this.directRetryAt.get(e.address);
    if (last === undefined ? now - e.addedAt < host.options.relayFirstDirectRetryMs : now - last < every) return;
    this.directRetryAt.set(e.address, now);
    this.directRetries.add(e.address);
    host.count('relay_direct_retries');
    const remote = e.address;
    host.connector.dial(remote, (payload) => void host.sendRouted(remote, APP_SIGNAL, payload, { exact: true, askReplyVia: true, notSrc: true })).then(
      (link) => {
        this.directRetries.delete(remote);
        const cur = host.table.get(remote);
        host.adopt(link, 'dialed', cur ? { far: cur.far, shortcut: cur.shortcut } : undefined);
      },
      () => {
        this.directRetries.delete(remote);
        host.count('relay_direct_retry_failures');
      },
    );
  }

  /** A neighbour left the table: tunnels through it end, and its direct-retry clock restarts. */
  neighbourGone(address: RingAddress): void {
    this.service?.neighbourGone(address);
    this.directRetryAt.delete(address);
  }

  /** A tunnelled packet on a neighbour's data channel; false if we carry no relay edges. */
  onData(from: RingAddress, packet: Uint8Array): boolean {
    if (!this.service) return false;
    this.service.onData(from, packet);
    return true;
  }

  /** A LOCAL_RELAY frame from a neighbour; false if we carry no relay edges. */
  onControl(from: RingAddress, payload: Uint8Array): boolean {
    if (!this.service) return false;
    this.service.onControl(from, payload);
    return true;
  }

  /** An APP_RELAY routed message (a neighbour query or its answer). */
  onRouted(f: RoutedFrame): void {
    if (this.service && f.src !== this.host.self) this.service.onRouted(f.src, f.payload, f.replyVia);
  }

  /** Tunnels end with CLOSE frames while our links still stand. */
  stop(): void {
    this.service?.stop();
  }

  /** The table entry of `peer` if its link is live and direct (not itself a relay edge). */
  private directEntry(peer: RingAddress, sending = false): TableEntry | undefined {
    const host = this.host;
    const e = host.table.get(peer);
    if (!e || e.link.closed || e.link.relayedVia !== undefined) return undefined;
    if (sending) {
      const now = host.clock.now();
      if (host.liveness.isDead(e, now)) {
        host.count('link_failures_detected');
        host.dropDead(e);
        return undefined;
      }
      host.liveness.probeIfQuiet(e, now);
    }
    return e;
  }

  private directNeighbours(): RelayCandidate[] {
    const out: RelayCandidate[] = [];
    for (const e of this.host.table.all()) {
      if (e.link.closed || e.link.relayedVia !== undefined) continue;
      const rttMs = e.rttMs ?? e.link.info().rttMs;
      out.push(rttMs !== undefined ? { address: e.address, rttMs } : { address: e.address });
    }
    return out;
  }
}
