// The link handshake as a pure state machine: frames in, frames out, one outcome. No I/O and no
// timers here (the transport bounds the wait); randomness (the nonce) is passed in.
//
//   both sides:  send HELLO(key, nonce)
//   on HELLO:    check the key (dialled address, not our own), build the transcript, send AUTH
//   on AUTH:     verify MAC (network secret) then signature (identity + DTLS fingerprints), send CONFIRM
//   on CONFIRM:  (the peer verified us too) -> accepted
//   any failure: send REFUSE(reason) -> refused; a REFUSE received -> refused by peer
//
// The channel is ordered, so each side has sent its AUTH before it can receive the peer's, and the
// peer's CONFIRM always follows its AUTH. CONFIRM makes the outcome mutual: neither side hands a link
// to its overlay unless both verified each other.
import { addressOfKey, verifySignature } from '../identity.js';
import type { RingAddress } from '../ring/ring.js';
import {
  decodeHandshake,
  encodeHandshake,
  HandshakeCodecError,
  HandshakeType,
  RefuseReason,
  HANDSHAKE_NONCE_BYTES,
} from './messages.js';
import { macEquals, roleBoundTranscript, transcriptHash, transcriptMac, type HandshakeRole } from './transcript.js';

/** What the handshake needs of the node's identity. */
export interface HandshakeSigner {
  readonly publicKey: Uint8Array;
  sign(data: Uint8Array): Uint8Array;
}

export interface HandshakeParams {
  role: HandshakeRole;
  network: string;
  /** networkKey(secret, network): the MAC key; the secret itself never leaves the node. */
  networkKey: Uint8Array;
  signer: HandshakeSigner;
  /** Fingerprint from our own SDP (fingerprintFromSdp of the local description). */
  localFingerprint: Uint8Array;
  /** Fingerprint from the peer's SDP (the DTLS layer checked the peer's certificate against it). */
  remoteFingerprint: Uint8Array;
  nonce: Uint8Array;
  /** When dialling a known ring address: the peer's key must hash to it. */
  expectedRemote?: RingAddress;
}

export type HandshakeOutcome =
  | { accepted: true; remoteKey: Uint8Array; remote: RingAddress }
  | { accepted: false; reason: RefuseReason; byPeer: boolean; detail: string };

export interface HandshakeStep {
  /** Frames to send on the control channel, in order. */
  send: Uint8Array[];
  /** Set once the handshake has finished, either way. */
  outcome?: HandshakeOutcome;
}

export class LinkHandshake {
  private remoteKey?: Uint8Array;
  private remoteNonce?: Uint8Array;
  private transcript?: Uint8Array;
  private finished?: HandshakeOutcome;
  private verified = false;

  constructor(private readonly p: HandshakeParams) {
    if (p.nonce.length !== HANDSHAKE_NONCE_BYTES) throw new RangeError(`nonce must be ${HANDSHAKE_NONCE_BYTES} bytes`);
  }

  get outcome(): HandshakeOutcome | undefined {
    return this.finished;
  }

  /** The transcript hash both sides signed (set once the peer's HELLO arrived); a key-derivation salt. */
  get transcriptHash(): Uint8Array | undefined {
    return this.transcript;
  }

  /** The first frame to send (HELLO). */
  start(): Uint8Array {
    return encodeHandshake({ type: HandshakeType.Hello, publicKey: this.p.signer.publicKey, nonce: this.p.nonce });
  }

  /** Feeds one frame from the peer. After an outcome, further frames are not the handshake's. */
  receive(frame: Uint8Array): HandshakeStep {
    if (this.finished) return { send: [] };
    let msg;
    try {
      msg = decodeHandshake(frame);
    } catch (err) {
      if (err instanceof HandshakeCodecError) return this.refuse(RefuseReason.ProtocolError, `malformed handshake frame: ${err.message}`);
      throw err;
    }
    switch (msg.type) {
      case HandshakeType.Refuse:
        return this.finish({ accepted: false, reason: msg.reason, byPeer: true, detail: `refused by peer: ${RefuseReason[msg.reason]}${msg.text ? ` (${msg.text})` : ''}` });
      case HandshakeType.Hello:
        return this.onHello(msg.publicKey, msg.nonce);
      case HandshakeType.Auth:
        return this.onAuth(msg.signature, msg.mac);
      case HandshakeType.Confirm:
        if (!this.verified || !this.remoteKey) return this.refuse(RefuseReason.ProtocolError, 'CONFIRM before AUTH');
        return this.finish({ accepted: true, remoteKey: this.remoteKey, remote: addressOfKey(this.remoteKey) });
    }
  }

  private onHello(key: Uint8Array, nonce: Uint8Array): HandshakeStep {
    if (this.remoteKey) return this.refuse(RefuseReason.ProtocolError, 'second HELLO');
    if (Buffer.compare(key, this.p.signer.publicKey) === 0) return this.refuse(RefuseReason.ProtocolError, 'peer presents our own key');
    const remote = addressOfKey(key);
    if (this.p.expectedRemote !== undefined && remote !== this.p.expectedRemote) {
      return this.refuse(RefuseReason.AddressMismatch, `dialled ${hex(this.p.expectedRemote)}, key belongs to ${hex(remote)}`);
    }
    this.remoteKey = key;
    this.remoteNonce = nonce;
    const offerer = this.p.role === 'offerer';
    const local = { fp: this.p.localFingerprint, key: this.p.signer.publicKey, nonce: this.p.nonce };
    const peer = { fp: this.p.remoteFingerprint, key, nonce };
    const [o, a] = offerer ? [local, peer] : [peer, local];
    this.transcript = transcriptHash({
      network: this.p.network,
      offererFingerprint: o.fp,
      answererFingerprint: a.fp,
      offererKey: o.key,
      answererKey: a.key,
      offererNonce: o.nonce,
      answererNonce: a.nonce,
    });
    const mine = roleBoundTranscript(this.p.role, this.transcript);
    const auth = encodeHandshake({
      type: HandshakeType.Auth,
      signature: this.p.signer.sign(mine),
      mac: transcriptMac(this.p.networkKey, mine),
    });
    return { send: [auth] };
  }

  private onAuth(signature: Uint8Array, mac: Uint8Array): HandshakeStep {
    if (!this.remoteKey || !this.transcript) return this.refuse(RefuseReason.ProtocolError, 'AUTH before HELLO');
    if (this.verified) return this.refuse(RefuseReason.ProtocolError, 'second AUTH');
    const theirs = roleBoundTranscript(this.p.role === 'offerer' ? 'answerer' : 'offerer', this.transcript);
    // The MAC first: a stranger without the secret learns nothing more about why it was refused.
    if (!macEquals(transcriptMac(this.p.networkKey, theirs), mac)) {
      return this.refuse(RefuseReason.BadSecret, 'network secret mismatch');
    }
    if (!verifySignature(this.remoteKey, theirs, signature)) {
      return this.refuse(RefuseReason.BadSignature, 'signature over the transcript does not verify');
    }
    this.verified = true;
    return { send: [encodeHandshake({ type: HandshakeType.Confirm })] };
  }

  private refuse(reason: RefuseReason, detail: string): HandshakeStep {
    const frame = encodeHandshake({ type: HandshakeType.Refuse, reason, text: '' });
    return { send: [frame], outcome: this.setOutcome({ accepted: false, reason, byPeer: false, detail }) };
  }

  private finish(outcome: HandshakeOutcome): HandshakeStep {
    return { send: [], outcome: this.setOutcome(outcome) };
  }

  private setOutcome(o: HandshakeOutcome): HandshakeOutcome {
    this.finished = o;
    return o;
  }
}

function hex(a: RingAddress): string {
  return a.toString(16).padStart(40, '0');
}
