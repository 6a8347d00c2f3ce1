// Signalling payloads of the WebRTC connector. The overlay (or the bootstrap WebSocket) carries them
// opaquely between the two nodes. Every message names a session, chosen at random by the dialler, so
// concurrent dials between one pair (glare, retries) never mix. Pure codec, bounded lengths.
//
//   version u8 (1) | type u8 | session[8] | body
//   OFFER / ANSWER: sdp (u16 length + UTF-8)
//   CANDIDATE:      mid (u8 length + UTF-8) | candidate (u16 length + UTF-8)
//   REJECT:         reason (u8 length + UTF-8)
import { CodedError } from '../../../lib/coded-error.js';
import { encodeToBytes, messageCodec, type BinaryCodec } from '../../../lib/codec.js';

export const SIGNAL_VERSION = 1;
export const SESSION_ID_BYTES = 8;
export const SDP_MAX_BYTES = 16_384; // one data-only m= section with a few dozen candidates fits easily
export const CANDIDATE_MAX_BYTES = 1024;
export const MID_MAX_BYTES = 64;
export const REASON_MAX_BYTES = 200;

export enum SignalType {
  Offer = 1,
  Answer = 2,
  Candidate = 3,
  Reject = 4,
}

export type SignalMessage =
  | { type: SignalType.Offer | SignalType.Answer; session: Uint8Array; sdp: string }
  | { type: SignalType.Candidate; session: Uint8Array; mid: string; candidate: string }
  | { type: SignalType.Reject; session: Uint8Array; reason: string };

export class SignalCodecError extends CodedError<'malformed'> {}

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The byte strings of a message's fields, in order, checked (SignalCodecError on what cannot be sent). */
function signalParts(msg: SignalMessage): Uint8Array[] {
  if (msg.session.length !== SESSION_ID_BYTES) throw new SignalCodecError('malformed', `session id must be ${SESSION_ID_BYTES} bytes`);
  const parts: Uint8Array[] = [Uint8Array.of(SIGNAL_VERSION, msg.type), msg.session];
  const str = (text: string, lengthBytes: 1 | 2, max: number, what: string) => {
    const b = utf8.encode(text);
    if (b.length > max) throw new SignalCodecError('malformed', `${what} longer than ${max} bytes`);
    parts.push(lengthBytes === 1 ? Uint8Array.of(b.length) : Uint8Array.of(b.length >> 8, b.length & 0xff), b);
  };
  switch (msg.type) {
    case SignalType.Offer:
    case SignalType.Answer:
      str(msg.sdp, 2, SDP_MAX_BYTES, 'sdp');
      break;
    case SignalType.Candidate:
      str(msg.mid, 1, MID_MAX_BYTES, 'mid');
      str(msg.candidate, 2, CANDIDATE_MAX_BYTES, 'candidate');
      break;
    case SignalType.Reject:
      str(msg.reason, 1, REASON_MAX_BYTES, 'reason');
      break;
    default:
      throw new SignalCodecError('malformed', `unknown signal type ${(msg as { type: number }).type}`);
  }
  return parts;
}

class Reader {
  private o = 0;
  constructor(private readonly b: Uint8Array) {}
  private take(n: number, what: string): Uint8Array {
    if (this.o + n > this.b.length) throw new SignalCodecError('malformed', `truncated ${what}`);
    const out = this.b.subarray(this.o, this.o + n);
    this.o += n;
    return out;
  }
  u8(what: string): number {
    return this.take(1, what)[0]!;
  }
  bytes(n: number, what: string): Uint8Array {
    return this.take(n, what).slice();
  }
  str(lengthBytes: 1 | 2, max: number, what: string): string {
    const l = this.take(lengthBytes, `${what} length`);
    const n = lengthBytes === 1 ? l[0]! : (l[0]! << 8) | l[1]!;
    if (n > max) throw new SignalCodecError('malformed', `${what} longer than ${max} bytes`);
    try {
      return strictUtf8.decode(this.take(n, what));
    } catch (err) {
      if (err instanceof SignalCodecError) throw err;
      throw new SignalCodecError('malformed', `${what} is not valid UTF-8`);
    }
  }
  end() {
    if (this.o !== this.b.length) throw new SignalCodecError('malformed', `${this.b.length - this.o} trailing bytes`);
  }
}

/** A signalling message fills its routed payload: decodeAt uses every byte from the offset on. */
export const signalCodec: BinaryCodec<SignalMessage> = messageCodec({
  encodingLength: (msg) => signalParts(msg).reduce((n, p) => n + p.length, 0),
  write(msg, out) {
    let o = 0;
    for (const p of signalParts(msg)) {
      out.set(p, o);
      o += p.length;
    }
  },
  read: (bytes) => decodeSignal(bytes),
});

export function encodeSignal(msg: SignalMessage): Uint8Array {
  return encodeToBytes(signalCodec, msg);
}

export function decodeSignal(bytes: Uint8Array): SignalMessage {
  const r = new Reader(bytes);
  const version = r.u8('version');
  if (version !== SIGNAL_VERSION) throw new SignalCodecError('malformed', `unsupported signal version ${version}`);
  const type = r.u8('type');
  const session = r.bytes(SESSION_ID_BYTES, 'session id');
  let msg: SignalMessage;
  switch (type) {
    case SignalType.Offer:
    case SignalType.Answer:
      msg = { type, session, sdp: r.str(2, SDP_MAX_BYTES, 'sdp') };
      break;
    case SignalType.Candidate:
      msg = { type, session, mid: r.str(1, MID_MAX_BYTES, 'mid'), candidate: r.str(2, CANDIDATE_MAX_BYTES, 'candidate') };
      break;
    case SignalType.Reject:
      msg = { type, session, reason: r.str(1, REASON_MAX_BYTES, 'reason') };
      break;
    default:
      throw new SignalCodecError('malformed', `unknown signal type ${type}`);
  }
  r.end();
  return msg;
}
