// Wire format of the link handshake, exchanged on a fresh link's control channel before the link is
// handed to the overlay. Pure codec: fixed layouts, exact lengths, every decode bounds-checked.
//
//   HELLO  = type 1 | version 1 | publicKey[32] | nonce[32]                 (66 bytes)
//   AUTH   = type 2 | version 1 | signature[64] | mac[32]                   (98 bytes)
//   REFUSE = type 3 | version 1 | reason u8 | textLength u8 | text (UTF-8)   (4..4+200 bytes)
//   CONFIRM = type 4 | version 1                                           (2 bytes)
import { CodedError } from '../../lib/coded-error.js';
import { encodeToBytes, messageCodec, type BinaryCodec } from '../../lib/codec.js';

export const HANDSHAKE_VERSION = 1;
export const HANDSHAKE_KEY_BYTES = 32;
export const HANDSHAKE_NONCE_BYTES = 32;
export const HANDSHAKE_SIGNATURE_BYTES = 64;
export const HANDSHAKE_MAC_BYTES = 32;
export const REFUSE_TEXT_MAX_BYTES = 200;

export enum HandshakeType {
  Hello = 1,
  Auth = 2,
  Refuse = 3,
  Confirm = 4,
}

/** Why a side refused the link; sent in REFUSE and counted. */
export enum RefuseReason {
  /** The MAC over the transcript did not verify: the peer does not hold this network's secret. */
  BadSecret = 1,
  /** The Ed25519 signature over the transcript (binding both DTLS fingerprints) did not verify. */
  BadSignature = 2,
  /** The peer's key does not hash to the ring address we dialled. */
  AddressMismatch = 3,
  /** Messages out of order, undecodable, or a key equal to our own. */
  ProtocolError = 4,
}

export type HandshakeMessage =
  | { type: HandshakeType.Hello; publicKey: Uint8Array; nonce: Uint8Array }
  | { type: HandshakeType.Auth; signature: Uint8Array; mac: Uint8Array }
  | { type: HandshakeType.Refuse; reason: RefuseReason; text: string }
  | { type: HandshakeType.Confirm };

export class HandshakeCodecError extends CodedError<'malformed'> {}

const HELLO_BYTES = 2 + HANDSHAKE_KEY_BYTES + HANDSHAKE_NONCE_BYTES;
const AUTH_BYTES = 2 + HANDSHAKE_SIGNATURE_BYTES + HANDSHAKE_MAC_BYTES;
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function need(bytes: Uint8Array, length: number, what: string): void {
  if (bytes.length !== length) throw new HandshakeCodecError('malformed', `${what} must be ${length} bytes, got ${bytes.length}`);
}

/** Bytes `msg` takes; checks its fields first. */
function handshakeLength(msg: HandshakeMessage): number {
  switch (msg.type) {
    case HandshakeType.Hello:
      need(msg.publicKey, HANDSHAKE_KEY_BYTES, 'public key');
      need(msg.nonce, HANDSHAKE_NONCE_BYTES, 'nonce');
      return HELLO_BYTES;
    case HandshakeType.Auth:
      need(msg.signature, HANDSHAKE_SIGNATURE_BYTES, 'signature');
      need(msg.mac, HANDSHAKE_MAC_BYTES, 'mac');
      return AUTH_BYTES;
    case HandshakeType.Refuse: {
      if (!RefuseReason[msg.reason]) throw new HandshakeCodecError('malformed', `unknown refuse reason ${msg.reason}`);
      const text = utf8.encode(msg.text).length;
      if (text > REFUSE_TEXT_MAX_BYTES) throw new HandshakeCodecError('malformed', `refuse text longer than ${REFUSE_TEXT_MAX_BYTES} bytes`);
      return 4 + text;
    }
    case HandshakeType.Confirm:
      return 2;
    default:
      throw new HandshakeCodecError('malformed', `unknown handshake message type ${(msg as { type: number }).type}`);
  }
}

/** Writes a checked message into `out` (zeroed, exactly handshakeLength bytes). */
function writeHandshake(msg: HandshakeMessage, out: Uint8Array): void {
  out[0] = msg.type;
  out[1] = HANDSHAKE_VERSION;
  switch (msg.type) {
    case HandshakeType.Hello:
      out.set(msg.publicKey, 2);
      out.set(msg.nonce, 2 + HANDSHAKE_KEY_BYTES);
      return;
    case HandshakeType.Auth:
      out.set(msg.signature, 2);
      out.set(msg.mac, 2 + HANDSHAKE_SIGNATURE_BYTES);
      return;
    case HandshakeType.Refuse: {
      const text = utf8.encode(msg.text);
      out[2] = msg.reason;
      out[3] = text.length;
      out.set(text, 4);
      return;
    }
    case HandshakeType.Confirm:
      return;
  }
}

/** A handshake message fills its control-channel message: decodeAt uses every byte from the offset on. */
export const handshakeCodec: BinaryCodec<HandshakeMessage> = messageCodec({ encodingLength: handshakeLength, write: writeHandshake, read: (bytes) => decodeHandshake(bytes) });

export function encodeHandshake(msg: HandshakeMessage): Uint8Array {
  return encodeToBytes(handshakeCodec, msg);
}

export function decodeHandshake(bytes: Uint8Array): HandshakeMessage {
  if (bytes.length < 2) throw new HandshakeCodecError('malformed', `handshake message too short (${bytes.length} bytes)`);
  const type = bytes[0]!;
  const version = bytes[1]!;
  if (version !== HANDSHAKE_VERSION) throw new HandshakeCodecError('malformed', `unsupported handshake version ${version}`);
  switch (type) {
    case HandshakeType.Hello:
      need(bytes, HELLO_BYTES, 'HELLO');
      return {
        type,
        publicKey: bytes.slice(2, 2 + HANDSHAKE_KEY_BYTES),
        nonce: bytes.slice(2 + HANDSHAKE_KEY_BYTES, HELLO_BYTES),
      };
    case HandshakeType.Auth:
      need(bytes, AUTH_BYTES, 'AUTH');
      return {
        type,
        signature: bytes.slice(2, 2 + HANDSHAKE_SIGNATURE_BYTES),
        mac: bytes.slice(2 + HANDSHAKE_SIGNATURE_BYTES, AUTH_BYTES),
      };
    case HandshakeType.Refuse: {
      if (bytes.length < 4) throw new HandshakeCodecError('malformed', 'REFUSE too short');
      const reason = bytes[2]!;
      if (!RefuseReason[reason]) throw new HandshakeCodecError('malformed', `unknown refuse reason ${reason}`);
      const length = bytes[3]!;
      if (length > REFUSE_TEXT_MAX_BYTES) throw new HandshakeCodecError('malformed', `refuse text longer than ${REFUSE_TEXT_MAX_BYTES} bytes`);
      need(bytes, 4 + length, 'REFUSE');
      let text: string;
      try {
        text = strictUtf8.decode(bytes.subarray(4));
      } catch {
        throw new HandshakeCodecError('malformed', 'refuse text is not valid UTF-8');
      }
      return { type, reason, text };
    }
    case HandshakeType.Confirm:
      need(bytes, 2, 'CONFIRM');
      return { type };
    default:
      throw new HandshakeCodecError('malformed', `unknown handshake message type ${type}`);
  }
}
