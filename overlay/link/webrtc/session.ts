// One PeerConnection on its way to becoming a link: signalling (offer/answer/trickled candidates),
// then the link handshake on the control channel, then a WebRtcLink. Either side of a dial runs one.
//
//   offerer:  create channels -> OFFER + candidates out; ANSWER + candidates in
//   answerer: OFFER in -> ANSWER + candidates out; channels arrive via onDataChannel
//   both:     control channel open -> handshake (LinkHandshake); accepted + data channel open -> link
//
// Every session ends exactly once: with a link, or with a LinkDialError after which its
// PeerConnection is closed. The overall wait is bounded by the connector's timer.
import type { DataChannel, PeerConnection, RtcConfig } from 'node-datachannel';
import type { Clock, Timer } from '../../../lib/clock.js';
import type { RingAddress } from '../../ring/ring.js';
import { LinkHandshake, type HandshakeSigner } from '../../handshake/handshake.js';
import { RefuseReason } from '../../handshake/messages.js';
import { fingerprintFromSdp, type HandshakeRole } from '../../handshake/transcript.js';
import { encodeSignal, SignalType, type SignalMessage } from './signal-codec.js';
import { WebRtcLink } from './webrtc-link.js';
import { LinkDialError } from './errors.js';

export const CONTROL_LABEL = 'control';
export const DATA_LABEL = 'data';
/** Candidates that arrive before the remote description are held, up to this many. */
export const EARLY_CANDIDATE_LIMIT = 64;
/** Time a REFUSE frame gets to leave before the PeerConnection is torn down. */
export const REFUSE_FLUSH_MS = 300;

export interface SessionDeps {
  role: HandshakeRole;
  session: Uint8Array;
  /** The ring address the peer must prove (dialled address, or the signalling source). */
  expectedRemote: RingAddress;
  createPeerConnection: (name: string) => PeerConnection;
  network: string;
  networkKey: Uint8Array;
  signer: HandshakeSigner;
  nonce: Uint8Array;
  clock: Clock;
  timeoutMs: number;
  linkId: string;
  send: (payload: Uint8Array) => void;
  log: (line: string) => void;
  onLinkGone: (link: WebRtcLink) => void;
  /** ICE candidates to ignore, local and remote (a node's own virtual subnet: no link through its TUN). */
  dropCandidate?: (candidate: string) => boolean;
  /**
   * TURN-only attempt: besides gathering relay candidates only (policy 'relay'), ignore the peer's
   * non-relay candidates, so each side's allocation needs one permission (libjuice fails several
   * CreatePermissions on one allocation behind symmetric NATs; see the environment notes).
   */
  relayOnly?: boolean;
  /** Said in the link's status detail (e.g. why this is a TURN fallback). */
  note?: string;
  done: (result: { link: WebRtcLink } | { error: LinkDialError }) => void;
}

export class PeerSession {
  private readonly pc: PeerConnection;
  private control?: DataChannel;
  private data?: DataChannel;
  private dataOpen = false;
  private remoteDescriptionSet = false;
  private earlyCandidates: Array<{ candidate: string; mid: string }> = [];
  private handshake?: LinkHandshake;
  private accepted?: { remote: RingAddress; remoteKey: Uint8Array };
  private finished = false;
  /** The transport closed; the failure is on its way (transportEnded). */
  private ending = false;
  private readonly timer: Timer;

  constructor(private readonly d: SessionDeps) {
    this.pc = d.createPeerConnection(`${d.role}-${d.linkId}`);
    this.timer = d.clock.setTimeout(() => this.fail(new LinkDialError('timeout', `no link within ${d.timeoutMs} ms`)), d.timeoutMs);
    this.pc.onLocalDescription((sdp, type) => {
      const t = type === 'offer' ? SignalType.Offer : type === 'answer' ? SignalType.Answer : undefined;
      if (t !== undefined) this.signal({ type: t, session: d.session, sdp: this.filterSdp(sdp) });
    });
    this.pc.onLocalCandidate((candidate, mid) => {
      if (this.dropped(candidate)) return;
      this.signal({ type: SignalType.Candidate, session: d.session, candidate, mid });
    });
    this.pc.onStateChange((state) => {
      d.log(`session ${d.linkId}: peer connection ${state}`);
      if (state === 'failed' || state === 'closed') this.transportEnded(new LinkDialError('failed', `peer connection ${state} before the link was up`));
    });
    if (d.role === 'offerer') {
      // Creating the first channel triggers the offer (libdatachannel auto-negotiation).
      this.adoptChannel(this.pc.createDataChannel(CONTROL_LABEL));
      this.adoptChannel(this.pc.createDataChannel(DATA_LABEL, { unordered: true, maxRetransmits: 0 }));
    } else {
      this.pc.onDataChannel((dc) => this.adoptChannel(dc));
    }
  }

  get isFinished(): boolean {
    return this.finished;
  }

  /** A signalling message for this session from the peer. */
  handleSignal(msg: SignalMessage): void {
    if (this.finished) return;
    try {
      switch (msg.type) {
        case SignalType.Offer:
          if (this.d.role !== 'answerer' || this.remoteDescriptionSet) return;
          this.pc.setRemoteDescription(this.filterSdp(msg.sdp), 'offer');
          this.remoteDescriptionSet = true;
          this.flushCandidates();
          return;
        case SignalType.Answer:
          if (this.d.role !== 'offerer' || this.remoteDescriptionSet) return;
          this.pc.setRemoteDescription(this.filterSdp(msg.sdp), 'answer');
          this.remoteDescriptionSet = true;
          this.flushCandidates();
          return;
        case SignalType.Candidate:
          if (!this.remoteDescriptionSet) {
            if (this.earlyCandidates.length < EARLY_CANDIDATE_LIMIT) this.earlyCandidates.push(msg);
            return;
          }
          this.addCandidate(msg.candidate, msg.mid);
          return;
        case SignalType.Reject:
          this.fail(new LinkDialError('rejected', `peer rejected the session: ${msg.reason}`));
          return;
      }
    } catch (err) {
      // libdatachannel throws on an unparsable SDP or candidate.
      this.fail(new LinkDialError('failed', `bad ${SignalType[msg.type]} from peer: ${(err as Error).message}`));
    }
  }

  /** Ends the session without a link (connector closing). */
  abort(reason: string): void {
    this.fail(new LinkDialError('closed', reason));
  }

  private dropped(candidate: string): boolean {
    if (this.d.relayOnly && !/ typ relay\b/.test(candidate)) return true;
    if (!this.d.dropCandidate?.(candidate)) return false;
    this.d.log(`session ${this.d.linkId}: dropped candidate on an excluded subnet '${candidate.slice(0, 80)}'`);
    return true;
  }

  /** An SDP without the candidate lines `dropCandidate` refuses. */
  private filterSdp(sdp: string): string {
    if (!this.d.dropCandidate && !this.d.relayOnly) return sdp;
    return sdp
      .split(/\r?\n/)
      .filter((line) => !(line.startsWith('a=candidate:') && this.dropped(line)))
      .join('\r\n');
  }

  private flushCandidates(): void {
    const early = this.earlyCandidates;
    this.earlyCandidates = [];
    for (const c of early) this.addCandidate(c.candidate, c.mid);
  }

  /**
   * One unusable candidate (unparsable, or racing a transport change) must not sink the session: it
   * is logged and skipped; ICE fails or succeeds on the others, bounded by the session timer.
   */
  private addCandidate(candidate: string, mid: string): void {
    if (this.dropped(candidate)) return;
    try {
      this.pc.addRemoteCandidate(candidate, mid);
    } catch (err) {
      this.d.log(`session ${this.d.linkId}: skipped remote candidate '${candidate.slice(0, 80)}': ${(err as Error).message}`);
    }
  }

  private signal(msg: SignalMessage): void {
    if (this.finished && !this.accepted) return;
    try {
      this.d.send(encodeSignal(msg));
    } catch (err) {
      this.d.log(`session ${this.d.linkId}: cannot send ${SignalType[msg.type]}: ${(err as Error).message}`);
    }
  }

  private adoptChannel(dc: DataChannel): void {
    const label = dc.getLabel();
    if (label === CONTROL_LABEL && !this.control) {
      this.control = dc;
      dc.onMessage((m) => this.onControlFrame(m));
      dc.onClosed(() => this.transportEnded(new LinkDialError('failed', 'control channel closed during the handshake')));
      if (dc.isOpen()) this.startHandshake();
      else dc.onOpen(() => this.startHandshake());
    } else if (label === DATA_LABEL && !this.data) {
      this.data = dc;
      dc.onClosed(() => this.transportEnded(new LinkDialError('failed', 'data channel closed during the handshake')));
      if (dc.isOpen()) this.onDataOpen();
      else dc.onOpen(() => this.onDataOpen());
    } else {
      this.d.log(`session ${this.d.linkId}: unexpected data channel '${label}', closing it`);
      try {
        dc.close();
      } catch {
        /* already closed */
      }
    }
  }

  private onDataOpen(): void {
    this.dataOpen = true;
    this.maybeComplete();
  }

  private startHandshake(): void {
    if (this.finished || this.handshake) return;
    this.d.log(`session ${this.d.linkId}: control channel open, handshake`);
    const local = this.pc.localDescription();
    const remote = this.pc.remoteDescription();
    if (!local || !remote) return this.fail(new LinkDialError('failed', 'channel open without both descriptions'));
    let localFingerprint: Uint8Array;
    let remoteFingerprint: Uint8Array;
    try {
      localFingerprint = fingerprintFromSdp(local.sdp);
      remoteFingerprint = fingerprintFromSdp(remote.sdp);
    } catch (err) {
      return this.fail(new LinkDialError('failed', (err as Error).message));
    }
    this.handshake = new LinkHandshake({
      role: this.d.role,
      network: this.d.network,
      networkKey: this.d.networkKey,
      signer: this.d.signer,
      localFingerprint,
      remoteFingerprint,
      nonce: this.d.nonce,
      expectedRemote: this.d.expectedRemote,
    });
    this.sendControl(this.handshake.start());
  }

  private onControlFrame(m: string | Buffer | ArrayBuffer): void {
    if (this.finished) return;
    // A frame can overtake the channel's onOpen callback: receiving one proves the channel is open.
    if (!this.handshake) this.startHandshake();
    if (!this.handshake) return;
    const frame = typeof m === 'string' ? new Uint8Array(0) : m instanceof ArrayBuffer ? new Uint8Array(m) : new Uint8Array(m);
    const step = this.handshake.receive(frame);
    for (const f of step.send) this.sendControl(f);
    const o = step.outcome;
    if (!o) return;
    if (o.accepted) {
      this.accepted = { remote: o.remote, remoteKey: o.remoteKey };
      this.maybeComplete();
    } else {
      const err = new LinkDialError('refused', `link handshake failed: ${o.detail}`, { reason: o.reason, byPeer: o.byPeer });
      this.fail(err, o.byPeer ? 0 : REFUSE_FLUSH_MS);
    }
  }

  /**
   * A send fails when the channel closed under us; its close callback (and maybe control frames the
   * peer sent before closing) are still queued, so this ends the session as the close would
   * (transportEnded): an outcome from those frames, or from the frame being handled now, comes first.
   */
  private sendControl(frame: Uint8Array): void {
    try {
      this.control?.sendMessageBinary(frame);
    } catch (err) {
      this.transportEnded(new LinkDialError('failed', `control channel send failed: ${(err as Error).message}`));
    }
  }

  private maybeComplete(): void {
    // A transport that ended makes no link, whatever the frames queued before the close said.
    if (this.finished || this.ending || !this.accepted || !this.dataOpen || !this.control || !this.data) return;
    this.finished = true;
    this.timer.cancel();
    const link = new WebRtcLink({
      id: this.d.linkId,
      remote: this.accepted.remote,
      remoteKey: this.accepted.remoteKey,
      pc: this.pc,
      control: this.control,
      data: this.data,
      onGone: this.d.onLinkGone,
      log: this.d.log,
      ...(this.d.note ? { note: this.d.note } : {}),
    });
    this.d.done({ link });
  }

  /**
   * The PeerConnection or a channel closed before an outcome. node-datachannel queues each kind of
   * callback apart and runs the queues in the order they were created, the PeerConnection's first:
   * a close can run before control frames the peer sent ahead of it, and closing our channels then
   * discards those frames. A wrong-secret joiner that refuses us and exits at once loses its AUTH
   * and REFUSE that way, and we would count a plain failure instead of its refusal (issue 11). So
   * the failure waits one timer turn, after every callback already queued.
   */
  private transportEnded(error: LinkDialError): void {
    if (this.finished || this.ending) return;
    this.ending = true;
    this.d.clock.setTimeout(() => this.fail(error), 0);
  }

  /** Ends without a link; closes everything (after `flushMs`, so a REFUSE frame can leave). */
  private fail(error: LinkDialError, flushMs = 0): void {
    if (this.finished) return;
    this.finished = true;
    this.timer.cancel();
    const teardown = () => {
      for (const c of [this.control, this.data]) {
        try {
          c?.close();
        } catch {
          /* already closed */
        }
      }
      try {
        this.pc.close();
      } catch {
        /* already closed */
      }
    };
    if (flushMs > 0) this.d.clock.setTimeout(teardown, flushMs);
    else teardown();
    this.d.done({ error });
  }
}

export { RefuseReason };
