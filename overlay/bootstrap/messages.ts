// Frames on the bootstrap WebSocket (binary messages only). Pure codec, bounded lengths.
//
//   version u8 (1) | type u8 | body
//   WELCOME (server -> client) / HELLO (client -> server): network (u8 length + UTF-8) | address[20]
//     WELCOME may end in stunPort u16 (1..65535): the endpoint also answers STUN Binding requests on
//     that UDP port of the address the client reached it at (overlay/stun/); absent = no STUN server.
//   SIGNAL  (both ways): an opaque connector signalling payload (the rest of the frame)
//   ERROR   (both ways): message (u16 length + UTF-8); the sender closes right after
import { ADDRESS_BYTES, bytesToAddress, RING_SIZE, writeAddress, type RingAddress } from '../ring/ring.js';
import { CodedError } from '../../lib/coded-error.js';
import { encodeToBytes, messageCodec, type BinaryCodec } from '../../lib/codec.js';

export const BOOTSTRAP_VERSION = 1;
export const NETWORK_NAME_MAX_BYTES = 64;
export const SIGNAL_PAYLOAD_MAX_BYTES = 32 * 1024; // an offer SDP with candidates is a few KiB
export const ERROR_TEXT_MAX_BYTES = 1024;
/** Whole-frame bound, also given to the WebSocket server as maxPayload. */
export const BOOTSTRAP_FRAME_MAX_BYTES = 2 + SIGNAL_PAYLOAD_MAX_BYTES;

export enum BootstrapType {
  Welcome = 1,
  Hello = 2,
  Signal = 3,
  Error = 4,
}

export type BootstrapMessage =
  | { type: BootstrapType.Welcome; network: string; address: RingAddress; stunPort?: number }
  | { type: BootstrapType.Hello; network: string; address: RingAddress }
  | { type: BootstrapType.Signal; payload: Uint8Array }
  | { type: BootstrapType.Error; message: string };

export class BootstrapCodecError extends CodedError<'malformed'> {}

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(b: Uint8Array, what: string): string {
  try {
    return strictUtf8.decode(b);
  } catch {
    throw new BootstrapCodecError('malformed', `${what} is not valid UTF-8`);
  }
}

/** The error text, cut to ERROR_TEXT_MAX_BYTES at a character boundary (decode rejects a split one). */
function errorText(message: string): Uint8Array {
  let text = utf8.encode(message);
  if (text.length > ERROR_TEXT_MAX_BYTES) text = text.subarray(0, ERROR_TEXT_MAX_BYTES);
  while (text.length > 0) {
    try {
      strictUtf8.decode(text);
      break;
    } catch {
      text = text.subarray(0, text.length - 1);
    }
  }
  return text;
}

/** Bytes `msg` takes; checks its fields first. */
function bootstrapLength(msg: BootstrapMessage): number {
  switch (msg.type) {
    case BootstrapType.Welcome:
    case BootstrapType.Hello: {
      const name = utf8.encode(msg.network).length;
      if (name === 0 || name > NETWORK_NAME_MAX_BYTES) throw new BootstrapCodecError('malformed', `network name must be 1..${NETWORK_NAME_MAX_BYTES} bytes`);
      if (typeof msg.address !== 'bigint' || msg.address < 0n || msg.address >= RING_SIZE) throw new BootstrapCodecError('malformed', 'address out of range');
      let stun = 0;
      if (msg.type === BootstrapType.Welcome && msg.stunPort !== undefined) {
        if (!Number.isInteger(msg.stunPort) || msg.stunPort < 1 || msg.stunPort > 65535) throw new BootstrapCodecError('malformed', `STUN port ${msg.stunPort} out of range`);
        stun = 2;
      }
      return 3 + name + ADDRESS_BYTES + stun;
    }
    case BootstrapType.Signal:
      if (msg.payload.length > SIGNAL_PAYLOAD_MAX_BYTES) throw new BootstrapCodecError('malformed', `signal payload longer than ${SIGNAL_PAYLOAD_MAX_BYTES} bytes`);
      return 2 + msg.payload.length;
    case BootstrapType.Error:
      return 4 + errorText(msg.message).length;
    default:
      throw new BootstrapCodecError('malformed', `unknown bootstrap message type ${(msg as { type: number }).type}`);
  }
}

/** Writes a checked message into `out` (zeroed, exactly bootstrapLength bytes). */
function writeBootstrap(msg: BootstrapMessage, out: Uint8Array): void {
  out[0] = BOOTSTRAP_VERSION;
  out[1] = msg.type;
  switch (msg.type) {
    case BootstrapType.Welcome:
    case BootstrapType.Hello: {
      const name = utf8.encode(msg.network);
      out[2] = name.length;
      out.set(name, 3);
      writeAddress(msg.address, out, 3 + name.length);
      if (msg.type === BootstrapType.Welcome && msg.stunPort !== undefined) {
        const at = 3 + name.length + ADDRESS_BYTES;
        out[at] = msg.stunPort >> 8;
        out[at + 1] = msg.stunPort & 0xff;
      }
      return;
    }
    case BootstrapType.Signal:
      out.set(msg.payload, 2);
      return;
    case BootstrapType.Error: {
      const text = errorText(msg.message);
      out[2] = text.length >> 8;
      out[3] = text.length & 0xff;
      out.set(text, 4);
      return;
    }
  }
}

/** A bootstrap message fills its WebSocket message: decodeAt uses every byte from the offset on. */
export const bootstrapCodec: BinaryCodec<BootstrapMessage> = messageCodec({ encodingLength: bootstrapLength, write: writeBootstrap, read: (bytes) => decodeBootstrap(bytes) });

export function encodeBootstrap(msg: BootstrapMessage): Uint8Array {
  return encodeToBytes(bootstrapCodec, msg);
}

export function decodeBootstrap(bytes: Uint8Array): BootstrapMessage {
  if (bytes.length < 2) throw new BootstrapCodecError('malformed', `frame too short (${bytes.length} bytes)`);
  if (bytes.length > BOOTSTRAP_FRAME_MAX_BYTES) throw new BootstrapCodecError('malformed', `frame longer than ${BOOTSTRAP_FRAME_MAX_BYTES} bytes`);
  if (bytes[0] !== BOOTSTRAP_VERSION) throw new BootstrapCodecError('malformed', `unsupported bootstrap protocol version ${bytes[0]}`);
  const type = bytes[1]!;
  switch (type) {
    case BootstrapType.Welcome:
    case BootstrapType.Hello: {
      if (bytes.length < 3) throw new BootstrapCodecError('malformed', 'truncated network name length');
      const n = bytes[2]!;
      if (n === 0 || n > NETWORK_NAME_MAX_BYTES) throw new BootstrapCodecError('malformed', `network name must be 1..${NETWORK_NAME_MAX_BYTES} bytes`);
      const end = 3 + n + ADDRESS_BYTES;
      const withStun = type === BootstrapType.Welcome && bytes.length === end + 2;
      if (bytes.length !== end && !withStun) throw new BootstrapCodecError('malformed', `${BootstrapType[type]} must be ${end}${type === BootstrapType.Welcome ? ` or ${end + 2}` : ''} bytes, got ${bytes.length}`);
      const network = decodeUtf8(bytes.subarray(3, 3 + n), 'network name');
      const address = bytesToAddress(bytes, 3 + n);
      if (!withStun) return { type, network, address };
      const stunPort = (bytes[end]! << 8) | bytes[end + 1]!;
      if (stunPort === 0) throw new BootstrapCodecError('malformed', 'STUN port 0 in WELCOME');
      return { type: BootstrapType.Welcome, network, address, stunPort };
    }
    case BootstrapType.Signal:
      return { type, payload: bytes.slice(2) };
    case BootstrapType.Error: {
      if (bytes.length < 4) throw new BootstrapCodecError('malformed', 'truncated error length');
      const n = (bytes[2]! << 8) | bytes[3]!;
      if (n > ERROR_TEXT_MAX_BYTES) throw new BootstrapCodecError('malformed', `error text longer than ${ERROR_TEXT_MAX_BYTES} bytes`);
      if (bytes.length !== 4 + n) throw new BootstrapCodecError('malformed', `ERROR must be ${4 + n} bytes, got ${bytes.length}`);
      return { type, message: decodeUtf8(bytes.subarray(4), 'error text') };
    }
    default:
      throw new BootstrapCodecError('malformed', `unknown bootstrap message type ${type}`);
  }
}
