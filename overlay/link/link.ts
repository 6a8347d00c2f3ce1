// The seam between the overlay and its transports. Two implementations: WebRTC (node-datachannel,
// overlay/link/webrtc/) for real nodes, and a simulated link (simulations/) driven by a virtual clock.
// A Link is only handed to the overlay after its handshake: `remote` and `remoteKey` are authenticated
// and the peer has proved membership of the network.
import type { RingAddress } from '../ring/ring.js';

export interface LinkHandlers {
  /** A frame from the reliable, ordered control channel. */
  control(frame: Uint8Array): void;
  /** A packet from the unordered, no-retransmit data channel (IP packets). */
  data(packet: Uint8Array): void;
  /** The link closed (by either side or by failure); called exactly once, nothing is delivered after. */
  close(reason: string): void;
}

export interface LinkInfo {
  /** 'webrtc', 'sim', 'relay', ... */
  transport: string;
  /** How the path runs: straight between the two nodes, or relayed (TURN, or an overlay neighbour). */
  path: 'direct' | 'relayed';
  /** Human-readable reason for the path choice (e.g. 'host<->srflx', 'symmetric NAT: TURN relay'). */
  detail: string;
  /** Last measured round trip, if known. */
  rttMs?: number;
}

export interface Link {
  /** Unique per process, for logs and tables. */
  readonly id: string;
  /** The authenticated ring address of the peer. */
  readonly remote: RingAddress;
  /** The peer's raw 32-byte Ed25519 public key. */
  readonly remoteKey: Uint8Array;
  /**
   * The overlay neighbour this link is tunnelled through, if it is a relay edge (overlay/relay/);
   * undefined for a link of its own (WebRTC, also over TURN, or simulated). A relay edge never
   * carries another relay edge, and a direct link to the same peer replaces it.
   */
  readonly relayedVia?: RingAddress;
  /** True once closed; sends after that return false and deliver nothing. */
  readonly closed: boolean;
  /** Installs the receive handlers; frames arriving before this are queued, not lost. */
  setHandlers(handlers: LinkHandlers): void;
  /** Sends on the reliable ordered channel; false if the link is closed. */
  sendControl(frame: Uint8Array): boolean;
  /** Sends on the unreliable unordered channel; false if closed or the packet was dropped locally. */
  sendData(packet: Uint8Array): boolean;
  /** Closes both channels; the peer sees its link close too. Idempotent. */
  close(reason?: string): void;
  info(): LinkInfo;
}

/** Opens links. Signalling payloads are opaque to the overlay, which routes them to the peer. */
export interface Connector {
  /**
   * Starts a link to `remote`. Offers/answers/candidates leave through `signal` (the overlay routes
   * them to `remote`); the answers come back through `onSignal`. Rejects on timeout or refusal.
   */
  dial(remote: RingAddress, signal: (payload: Uint8Array) => void): Promise<Link>;
  /** A signalling payload for us from `from`; `reply` sends a payload back to `from` over the overlay. */
  onSignal(from: RingAddress, payload: Uint8Array, reply: (payload: Uint8Array) => void): void;
  /** Links the peer initiated (after their handshake) are delivered here. */
  onIncoming(cb: (link: Link) => void): void;
  /** Closes pending dials and stops accepting; established links are closed by their owner. */
  close(): void;
}
