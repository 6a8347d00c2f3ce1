// One end of a tunnel through an overlay neighbour, as a Link: control frames ride the middle node's
// reliable channel (ordered end to end, since both hops are ordered and the middle forwards in order),
// data packets its unordered data channel. Created only after the tunnel handshake proved the peer's
// key and network membership (relay-service.ts). Every frame is sealed end to end (tunnel-crypto.ts):
// the middle node can drop frames, but not read, alter, replay or forge them, and it cannot make a
// tunnel on either end's behalf: it holds neither private key.
import type { Link, LinkHandlers, LinkInfo } from '../link/link.js';
import type { RingAddress } from '../ring/ring.js';
import { encodeRelay, RELAY_OP_CONTROL, RELAY_OP_DATA } from './relay-header.js';
import type { TunnelCipher } from './tunnel-crypto.js';

/** How a tunnel end reaches the middle node (the overlay's current link to it). */
export interface TunnelCarrier {
  /** Relay bytes on the middle link's control channel; false if that link is gone. */
  control(bytes: Uint8Array): boolean;
  /** Relay bytes on the middle link's data channel; false if gone or dropped locally. */
  data(bytes: Uint8Array): boolean;
}

export interface RelayLinkParams {
  id: string;
  remote: RingAddress;
  remoteKey: Uint8Array;
  /** The middle node. */
  via: RingAddress;
  tunnel: number;
  carrier: TunnelCarrier;
  cipher: TunnelCipher;
  /** A frame that failed authentication (forged, altered or replayed on the way) was dropped. */
  onRejected: () => void;
  detail: string;
  /** Told once when the link closes (either side), so the owner forgets the tunnel. */
  onClosed: (link: RelayLink, reason: string, byUs: boolean) => void;
}

type Queued = { control: Uint8Array } | { data: Uint8Array } | { close: string };

export class RelayLink implements Link {
  readonly id: string;
  readonly remote: RingAddress;
  readonly remoteKey: Uint8Array;
  readonly relayedVia: RingAddress;
  readonly tunnel: number;
  private handlers: LinkHandlers | undefined;
  private queue: Queued[] = [];
  private closedFlag = false;
  /** Queued frames before handlers are installed beyond which further data packets are dropped. */
  static readonly MAX_QUEUED = 256;

  constructor(private readonly p: RelayLinkParams) {
    this.id = p.id;
    this.remote = p.remote;
    this.remoteKey = p.remoteKey;
    this.relayedVia = p.via;
    this.tunnel = p.tunnel;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  setHandlers(handlers: LinkHandlers): void {
    this.handlers = handlers;
    const q = this.queue;
    this.queue = [];
    for (const item of q) this.dispatch(item);
  }

  sendControl(frame: Uint8Array): boolean {
    if (this.closedFlag) return false;
    return this.p.carrier.control(encodeRelay({ op: RELAY_OP_CONTROL, tunnel: this.tunnel, peer: this.remote }, this.p.cipher.seal('control', frame)));
  }

  sendData(packet: Uint8Array): boolean {
    if (this.closedFlag) return false;
    return this.p.carrier.data(encodeRelay({ op: RELAY_OP_DATA, tunnel: this.tunnel, peer: this.remote }, this.p.cipher.seal('data', packet)));
  }

  close(reason = 'closed'): void {
    this.finish(reason, true);
  }

  info(): LinkInfo {
    return { transport: 'relay', path: 'relayed', detail: this.p.detail };
  }

  // ---- from the relay service --------------------------------------------------------------

  /** A sealed control frame from the middle. */
  deliverControl(sealed: Uint8Array): void {
    if (this.closedFlag) return;
    const frame = this.p.cipher.open('control', sealed);
    if (frame) this.dispatch({ control: frame });
    else this.p.onRejected();
  }

  /** A sealed data packet from the middle. */
  deliverData(sealed: Uint8Array): void {
    if (this.closedFlag) return;
    const packet = this.p.cipher.open('data', sealed);
    if (packet) this.dispatch({ data: packet });
    else this.p.onRejected();
  }

  /** The tunnel went away under us (peer closed, middle lost a link, middle gone). */
  remoteClosed(reason: string): void {
    this.finish(reason, false);
  }

  private finish(reason: string, byUs: boolean): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.p.onClosed(this, reason, byUs);
    this.dispatch({ close: reason });
  }

  private dispatch(item: Queued): void {
    const h = this.handlers;
    if (!h) {
      // Data packets may be lost anyway (unreliable channel); control frames and the close never are.
      if ('data' in item && this.queue.length >= RelayLink.MAX_QUEUED) return;
      this.queue.push(item);
      return;
    }
    if ('close' in item) h.close(item.close);
    else if ('control' in item) h.control(item.control);
    else h.data(item.data);
  }
}
