// A two-node stand-in for the overlay, for running the real virtual network (TUN + lease + forwarder)
// between two namespaces before the overlay exists: "routed" messages go through the harness relay
// (playing an overlay neighbour that relays), the direct link is one WebRTC data channel (unordered,
// no retransmits) opened at start, on a shortcut request, or never, by mode.
import type { DataChannel, PeerConnection } from 'node-datachannel';
import type { Dht, RoutedMessage } from '../../overlay/api.js';
import type { Link, LinkHandlers, LinkInfo } from '../../overlay/link/link.js';
import type { RingAddress } from '../../overlay/ring/ring.js';
import type { VnetOverlay } from '../../src/vnet/index.js';
import type { RelayClient } from './relay-client.js';
import type { Subnet } from '../../dhcp/vip/subnet.js';
import { openDcSession, type DcSession, type SignalChannel } from './dc-session.js';

export type DirectMode = 'direct' | 'routed' | 'shortcut';

const DIAL_ATTEMPTS = 3;
const DIAL_RETRY_MS = 1_000;

/** Data channel bytes queued before sendData reports a local drop. */
export const DC_HIGH_WATER_BYTES = 1 << 20;

class DcLink implements Link {
  readonly id = 'dc';
  readonly remoteKey = new Uint8Array(32);
  closed = false;
  constructor(
    readonly remote: RingAddress,
    private readonly s: DcSession,
  ) {
    s.dc.onClosed(() => (this.closed = true));
  }
  setHandlers(_h: LinkHandlers): void {}
  sendControl(): boolean {
    return false;
  }
  sendData(packet: Uint8Array): boolean {
    if (this.closed) return false;
    if (this.s.dc.bufferedAmount() > DC_HIGH_WATER_BYTES) return false;
    try {
      // libdatachannel returns false when it queued the message instead of sending it at once:
      // still delivered, so not a drop. Drops are decided by the high-water mark above.
      this.s.dc.sendMessageBinary(packet);
      return true;
    } catch {
      return false;
    }
  }
  close(): void {
    this.closed = true;
    this.s.dc.close();
    this.s.pc.close();
  }
  info(): LinkInfo {
    return { transport: 'webrtc', path: this.s.path, detail: this.s.detail };
  }
}

export interface PairOverlayOptions {
  relay: RelayClient;
  peer: string;
  peerRing: RingAddress;
  role: 'offer' | 'answer';
  mode: DirectMode;
  iceServers: string[];
  policy?: 'all' | 'relay';
  maxMessageSize?: number;
  /** The virtual subnet: its candidates are filtered out so the link never runs through the TUN. */
  excludeSubnet: Subnet;
  /** Receives packets from the direct link (wire to VirtualNetwork.receiveLinkData). */
  onLinkData: (packet: Uint8Array, from: RingAddress) => void;
  onPath?: (info: LinkInfo & { connectMs: number }) => void;
}

export class PairOverlay implements VnetOverlay {
  readonly dht: Dht;
  private readonly handlers = new Map<number, (m: RoutedMessage) => void>();
  private link: DcLink | undefined;
  private dialing = false;
  private attempt = 0;
  private closed = false;
  private signalHandler: ((d: unknown) => void) | undefined;
  readonly keep: Array<PeerConnection | DataChannel> = [];
  shortcutRequests = 0;

  constructor(
    readonly address: RingAddress,
    private readonly o: PairOverlayOptions,
  ) {
    this.dht = o.relay.dht;
    o.relay.onMessage((from, data) => {
      if (from !== o.peer) return;
      const m = data as { k: string; app?: number; p?: string; s?: unknown };
      if (m.k === 'app' && m.app !== undefined && m.p !== undefined) this.handlers.get(m.app)?.({ from: o.peerRing, payload: new Uint8Array(Buffer.from(m.p, 'base64')), hops: 1 });
      else if (m.k === 'sig') this.onSignal(m.s);
    });
    if (o.role === 'offer' && o.mode === 'direct') void this.dial();
  }

  /** The answerer starts a fresh session for every offer (the offerer may retry after a failure). */
  private onSignal(s: unknown): void {
    const isOffer = (s as { type?: string })?.type === 'offer';
    if (this.o.role === 'answer' && isOffer && this.o.mode !== 'routed' && !this.link) {
      this.attempt++;
      void this.session(this.attempt);
    }
    this.signalHandler?.(s);
  }

  send(dest: RingAddress, app: number, payload: Uint8Array): boolean {
    if (dest !== this.o.peerRing) return false;
    this.o.relay.send(this.o.peer, { k: 'app', app, p: Buffer.from(payload).toString('base64') });
    return true;
  }

  onMessage(app: number, handler: (m: RoutedMessage) => void): void {
    this.handlers.set(app, handler);
  }

  directLink(dest: RingAddress): Link | undefined {
    return dest === this.o.peerRing && this.link && !this.link.closed ? this.link : undefined;
  }

  requestShortcut(dest: RingAddress): void {
    this.shortcutRequests++;
    if (dest === this.o.peerRing && this.o.mode === 'shortcut' && this.o.role === 'offer') void this.dial();
  }

  close(): void {
    this.closed = true;
    this.link?.close();
  }

  /** Offerer: up to DIAL_ATTEMPTS sessions, a second apart, until one opens. */
  private async dial(): Promise<void> {
    if (this.dialing || this.link) return;
    this.dialing = true;
    try {
      for (let i = 0; i < DIAL_ATTEMPTS && !this.link && !this.closed; i++) {
        this.attempt++;
        if (await this.session(this.attempt)) break;
        await new Promise((r) => setTimeout(r, DIAL_RETRY_MS));
      }
    } finally {
      this.dialing = false;
    }
  }

  private async session(attempt: number): Promise<boolean> {
    const signal: SignalChannel = { send: (s) => this.o.relay.send(this.o.peer, { k: 'sig', s }), onSignal: (h) => (this.signalHandler = h) };
    try {
      const s = await openDcSession({ signal, role: this.o.role, iceServers: this.o.iceServers, policy: this.o.policy ?? 'all', timeoutMs: 15_000, unreliable: true, maxMessageSize: this.o.maxMessageSize, excludeSubnet: this.o.excludeSubnet });
      if (attempt !== this.attempt || this.link || this.closed) {
        s.pc.close(); // superseded by a newer attempt
        return false;
      }
      this.keep.push(s.pc, s.dc);
      s.dc.onMessage((msg) => {
        // node-datachannel hands binary messages over as Buffers (Uint8Arrays): no copy needed.
        if (Buffer.isBuffer(msg)) this.o.onLinkData(msg, this.o.peerRing);
        else if (msg instanceof ArrayBuffer) this.o.onLinkData(new Uint8Array(msg), this.o.peerRing);
      });
      this.link = new DcLink(this.o.peerRing, s);
      this.o.onPath?.({ ...this.link.info(), connectMs: s.connectMs });
      return true;
    } catch (err) {
      process.stderr.write(`direct link attempt ${attempt} failed: ${(err as Error).message}\n`);
      return false;
    }
  }
}
