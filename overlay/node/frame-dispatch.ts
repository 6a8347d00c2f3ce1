// Where each arriving frame goes. Control frames on the table's link to a peer are decoded and handed
// to the part that owns their type; frames on a link no longer in the table (being released) are
// only routed on or answered with BYE(ack). Data packets go to the relay (tunnelled, op 0xA5) or to
// the data handler (the IP forwarder). Nothing is delivered after stop().
import type { Clock } from '../../lib/clock.js';
import type { Link } from '../link/link.js';
import type { RingAddress } from '../ring/ring.js';
import type { ConnectionTable, TableEntry } from '../routing-table/connection-table.js';
import { RELAY_OP_DATA } from '../relay/relay-header.js';
import {
  decodeLinkFrame,
  FRAME_BYE,
  FRAME_LOCAL,
  FRAME_NEIGHBORS,
  FRAME_PING,
  FRAME_PONG,
  FRAME_ROUTED,
  FRAME_WANT,
  type ByeFrame,
  type LinkFrame,
  type NeighborsFrame,
  type PongFrame,
  type RoutedFrame,
  type WantFrame,
} from '../wire/link-frame.js';
import type { Counters } from './counters.js';

export interface FrameDispatchHost {
  readonly clock: Clock;
  readonly table: Pick<ConnectionTable, 'get'>;
  readonly stopped: boolean;
  readonly counters: Pick<Counters, 'decodeOrCount' | 'count'>;
  sendFrame(e: TableEntry, f: LinkFrame): boolean;
  /** A routed frame to forward or deliver; `wire` is its bytes as received. */
  route(f: RoutedFrame, wire: Uint8Array): void;
  onPong(e: TableEntry, f: PongFrame): void;
  onNeighbors(e: TableEntry, f: NeighborsFrame): void;
  onWant(e: TableEntry, f: WantFrame): void;
  onBye(e: TableEntry, f: ByeFrame): void;
  onStrayBye(link: Link, f: ByeFrame): void;
  /** A LOCAL frame of `kind`; false if no part takes that kind. */
  onLocal(from: RingAddress, kind: number, payload: Uint8Array): boolean;
  /** A tunnelled packet (relay op 0xA5) on the data channel; false if we carry no relay edges. */
  onRelayData(from: RingAddress, packet: Uint8Array): boolean;
  onData(from: RingAddress, packet: Uint8Array): void;
  onClosed(link: Link, reason: string): void;
}

export class FrameDispatch {
  /** The last NEIGHBORS frame each link brought, as bytes and decoded (the same list comes back every stabilize period). */
  private readonly lastNeighbours = new WeakMap<TableEntry, { bytes: Uint8Array; frame: NeighborsFrame }>();

  constructor(private readonly host: FrameDispatchHost) {}

  /** Installs the handlers on `link`. */
  attach(link: Link): void {
    const host = this.host;
    const remote = link.remote;
    let entry: TableEntry | undefined; // the table entry this link last served: no lookup per frame
    link.setHandlers({
      control: (frame) => {
        if (host.stopped) return;
        if (entry === undefined || entry.removed || entry.link !== link) entry = host.table.get(remote);
        const e = entry;
        if (e && e.link === link) this.onFrame(e, frame);
        else this.onStrayFrame(link, frame);
      },
      data: (packet) => {
        if (host.stopped) return;
        // The data channel carries IP frames (magic 0x56) and tunnelled packets (relay op 0xA5).
        if (!(packet[0] === RELAY_OP_DATA && host.onRelayData(remote, packet))) host.onData(remote, packet);
      },
      close: (reason) => host.onClosed(link, reason),
    });
  }

  private onFrame(e: TableEntry, bytes: Uint8Array): void {
    const host = this.host;
    e.lastHeard = host.clock.now();
    // A near neighbour sends the same list every stabilize period: decode it once.
    const cached = bytes[0] === FRAME_NEIGHBORS ? this.lastNeighbours.get(e) : undefined;
    const f = cached !== undefined && cached.bytes.length === bytes.length && Buffer.compare(cached.bytes, bytes) === 0 ? cached.frame : host.counters.decodeOrCount(decodeLinkFrame, bytes, 'frames_malformed');
    if (!f) return;
    switch (f.type) {
      case FRAME_ROUTED:
        return host.route(f, bytes);
      case FRAME_PING:
        host.sendFrame(e, { type: FRAME_PONG, nonce: f.nonce });
        return;
      case FRAME_PONG:
        return host.onPong(e, f);
      case FRAME_NEIGHBORS:
        if (f !== cached?.frame) this.lastNeighbours.set(e, { bytes, frame: f });
        return host.onNeighbors(e, f);
      case FRAME_WANT:
        return host.onWant(e, f);
      case FRAME_BYE:
        return host.onBye(e, f);
      case FRAME_LOCAL:
        if (!host.onLocal(e.address, f.kind, f.payload)) host.counters.count('frames_unknown_local');
        return;
    }
  }

  /** Frames on a link that is no longer our table's link to that peer (being closed by BYE). */
  private onStrayFrame(link: Link, bytes: Uint8Array): void {
    const f = this.host.counters.decodeOrCount(decodeLinkFrame, bytes, 'frames_malformed');
    if (!f) return;
    if (f.type === FRAME_ROUTED) this.host.route(f, bytes);
    else if (f.type === FRAME_BYE) this.host.onStrayBye(link, f);
  }
}
