// The Connector for real nodes: opens WebRTC links (node-datachannel) whose peers passed the link
// handshake. Signalling payloads (signal-codec.ts) travel over whatever the caller provides: the
// overlay's routed messages, or the bootstrap WebSocket for the very first link.
//
// Ownership: the connector keeps every pending session (and so every PeerConnection and channel)
// in a map until it ends; a finished link is kept in `links` until it closes. Nothing WebRTC-side is
// reachable only from native callbacks, which would let the garbage collector close it.
import nodeDataChannel, { type PeerConnection, type RtcConfig } from 'node-datachannel';
import type { Clock } from '../../../lib/clock.js';
import type { Random } from '../../../lib/clock.js';
import type { Connector, Link } from '../link.js';
import type { RingAddress } from '../../ring/ring.js';
import type { HandshakeSigner } from '../../handshake/handshake.js';
import { RefuseReason } from '../../handshake/messages.js';
import { networkKey } from '../../handshake/transcript.js';
import { decodeSignal, encodeSignal, SignalCodecError, SignalType, SESSION_ID_BYTES } from './signal-codec.js';
import { PeerSession } from './session.js';
import { WebRtcLink } from './webrtc-link.js';
import { LinkDialError } from './errors.js';
import { validateIceUrl } from './ice-config.js';

export const DEFAULT_DIAL_TIMEOUT_MS = 20_000; // ICE with a TURN fallback plus DTLS and the handshake
export const DEFAULT_MAX_PENDING_INCOMING = 64;
/** STUN servers learned from members (bootstrap WELCOME, DHT) kept at most; the first one is used. */
export const MAX_LEARNED_STUN_SERVERS = 4;
/**
 * With a TURN server configured, the first (policy 'all') attempt gets this share of the dial
 * timeout; if ICE fails or times out, the rest goes to one TURN-only attempt.
 */
export const DIRECT_ATTEMPT_SHARE = 0.5; // concurrent half-open incoming sessions before REJECT 'busy'

export interface WebRtcConnectorOptions {
  identity: HandshakeSigner & { readonly address: RingAddress };
  network: string;
  /** The network secret (raw bytes); only a key derived from it is kept. */
  secret: Uint8Array;
  clock: Clock;
  random: Random;
  /** `stun:HOST:PORT`, `turn:USER:PASS@HOST:PORT` (validated). */
  iceServers?: string[];
  /** Gather host candidates on this address only (e.g. 127.0.0.1 keeps every path on loopback). */
  bindAddress?: string;
  portRange?: { begin: number; end: number };
  /** 'relay' forces TURN (useful behind symmetric NATs, see environment notes). */
  iceTransportPolicy?: 'all' | 'relay';
  dialTimeoutMs?: number;
  maxPendingIncoming?: number;
  /**
   * ICE candidates (local and remote) never to use: the node passes "on its virtual subnet", so a
   * link cannot be set up through the TUN it carries.
   */
  dropCandidate?: (candidate: string) => boolean;
  log?: (line: string) => void;
}

export const CONNECTOR_COUNTERS = [
  'dials_started',
  'dials_ok',
  'dials_failed',
  'dial_timeouts',
  'turn_fallbacks',
  'turn_fallbacks_ok',
  'incoming_ok',
  'incoming_failed',
  'incoming_rejected_busy',
  'refused_bad_secret',
  'refused_bad_signature',
  'refused_address_mismatch',
  'refused_protocol',
  'refused_by_peer',
  'signals_malformed',
  'signals_unmatched',
  'links_closed',
] as const;
export type ConnectorCounter = (typeof CONNECTOR_COUNTERS)[number];

let nextConnectorId = 0;

// Trace switch: OVERLAY_WEBRTC_LOG=Verbose|Debug|Info|Warning|Error sends libdatachannel's own log to
// stderr (one process-wide logger; initLogger needs a callback or it prints nothing useful).
const traceLevel = process.env.OVERLAY_WEBRTC_LOG;
if (traceLevel && ['Verbose', 'Debug', 'Info', 'Warning', 'Error', 'Fatal'].includes(traceLevel)) {
  nodeDataChannel.initLogger(traceLevel as 'Info', (level, message) => process.stderr.write(`[libdatachannel ${level}] ${message}\n`));
}

export class WebRtcConnector implements Connector {
  readonly counters: Record<ConnectorCounter, number>;
  private readonly netKey: Uint8Array;
  private readonly rtcConfig: RtcConfig;
  private readonly configuredIceServers: string[];
  private readonly learnedStun: string[] = [];
  private readonly hasTurn: boolean;
  private readonly dials = new Map<string, { session: PeerSession; remote: RingAddress }>();
  private readonly incoming = new Map<string, PeerSession>();
  private readonly links = new Set<WebRtcLink>();
  private readonly incomingListeners: Array<(link: Link) => void> = [];
  private readonly log: (line: string) => void;
  private readonly tag = `c${nextConnectorId++}`;
  private linkCounter = 0;
  private closedFlag = false;

  constructor(private readonly o: WebRtcConnectorOptions) {
    this.counters = Object.fromEntries(CONNECTOR_COUNTERS.map((c) => [c, 0])) as Record<ConnectorCounter, number>;
    this.netKey = networkKey(o.secret, o.network);
    this.log = o.log ?? (() => {});
    const iceServers = (o.iceServers ?? []).map(validateIceUrl);
    this.configuredIceServers = iceServers;
    this.rtcConfig = { iceServers, iceTransportPolicy: o.iceTransportPolicy ?? 'all' };
    this.hasTurn = iceServers.some((u) => u.startsWith('turn'));
    if (o.bindAddress) this.rtcConfig.bindAddress = o.bindAddress;
    if (o.portRange) {
      this.rtcConfig.portRangeBegin = o.portRange.begin;
      this.rtcConfig.portRangeEnd = o.portRange.end;
    }
  }

  /**
   * A member's built-in STUN server (`stun:HOST:PORT`), learned at run time. Sessions created from
   * now on use the preferred one, unless STUN servers were configured (the user's choice stands).
   * Only one is handed to ICE: libdatachannel's libjuice backend uses a single STUN server, picked at
   * random among those given, so an unreachable one would cost the server-reflexive candidate.
   * `preferred` (the bootstrap endpoint we just reached) goes first; others queue behind, bounded.
   */
  learnStunServer(url: string, preferred = false): boolean {
    validateIceUrl(url);
    if (!url.startsWith('stun:')) return false;
    const at = this.learnedStun.indexOf(url);
    if (at >= 0 && !(preferred && at > 0)) return false;
    if (at >= 0) this.learnedStun.splice(at, 1);
    if (preferred) this.learnedStun.unshift(url);
    else this.learnedStun.push(url);
    this.learnedStun.length = Math.min(this.learnedStun.length, MAX_LEARNED_STUN_SERVERS);
    this.applyLearnedStun();
    return true;
  }

  /** Drops a learned STUN server (it stopped answering); the next one learned, if any, takes its place. */
  forgetStunServer(url: string): boolean {
    const at = this.learnedStun.indexOf(url);
    if (at < 0) return false;
    this.learnedStun.splice(at, 1);
    this.applyLearnedStun();
    return true;
  }

  /** The learned STUN server new sessions use; undefined if none, or if configured ones take precedence. */
  learnedStunInUse(): string | undefined {
    return this.configuredIceServers.some((u) => u.startsWith('stun')) ? undefined : this.learnedStun[0];
  }

  private applyLearnedStun(): void {
    const inUse = this.learnedStunInUse();
    this.rtcConfig.iceServers = inUse ? [inUse, ...this.configuredIceServers] : this.configuredIceServers;
  }

  /** The ICE servers new sessions use (configured and learned). */
  iceServers(): string[] {
    return (this.rtcConfig.iceServers ?? []).map(String);
  }

  /** Links currently open (for status). */
  openLinks(): WebRtcLink[] {
    return [...this.links];
  }

  /**
   * One attempt with the configured policy; with a TURN server and policy 'all', an attempt whose ICE
   * failed (or timed out) is followed by one TURN-only attempt (`relayOnly`), as the harness's
   * dc-session does: behind symmetric NATs that is the attempt that connects.
   */
  async dial(remote: RingAddress, signal: (payload: Uint8Array) => void): Promise<Link> {
    if (this.closedFlag) throw new LinkDialError('closed', 'connector closed');
    this.counters.dials_started++;
    const total = this.o.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS;
    const fallback = this.hasTurn && this.rtcConfig.iceTransportPolicy !== 'relay';
    const first = fallback ? Math.round(total * DIRECT_ATTEMPT_SHARE) : total;
    let link: WebRtcLink;
    try {
      link = await this.attempt(remote, signal, { timeoutMs: first });
    } catch (err) {
      const e = err as LinkDialError;
      if (!fallback || this.closedFlag || (e.code !== 'timeout' && e.code !== 'failed')) return this.dialFailed(remote, e);
      this.counters.turn_fallbacks++;
      this.log(`dial ${short(remote)}: direct ICE failed (${e.message}); retrying through TURN only`);
      try {
        link = await this.attempt(remote, signal, { timeoutMs: total - first, relayOnly: true, note: `TURN fallback: the direct attempt failed (${e.message})` });
        this.counters.turn_fallbacks_ok++;
      } catch (err2) {
        return this.dialFailed(remote, err2 as LinkDialError);
      }
    }
    this.counters.dials_ok++;
    this.adopt(link);
    return link;
  }

  private dialFailed(remote: RingAddress, error: LinkDialError): never {
    this.counters.dials_failed++;
    this.countFailure(error);
    this.log(`dial ${short(remote)} failed: ${error.message}`);
    throw error;
  }

  private attempt(remote: RingAddress, signal: (payload: Uint8Array) => void, a: { timeoutMs: number; relayOnly?: boolean; note?: string }): Promise<WebRtcLink> {
    if (this.closedFlag) return Promise.reject(new LinkDialError('closed', 'connector closed'));
    const session = this.o.random.bytes(SESSION_ID_BYTES);
    const key = hex(session);
    return new Promise<WebRtcLink>((resolve, reject) => {
      const s = new PeerSession({
        ...this.sessionDeps('offerer', session, remote, a),
        send: signal,
        done: (r) => {
          this.dials.delete(key);
          if ('link' in r) resolve(r.link);
          else reject(r.error);
        },
      });
      if (!s.isFinished) this.dials.set(key, { session: s, remote });
    });
  }

  onSignal(from: RingAddress, payload: Uint8Array, reply: (payload: Uint8Array) => void): void {
    let msg;
    try {
      msg = decodeSignal(payload);
    } catch (err) {
      if (!(err instanceof SignalCodecError)) throw err;
      this.counters.signals_malformed++;
      this.log(`malformed signal from ${short(from)}: ${err.message}`);
      return;
    }
    const sessionHex = hex(msg.session);
    const dial = this.dials.get(sessionHex);
    if (dial) {
      if (dial.remote !== from) {
        this.counters.signals_unmatched++;
        return;
      }
      dial.session.handleSignal(msg);
      return;
    }
    const key = `${from.toString(16)}/${sessionHex}`;
    const existing = this.incoming.get(key);
    if (existing) {
      existing.handleSignal(msg);
      return;
    }
    if (msg.type !== SignalType.Offer) {
      // Late candidates of a session that already finished are normal; anything else is noise.
      this.counters.signals_unmatched++;
      return;
    }
    if (this.closedFlag) return;
    if (this.incoming.size >= (this.o.maxPendingIncoming ?? DEFAULT_MAX_PENDING_INCOMING)) {
      this.counters.incoming_rejected_busy++;
      reply(encodeSignal({ type: SignalType.Reject, session: msg.session, reason: 'busy' }));
      return;
    }
    const s = new PeerSession({
      ...this.sessionDeps('answerer', msg.session, from),
      send: reply,
      done: (r) => {
        this.incoming.delete(key);
        if ('link' in r) {
          this.counters.incoming_ok++;
          this.adopt(r.link);
          for (const l of this.incomingListeners) l(r.link);
        } else {
          this.counters.incoming_failed++;
          this.countFailure(r.error);
          this.log(`incoming session from ${short(from)} failed: ${r.error.message}`);
        }
      },
    });
    if (s.isFinished) return;
    this.incoming.set(key, s);
    s.handleSignal(msg);
  }

  onIncoming(cb: (link: Link) => void): void {
    this.incomingListeners.push(cb);
  }

  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    for (const { session } of [...this.dials.values()]) session.abort('connector closed');
    for (const s of [...this.incoming.values()]) s.abort('connector closed');
  }

  /** Closes the connector and every link it made (node shutdown). */
  closeAll(reason = 'node stopping'): void {
    this.close();
    for (const l of [...this.links]) l.close(reason);
  }

  private sessionDeps(role: 'offerer' | 'answerer', session: Uint8Array, expectedRemote: RingAddress, a: { timeoutMs?: number; relayOnly?: boolean; note?: string } = {}) {
    const config: RtcConfig = a.relayOnly ? { ...this.rtcConfig, iceTransportPolicy: 'relay' } : this.rtcConfig;
    return {
      role,
      session,
      expectedRemote,
      createPeerConnection: (name: string): PeerConnection => new nodeDataChannel.PeerConnection(name, config),
      ...(a.relayOnly ? { relayOnly: true } : {}),
      ...(a.note ? { note: a.note } : {}),
      network: this.o.network,
      networkKey: this.netKey,
      signer: this.o.identity,
      nonce: this.o.random.bytes(32),
      clock: this.o.clock,
      timeoutMs: a.timeoutMs ?? this.o.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS,
      linkId: `${this.tag}-${role === 'offerer' ? 'out' : 'in'}-${this.linkCounter++}`,
      log: this.log,
      ...(this.o.dropCandidate ? { dropCandidate: this.o.dropCandidate } : {}),
      onLinkGone: (link: WebRtcLink) => {
        if (this.links.delete(link)) this.counters.links_closed++;
      },
    };
  }

  private adopt(link: WebRtcLink): void {
    this.links.add(link);
    this.log(`link ${link.id} up with ${short(link.remote)} (${link.info().detail})`);
  }

  private countFailure(err: LinkDialError): void {
    if (err.code === 'timeout') this.counters.dial_timeouts++;
    if (err.code !== 'refused' || !err.refuse) return;
    if (err.refuse.byPeer) {
      this.counters.refused_by_peer++;
      return;
    }
    switch (err.refuse.reason) {
      case RefuseReason.BadSecret:
        this.counters.refused_bad_secret++;
        break;
      case RefuseReason.BadSignature:
        this.counters.refused_bad_signature++;
        break;
      case RefuseReason.AddressMismatch:
        this.counters.refused_address_mismatch++;
        break;
      default:
        this.counters.refused_protocol++;
    }
  }
}

/** Releases libdatachannel's global threads so the process can exit (call once, at process end). */
export function shutdownWebRtc(): void {
  nodeDataChannel.cleanup();
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function short(a: RingAddress): string {
  return a.toString(16).padStart(40, '0').slice(0, 12);
}
