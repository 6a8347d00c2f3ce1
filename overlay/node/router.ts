// Greedy routing over the connection table: each hop hands a routed frame to the linked peer closest
// to its target (routing-table/next-hop.ts) until a node finds itself closest, or the exact
// destination, and delivers it to the handler of its app tag. A hop whose peer has stopped answering
// is dropped on the way and the frame routed around it.
import type { Clock } from '../../lib/clock.js';
import type { RoutedMessage } from '../api.js';
import type { RingAddress } from '../ring/ring.js';
import type { ConnectionTable, TableEntry } from '../routing-table/connection-table.js';
import { nextHop } from '../routing-table/next-hop.js';
import { addressHex } from '../ring/ring.js';
import { FRAME_ROUTED, withRoutedHops, type LinkFrame, type RoutedFrame } from '../wire/link-frame.js';
import { FIRST_USER_APP } from './app-tags.js';
import type { NodeCounter } from './counters.js';
import type { Liveness } from './liveness.js';
import type { OverlayOptions } from './options.js';

export interface RouterHost {
  readonly self: RingAddress;
  readonly clock: Clock;
  readonly options: Pick<OverlayOptions, 'hopLimit'>;
  readonly table: ConnectionTable;
  readonly stopped: boolean;
  readonly liveness: Pick<Liveness, 'isDead' | 'probeIfQuiet'>;
  count(name: NodeCounter): void;
  readonly log: ((line: string) => void) | undefined;
  /** Drops a peer that stopped answering (link-admission.ts). */
  dropDead(e: TableEntry): void;
  sendFrame(e: TableEntry, f: LinkFrame): boolean;
  sendEncoded(e: TableEntry, bytes: Uint8Array, app?: number): boolean;
}

export interface RouteOptions {
  /** Exact delivery to `dest`, or to the node closest to it. */
  exact: boolean;
  /** Route to this node first (it links to `dest`). */
  via?: RingAddress | undefined;
  /** Tell the receiver to answer through our first hop (we may not be on the ring yet). */
  askReplyVia?: boolean;
  /** We are never a hop, nor the nearest-mode destination. */
  notSrc?: boolean;
}

export class Router {
  /** Handlers of the overlay's own app tags (below FIRST_USER_APP) and of the users'. */
  private readonly ownApps = new Map<number, (f: RoutedFrame) => void>();
  private readonly userApps = new Map<number, (msg: RoutedMessage) => void>();

  constructor(private readonly host: RouterHost) {}

  /** The handler of one of the overlay's own app tags. */
  onOwnApp(app: number, handler: (f: RoutedFrame) => void): void {
    this.ownApps.set(app, handler);
  }

  /** The handler of a user app tag (checked by the caller); one per tag. */
  onMessage(app: number, handler: (msg: RoutedMessage) => void): void {
    this.userApps.set(app, handler);
  }

  /** Originates a routed message; false if there is no route at all. */
  sendRouted(dest: RingAddress, app: number, payload: Uint8Array, o: RouteOptions): boolean {
    if (this.host.stopped) return false;
    const frame: RoutedFrame = { type: FRAME_ROUTED, exact: o.exact, hops: 0, hopLimit: this.host.options.hopLimit, app, src: this.host.self, dest, payload };
    if (o.via !== undefined && o.via !== this.host.self) frame.via = o.via;
    if (o.notSrc) frame.notSrc = true;
    return this.route(frame, o.askReplyVia ?? false);
  }

  /**
   * One routing step for a message here (originated or received). `wire`: the frame's bytes as
   * received; a forwarded frame is sent on as those bytes with the hop count patched, not re-encoded
   * (most frames a node handles are in transit). After stop() nothing is routed.
   */
  route(f: RoutedFrame, askReplyVia = false, wire?: Uint8Array): boolean {
    const host = this.host;
    if (host.stopped) return false;
    if (f.via === host.self) {
      delete f.via;
      wire = undefined;
    }
    const target = f.via ?? f.dest;
    const exact = f.via !== undefined || f.exact;
    const d = nextHop(host.table, target, exact, f.notSrc ? f.src : undefined);
    if (d.kind === 'deliver') {
      this.deliver(f);
      return true;
    }
    if (d.kind === 'drop') {
      host.count(d.reason === 'no-route' ? 'route_drop_no-route' : 'route_drop_dead-end');
      if (host.log) host.log(`route drop ${d.reason} app=${f.app} src=${addressHex(f.src).slice(0, 8)} dest=${addressHex(f.dest).slice(0, 8)}`);
      return false;
    }
    if (f.hops >= f.hopLimit) {
      host.count('route_drop_hop_limit');
      return false;
    }
    const e = host.table.get(d.next)!;
    const now = host.clock.now();
    if (host.liveness.isDead(e, now)) {
      // The peer stopped answering our probe: drop it and route around it.
      host.count('link_failures_detected');
      host.dropDead(e);
      return this.route(f, askReplyVia, wire);
    }
    host.liveness.probeIfQuiet(e, now);
    if (f.app >= FIRST_USER_APP) e.lastUsed = now;
    if (f.hops > 0) host.count('routed_forwarded');
    // The frame is ours (decoded for this hop or built by us): update it in place.
    f.hops++;
    if (askReplyVia && d.next !== f.dest) f.replyVia = d.next;
    else if (wire !== undefined) return host.sendEncoded(e, withRoutedHops(wire, f.hops), f.app);
    return host.sendFrame(e, f);
  }

  private deliver(f: RoutedFrame): void {
    this.host.count('routed_delivered');
    if (f.app < FIRST_USER_APP) {
      const own = this.ownApps.get(f.app);
      if (own) own(f);
      else this.host.count('routed_unknown_app');
      return;
    }
    const h = this.userApps.get(f.app);
    if (!h) {
      this.host.count('routed_no_handler');
      return;
    }
    h({ from: f.src, payload: f.payload, hops: f.hops });
  }
}
