// Relay edges through an overlay neighbour (Brunet's tunnel edges): when no direct link to a peer can
// be made (ICE fails, e.g. behind symmetric NATs, and there is no TURN server), the node builds a Link
// whose frames go through a node that has direct links to both ends.
//
//   1. A asks B, over routed messages (APP_RELAY), for B's direct neighbours and their RTTs;
//   2. A intersects them with its own direct neighbours and tries the common ones, lowest RTT sum
//      first: OPEN(tunnel, B) to M; M checks its links and load and sends INVITE(tunnel, A) to B;
//   3. B answers ACCEPT; OPEN/INVITE and ACCEPT carry each end's ephemeral X25519 key. A and B run the
//      link handshake (overlay/handshake, the same one WebRTC links run) inside the tunnel: both
//      identity keys and network membership are proved, bound to the middle node's address, the
//      tunnel id and both X25519 keys (in place of the DTLS fingerprints), so M, holding neither
//      identity key, cannot be either end; the frames after it are sealed with keys only A and B hold;
//   4. each end gets a RelayLink (transport 'relay', path 'relayed'), which the overlay adopts like
//      any other link. M forwards without decoding payloads and drops the tunnel when a link goes.
//
// All waits are bounded with the injected clock; ids and nonces come from the injected random.
import type { Clock, Random, Timer } from '../../lib/clock.js';
import type { RingAddress } from '../ring/ring.js';
import { LinkHandshake, type HandshakeSigner } from '../handshake/handshake.js';
import { addressHex } from '../ring/ring.js';
import {
  closeReasonName,
  decodeRelay,
  encodeClose,
  encodeRelay,
  RELAY_OP_ACCEPT,
  RELAY_OP_CLOSE,
  RELAY_OP_CONTROL,
  RELAY_OP_DATA,
  RELAY_OP_INVITE,
  RELAY_OP_OPEN,
  RelayCloseReason,
  RelayCodecError,
  type RelayMessage,
} from './relay-header.js';
import { RelayLink } from './relay-link.js';
import { TunnelCipher, TunnelKeyPair } from './tunnel-crypto.js';
import { RelayMiddle, defaultRelayMiddleOptions, type RelayMiddleOptions } from './relay-middle.js';
import type { RelayCounter } from './relay-counters.js';
import { decodeRelayMessage, encodeRelayMessage, MAX_RELAY_CANDIDATES, RELAY_ANSWER, RELAY_QUERY, type RelayCandidate } from './relay-messages.js';
import { CodedError } from '../../lib/coded-error.js';

export interface RelayOptions extends RelayMiddleOptions {
  /** How long the neighbour query to the target may take. */
  queryTimeoutMs: number;
  /** How long one tunnel attempt (OPEN to accepted handshake) may take. */
  tunnelTimeoutMs: number;
  /** Common neighbours tried, best first, before giving up. */
  maxAttempts: number;
  /** Tunnels ending at this node, at most (further INVITEs are refused). */
  maxEndpointTunnels: number;
}

export const defaultRelayOptions: RelayOptions = {
  ...defaultRelayMiddleOptions,
  queryTimeoutMs: 5_000,
  tunnelTimeoutMs: 5_000,
  maxAttempts: 3,
  maxEndpointTunnels: 64,
};

/** What the service needs to know about a network to run the handshake. */
export interface RelayMembership {
  network: string;
  /** networkKey(secret, network) (overlay/handshake/transcript.ts). */
  networkKey: Uint8Array;
}

export interface RelayServiceDeps extends RelayMembership {
  self: RingAddress;
  signer: HandshakeSigner;
  clock: Clock;
  random: Random;
  /** Our live, non-relayed neighbours with their RTTs. */
  directNeighbours(): RelayCandidate[];
  /** True if we have a live, non-relayed link to `peer`. */
  canCarry(peer: RingAddress): boolean;
  /** Relay bytes to neighbour `peer` on its link's control channel (a LOCAL_RELAY frame). */
  sendControl(peer: RingAddress, bytes: Uint8Array): boolean;
  /** Relay bytes to neighbour `peer` on its link's data channel. */
  sendData(peer: RingAddress, bytes: Uint8Array): boolean;
  /** An APP_RELAY routed message to `dest` (exact), through `via` first if given. */
  sendRouted(dest: RingAddress, payload: Uint8Array, via?: RingAddress): boolean;
  /** A tunnel another node opened to us passed its handshake. */
  incoming(link: RelayLink): void;
  count(name: RelayCounter): void;
  log(line: string): void;
}

export class RelayDialError extends CodedError<'no-common-neighbour' | 'no-answer' | 'all-failed' | 'stopped'> {}

interface Endpoint {
  via: RingAddress;
  peer: RingAddress;
  id: number;
  role: 'offerer' | 'answerer';
  keys: TunnelKeyPair;
  /** The other end's X25519 key (from INVITE, or ACCEPT). */
  peerKey?: Uint8Array;
  handshake?: LinkHandshake;
  link?: RelayLink;
  timer?: Timer;
  /** Dialer side: told once with the link or the reason it failed. */
  settle?: (r: RelayLink | string) => void;
  detail: string;
}

const utf8 = new TextEncoder();

export class RelayService {
  readonly options: RelayOptions;
  private readonly middle: RelayMiddle;
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly queries = new Map<number, { done: (n: RelayCandidate[] | undefined) => void; timer: Timer }>();
  private nextQuery: number;
  private linkCounter = 0;
  private stopped = false;

  constructor(private readonly d: RelayServiceDeps, options: Partial<RelayOptions> = {}) {
    this.options = { ...defaultRelayOptions, ...options };
    this.middle = new RelayMiddle({ now: () => d.clock.now(), canCarry: d.canCarry, sendControl: d.sendControl, sendData: d.sendData, count: d.count }, this.options);
    this.nextQuery = 1 + d.random.int(0x7fffffff);
  }

  /** Tunnels this node carries as the middle. */
  get carrying(): number {
    return this.middle.size;
  }

  /**
   * Builds a relayed link to `remote` through a common neighbour. `why` ends up in the link's status
   * detail (e.g. the direct dial's failure); `via` routes the neighbour query (as for the dial);
   * `avoid`: middle nodes not to use (e.g. one that just failed).
   */
  async dial(remote: RingAddress, why: string, o: { via?: RingAddress; avoid?: ReadonlySet<RingAddress> } = {}): Promise<RelayLink> {
    if (this.stopped) throw new RelayDialError('stopped', 'relay service stopped');
    this.d.count('relay_dials');
    const theirs = await this.query(remote, o.via);
    if (!theirs) throw new RelayDialError('no-answer', `${short(remote)} did not answer the neighbour query`);
    const mine = new Map(this.d.directNeighbours().map((n) => [n.address, n.rttMs]));
    const unknownRtt = 10_000;
    const common = theirs
      .filter((n) => n.address !== this.d.self && n.address !== remote && mine.has(n.address) && !o.avoid?.has(n.address))
      .map((n) => ({ address: n.address, cost: (mine.get(n.address) ?? unknownRtt) + (n.rttMs ?? unknownRtt) }))
      .sort((x, y) => x.cost - y.cost || (x.address < y.address ? -1 : 1));
    if (common.length === 0) throw new RelayDialError('no-common-neighbour', `no common neighbour with ${short(remote)}`);
    const failures: string[] = [];
    for (const c of common.slice(0, this.options.maxAttempts)) {
      if (this.stopped) throw new RelayDialError('stopped', 'relay service stopped');
      const r = await this.openTunnel(c.address, remote, why);
      if (typeof r !== 'string') return r;
      failures.push(`via ${short(c.address)}: ${r}`);
    }
    throw new RelayDialError('all-failed', `no tunnel to ${short(remote)}: ${failures.join('; ')}`);
  }

  /** An APP_RELAY routed message for us. */
  onRouted(from: RingAddress, payload: Uint8Array, replyVia: RingAddress | undefined): void {
    let m;
    try {
      m = decodeRelayMessage(payload);
    } catch (err) {
      if (!(err instanceof RelayCodecError)) throw err;
      return this.d.count('relay_malformed');
    }
    if (m.type === RELAY_QUERY) {
      const neighbours = this.d.directNeighbours().slice(0, MAX_RELAY_CANDIDATES);
      this.d.sendRouted(from, encodeRelayMessage({ type: RELAY_ANSWER, id: m.id, neighbours }), replyVia);
      return;
    }
    const q = this.queries.get(m.id);
    if (!q) return;
    this.queries.delete(m.id);
    q.timer.cancel();
    q.done(m.neighbours);
  }

  /** Relay bytes from neighbour `from`'s control channel (LOCAL_RELAY). */
  onControl(from: RingAddress, bytes: Uint8Array): void {
    const m = this.decode(bytes);
    if (!m || this.stopped) return;
    const ep = this.endpoints.get(endpointKey(from, m.peer, m.tunnel));
    if (ep) {
      if (m.op === RELAY_OP_CONTROL) return this.onEndpointControl(ep, m.payload);
      if (m.op === RELAY_OP_ACCEPT) return this.onAccept(ep, m.payload);
      if (m.op === RELAY_OP_CLOSE) return this.endEndpoint(ep, `tunnel closed: ${closeReasonName(m.payload[0]!)}`, false);
      return this.d.count('relay_unexpected_op');
    }
    switch (m.op) {
      case RELAY_OP_INVITE:
        return this.onInvite(from, m);
      case RELAY_OP_OPEN:
        return this.middle.onOpen(from, m);
      case RELAY_OP_CONTROL:
      case RELAY_OP_ACCEPT:
        return this.middle.onControl(from, m, bytes);
      case RELAY_OP_CLOSE:
        return this.middle.onClose(from, m, bytes);
      default:
        this.d.count('relay_unexpected_op');
    }
  }

  /** Relay bytes from neighbour `from`'s data channel (first byte RELAY_OP_DATA). */
  onData(from: RingAddress, bytes: Uint8Array): void {
    const m = this.decode(bytes);
    if (!m || this.stopped) return;
    if (m.op !== RELAY_OP_DATA) return this.d.count('relay_unexpected_op');
    const ep = this.endpoints.get(endpointKey(from, m.peer, m.tunnel));
    if (ep) {
      if (ep.link) ep.link.deliverData(m.payload);
      return;
    }
    this.middle.onData(from, m, bytes);
  }

  /** Our link to `peer` is gone: tunnels through it end (as middle and as end). */
  neighbourGone(peer: RingAddress): void {
    this.middle.linkGone(peer);
    for (const ep of [...this.endpoints.values()]) if (ep.via === peer) this.endEndpoint(ep, `relay node ${short(peer)} lost`, false);
  }

  stop(): void {
    if (this.stopped) return;
    this.middle.stop();
    for (const ep of [...this.endpoints.values()]) this.endEndpoint(ep, 'leaving', true);
    for (const [, q] of this.queries) {
      q.timer.cancel();
      q.done(undefined);
    }
    this.queries.clear();
    this.stopped = true;
  }

  // ---- ends of tunnels ---------------------------------------------------------------------

  private query(remote: RingAddress, via: RingAddress | undefined): Promise<RelayCandidate[] | undefined> {
    return new Promise((resolve) => {
      this.nextQuery = this.nextQuery >= 0xfffffffe ? 1 : this.nextQuery + 1;
      const id = this.nextQuery;
      const timer = this.d.clock.setTimeout(() => {
        this.queries.delete(id);
        this.d.count('relay_query_timeouts');
        resolve(undefined);
      }, this.options.queryTimeoutMs);
      this.queries.set(id, { done: resolve, timer });
      if (!this.d.sendRouted(remote, encodeRelayMessage({ type: RELAY_QUERY, id }), via)) {
        timer.cancel();
        this.queries.delete(id);
        resolve(undefined);
      }
    });
  }

  /** One attempt through `via`: resolves with the link, or with why it failed. */
  private openTunnel(via: RingAddress, remote: RingAddress, why: string): Promise<RelayLink | string> {
    return new Promise((resolve) => {
      let id = this.d.random.int(0x100000000);
      while (this.endpoints.has(endpointKey(via, remote, id))) id = this.d.random.int(0x100000000);
      const keys = new TunnelKeyPair(this.d.random.bytes(32));
      const ep: Endpoint = { via, peer: remote, id, role: 'offerer', keys, detail: `relayed via ${short(via)}: ${why}`, settle: resolve };
      this.endpoints.set(endpointKey(via, remote, id), ep);
      this.d.count('relay_tunnels_opening');
      this.startTimer(ep);
      if (!this.d.sendControl(via, encodeRelay({ op: RELAY_OP_OPEN, tunnel: id, peer: remote }, keys.publicKey))) {
        return this.endEndpoint(ep, `no link to ${short(via)}`, false);
      }
      // The handshake starts when ACCEPT brings the target's key.
    });
  }

  private onInvite(from: RingAddress, m: RelayMessage): void {
    const refuse = () => {
      this.d.count('relay_invites_refused');
      this.d.sendControl(from, encodeClose(m.tunnel, m.peer, RelayCloseReason.Refused));
    };
    if (m.peer === this.d.self || !this.d.canCarry(from)) return refuse();
    let ends = 0;
    for (const e of this.endpoints.values()) if (e.link || e.handshake) ends++;
    if (ends >= this.options.maxEndpointTunnels) return refuse();
    const keys = new TunnelKeyPair(this.d.random.bytes(32));
    const ep: Endpoint = { via: from, peer: m.peer, id: m.tunnel, role: 'answerer', keys, peerKey: new Uint8Array(m.payload), detail: `relayed via ${short(from)}: tunnel opened by the peer` };
    this.endpoints.set(endpointKey(from, m.peer, m.tunnel), ep);
    this.startTimer(ep);
    this.d.sendControl(from, encodeRelay({ op: RELAY_OP_ACCEPT, tunnel: m.tunnel, peer: m.peer }, keys.publicKey));
    this.startHandshake(ep);
  }

  /** ACCEPT at the opener: the target's key is here, the handshake can start. */
  private onAccept(ep: Endpoint, peerKey: Uint8Array): void {
    if (ep.role !== 'offerer' || ep.peerKey || ep.link) return this.d.count('relay_unexpected_op');
    ep.peerKey = new Uint8Array(peerKey);
    this.startHandshake(ep);
  }

  private startTimer(ep: Endpoint): void {
    ep.timer = this.d.clock.setTimeout(() => {
      this.d.count('relay_handshake_timeouts');
      this.endEndpoint(ep, 'no tunnel handshake in time', true, RelayCloseReason.Timeout);
    }, this.options.tunnelTimeoutMs);
  }

  private startHandshake(ep: Endpoint): void {
    // The tunnel's identity and both ends' X25519 keys stand in for the DTLS fingerprints: the
    // signed transcript binds the middle node, the tunnel id and the keys the frames are sealed with.
    const binding = (key: Uint8Array) => utf8.encode(`relay-tunnel via ${addressHex(ep.via)} id ${ep.id} x25519 ${Buffer.from(key).toString('hex')}`);
    ep.handshake = new LinkHandshake({
      role: ep.role,
      network: this.d.network,
      networkKey: this.d.networkKey,
      signer: this.d.signer,
      localFingerprint: binding(ep.keys.publicKey),
      remoteFingerprint: binding(ep.peerKey!),
      nonce: this.d.random.bytes(32),
      expectedRemote: ep.peer,
    });
    this.sendTunnelControl(ep, ep.handshake.start());
  }

  private onEndpointControl(ep: Endpoint, frame: Uint8Array): void {
    if (ep.link) return ep.link.deliverControl(frame);
    const hs = ep.handshake;
    if (!hs) return;
    const step = hs.receive(frame);
    for (const f of step.send) this.sendTunnelControl(ep, f);
    const o = step.outcome;
    if (!o) return;
    if (!o.accepted) {
      this.d.count('relay_handshakes_refused');
      return this.endEndpoint(ep, `tunnel handshake failed: ${o.detail}`, !o.byPeer, RelayCloseReason.Refused);
    }
    const secret = ep.keys.agree(ep.peerKey!);
    const transcript = hs.transcriptHash;
    if (!secret || !transcript) {
      this.d.count('relay_handshakes_refused');
      return this.endEndpoint(ep, 'unusable tunnel key from the peer', true, RelayCloseReason.Refused);
    }
    ep.timer?.cancel();
    ep.handshake = undefined;
    const link = new RelayLink({
      id: `relay-${short(this.d.self).slice(0, 6)}-${this.linkCounter++}`,
      remote: o.remote,
      remoteKey: o.remoteKey,
      via: ep.via,
      tunnel: ep.id,
      carrier: { control: (b) => this.d.sendControl(ep.via, b), data: (b) => this.d.sendData(ep.via, b) },
      cipher: new TunnelCipher(secret, transcript, ep.role === 'offerer'),
      onRejected: () => this.d.count('relay_frames_rejected'),
      detail: ep.detail,
      onClosed: (_l, reason, byUs) => this.onLinkClosed(ep, reason, byUs),
    });
    ep.link = link;
    this.d.count('relay_links_up');
    this.d.log(`relay link ${link.id} to ${short(ep.peer)} via ${short(ep.via)} up`);
    const settle = ep.settle;
    ep.settle = undefined;
    if (settle) settle(link);
    else this.d.incoming(link);
  }

  private sendTunnelControl(ep: Endpoint, frame: Uint8Array): void {
    this.d.sendControl(ep.via, encodeRelay({ op: RELAY_OP_CONTROL, tunnel: ep.id, peer: ep.peer }, frame));
  }

  private onLinkClosed(ep: Endpoint, reason: string, byUs: boolean): void {
    this.endpoints.delete(endpointKey(ep.via, ep.peer, ep.id));
    if (byUs) this.d.sendControl(ep.via, encodeClose(ep.id, ep.peer, RelayCloseReason.Closed));
    this.d.count('relay_links_closed');
    this.d.log(`relay link to ${short(ep.peer)} via ${short(ep.via)} closed: ${reason}`);
  }

  /**
   * Ends a tunnel end in any state. `tellMiddle`: send CLOSE(reason) so the middle and the other end
   * forget it too (not when the middle told us, or is gone).
   */
  private endEndpoint(ep: Endpoint, why: string, tellMiddle: boolean, reason = RelayCloseReason.Closed): void {
    if (ep.link) {
      // RelayLink tells the middle itself when closed by us.
      if (tellMiddle) ep.link.close(why);
      else ep.link.remoteClosed(why);
      return;
    }
    this.endpoints.delete(endpointKey(ep.via, ep.peer, ep.id));
    ep.timer?.cancel();
    ep.handshake = undefined;
    if (tellMiddle) this.d.sendControl(ep.via, encodeClose(ep.id, ep.peer, reason));
    const settle = ep.settle;
    ep.settle = undefined;
    settle?.(why);
  }

  private decode(bytes: Uint8Array): RelayMessage | undefined {
    try {
      return decodeRelay(bytes);
    } catch (err) {
      if (!(err instanceof RelayCodecError)) throw err;
      this.d.count('relay_malformed');
      return undefined;
    }
  }
}

function endpointKey(via: RingAddress, peer: RingAddress, id: number): string {
  return `${via.toString(16)}/${peer.toString(16)}/${id}`;
}

function short(a: RingAddress): string {
  return addressHex(a).slice(0, 12);
}
