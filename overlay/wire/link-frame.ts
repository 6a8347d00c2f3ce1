// Link frames: what travels on a link's reliable control channel. A fixed binary layout (one type
// byte, then fixed fields, then an opaque payload for routed and local frames), so the hot routed
// path never goes through a generic serializer. All multi-byte integers are big-endian.
//
//   ROUTED    1 | flags u8 | hops u8 | hopLimit u8 | app u16 | src 20 | dest 20 | [via 20] | [replyVia 20] | payload
//             flags: bit0 exact, bit1 via present, bit2 replyVia present, bit3 notSrc (the source is
//             never a hop, nor the nearest-mode destination: a node looking for its own place, or not yet on the ring)
//   PING      2 | nonce u32
//   PONG      3 | nonce u32
//   NEIGHBORS 4 | flags u8 (bit0: please answer with yours; bit1: this answers yours) | count u8 (<= 64) | count x address 20
//   WANT      5 | want u8 (0 or 1)
//   LOCAL     6 | kind u8 | payload          (link-local overlay control, e.g. DHT replica traffic)
//   BYE       7 | ack u8 (0 or 1)            (graceful link close: the sender stops using the link; the
//                                            receiver stops too and acks; the first sender then closes,
//                                            so no frame in flight is lost)
import type { RingAddress } from '../ring/ring.js';
import { ADDRESS_BYTES, bytesToAddress, RING_SIZE, writeAddress } from '../ring/ring.js';
import { WireError } from './wire-error.js';
import { encodeToBytes, messageCodec, type BinaryCodec } from '../../lib/codec.js';

export const FRAME_ROUTED = 1;
export const FRAME_PING = 2;
export const FRAME_PONG = 3;
export const FRAME_NEIGHBORS = 4;
export const FRAME_WANT = 5;
export const FRAME_LOCAL = 6;
export const FRAME_BYE = 7;

export const MAX_NEIGHBORS_PER_FRAME = 64;
/** Larger control frames are refused: SCTP messages above this size fragment badly on WebRTC. */
export const MAX_FRAME_BYTES = 256 * 1024;

export interface RoutedFrame {
  type: typeof FRAME_ROUTED;
  exact: boolean;
  hops: number;
  hopLimit: number;
  app: number;
  src: RingAddress;
  dest: RingAddress;
  /** Route to this node first; it has a direct link to `dest` (a joining node not yet on the ring). */
  via?: RingAddress;
  /** The sender asks that replies be sent via this node (its own first hop). */
  replyVia?: RingAddress;
  /** The source is never a hop nor (nearest mode) the destination. */
  notSrc?: boolean;
  payload: Uint8Array;
}
export interface PingFrame { type: typeof FRAME_PING; nonce: number }
export interface PongFrame { type: typeof FRAME_PONG; nonce: number }
export interface NeighborsFrame { type: typeof FRAME_NEIGHBORS; wantReply: boolean; /** This list answers the receiver's (never answered again). */ answer?: boolean; addresses: RingAddress[] }
export interface WantFrame { type: typeof FRAME_WANT; want: boolean }
export interface LocalFrame { type: typeof FRAME_LOCAL; kind: number; payload: Uint8Array }
export interface ByeFrame { type: typeof FRAME_BYE; ack: boolean }

export type LinkFrame = RoutedFrame | PingFrame | PongFrame | NeighborsFrame | WantFrame | LocalFrame | ByeFrame;

const ROUTED_HEADER = 6 + 2 * ADDRESS_BYTES;

function checkAddress(a: RingAddress, field: string): void {
  if (typeof a !== 'bigint' || a < 0n || a >= RING_SIZE) throw new WireError('bad-field', `${field}: not a 160-bit address`);
}
function checkUint(v: number, max: number, field: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new WireError('bad-field', `${field}: ${v} not in 0..${max}`);
}

/** Bytes `f` takes; checks every field first (WireError on what cannot go on the wire). */
function linkFrameLength(f: LinkFrame): number {
  switch (f.type) {
    case FRAME_ROUTED: {
      checkUint(f.hops, 255, 'hops');
      checkUint(f.hopLimit, 255, 'hopLimit');
      checkUint(f.app, 0xffff, 'app');
      checkAddress(f.src, 'src');
      checkAddress(f.dest, 'dest');
      if (f.via !== undefined) checkAddress(f.via, 'via');
      if (f.replyVia !== undefined) checkAddress(f.replyVia, 'replyVia');
      const extra = (f.via !== undefined ? ADDRESS_BYTES : 0) + (f.replyVia !== undefined ? ADDRESS_BYTES : 0);
      const len = ROUTED_HEADER + extra + f.payload.length;
      if (len > MAX_FRAME_BYTES) throw new WireError('too-large', `routed frame of ${len} bytes`);
      return len;
    }
    case FRAME_PING:
    case FRAME_PONG:
      checkUint(f.nonce, 0xffffffff, 'nonce');
      return 5;
    case FRAME_NEIGHBORS:
      if (f.addresses.length > MAX_NEIGHBORS_PER_FRAME) throw new WireError('too-large', `${f.addresses.length} neighbours`);
      for (const a of f.addresses) checkAddress(a, 'neighbour');
      return 3 + f.addresses.length * ADDRESS_BYTES;
    case FRAME_WANT:
    case FRAME_BYE:
      return 2;
    case FRAME_LOCAL:
      checkUint(f.kind, 255, 'kind');
      if (f.payload.length + 2 > MAX_FRAME_BYTES) throw new WireError('too-large', `local frame of ${f.payload.length + 2} bytes`);
      return 2 + f.payload.length;
    default:
      throw new WireError('unknown-type', `unknown frame type ${(f as { type: unknown }).type}`);
  }
}

/** Writes a checked frame into `out` (zeroed, exactly linkFrameLength bytes). */
function writeLinkFrame(f: LinkFrame, out: Uint8Array): void {
  out[0] = f.type;
  switch (f.type) {
    case FRAME_ROUTED: {
      out[1] = (f.exact ? 1 : 0) | (f.via !== undefined ? 2 : 0) | (f.replyVia !== undefined ? 4 : 0) | (f.notSrc ? 8 : 0);
      out[2] = f.hops;
      out[3] = f.hopLimit;
      out[4] = f.app >>> 8;
      out[5] = f.app & 0xff;
      writeAddress(f.src, out, 6);
      writeAddress(f.dest, out, 6 + ADDRESS_BYTES);
      let o = ROUTED_HEADER;
      if (f.via !== undefined) {
        writeAddress(f.via, out, o);
        o += ADDRESS_BYTES;
      }
      if (f.replyVia !== undefined) {
        writeAddress(f.replyVia, out, o);
        o += ADDRESS_BYTES;
      }
      out.set(f.payload, o);
      return;
    }
    case FRAME_PING:
    case FRAME_PONG:
      new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(1, f.nonce);
      return;
    case FRAME_NEIGHBORS:
      out[1] = (f.wantReply ? 1 : 0) | (f.answer ? 2 : 0);
      out[2] = f.addresses.length;
      f.addresses.forEach((a, i) => writeAddress(a, out, 3 + i * ADDRESS_BYTES));
      return;
    case FRAME_WANT:
      out[1] = f.want ? 1 : 0;
      return;
    case FRAME_BYE:
      out[1] = f.ack ? 1 : 0;
      return;
    case FRAME_LOCAL:
      out[1] = f.kind;
      out.set(f.payload, 2);
      return;
  }
}

/** A link frame fills its data-channel message: decodeAt uses every byte from the offset on. */
export const linkFrameCodec: BinaryCodec<LinkFrame> = messageCodec({ encodingLength: linkFrameLength, write: writeLinkFrame, read: decodeLinkFrame });

export function encodeLinkFrame(f: LinkFrame): Uint8Array {
  return encodeToBytes(linkFrameCodec, f);
}

/** A copy of routed frame bytes (as decoded) with a new hop count: forwarding needs no re-encode. */
export function withRoutedHops(bytes: Uint8Array, hops: number): Uint8Array {
  if (bytes[0] !== FRAME_ROUTED || bytes.length < ROUTED_HEADER) throw new WireError('bad-field', 'not a routed frame');
  checkUint(hops, 255, 'hops');
  const out = Uint8Array.prototype.slice.call(bytes);
  out[2] = hops;
  return out;
}

function need(b: Uint8Array, n: number, what: string): void {
  if (b.length < n) throw new WireError('truncated', `${what}: need ${n} bytes, have ${b.length}`);
}

/** Decodes one frame; the payload of routed/local frames is a view into `b`, not a copy. */
export function decodeLinkFrame(bytes: Uint8Array): LinkFrame {
  // One Buffer view for the address reads below.
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  need(b, 1, 'frame');
  if (b.length > MAX_FRAME_BYTES) throw new WireError('too-large', `frame of ${b.length} bytes`);
  const type = b[0]!;
  switch (type) {
    case FRAME_ROUTED: {
      need(b, ROUTED_HEADER, 'routed header');
      const flags = b[1]!;
      if (flags & ~15) throw new WireError('bad-field', `unknown routed flags ${flags}`);
      const hasVia = (flags & 2) !== 0;
      const hasReplyVia = (flags & 4) !== 0;
      const header = ROUTED_HEADER + (hasVia ? ADDRESS_BYTES : 0) + (hasReplyVia ? ADDRESS_BYTES : 0);
      need(b, header, 'routed header');
      const f: RoutedFrame = {
        type: FRAME_ROUTED,
        exact: (flags & 1) !== 0,
        hops: b[2]!,
        hopLimit: b[3]!,
        app: (b[4]! << 8) | b[5]!,
        src: bytesToAddress(b, 6),
        dest: bytesToAddress(b, 6 + ADDRESS_BYTES),
        payload: b.subarray(header),
      };
      let o = ROUTED_HEADER;
      if (hasVia) {
        f.via = bytesToAddress(b, o);
        o += ADDRESS_BYTES;
      }
      if (hasReplyVia) f.replyVia = bytesToAddress(b, o);
      if (flags & 8) f.notSrc = true;
      return f;
    }
    case FRAME_PING:
    case FRAME_PONG: {
      need(b, 5, 'ping');
      if (b.length !== 5) throw new WireError('trailing-bytes', 'ping/pong must be 5 bytes');
      return { type, nonce: new DataView(b.buffer, b.byteOffset, 5).getUint32(1) };
    }
    case FRAME_NEIGHBORS: {
      need(b, 3, 'neighbors');
      if (b[1]! > 3) throw new WireError('bad-field', `unknown neighbors flags ${b[1]}`);
      const n = b[2]!;
      if (n > MAX_NEIGHBORS_PER_FRAME) throw new WireError('too-large', `${n} neighbours`);
      need(b, 3 + n * ADDRESS_BYTES, 'neighbors');
      if (b.length !== 3 + n * ADDRESS_BYTES) throw new WireError('trailing-bytes', 'neighbors frame too long');
      const addresses: RingAddress[] = [];
      for (let i = 0; i < n; i++) addresses.push(bytesToAddress(b, 3 + i * ADDRESS_BYTES));
      const f: NeighborsFrame = { type, wantReply: (b[1]! & 1) !== 0, addresses };
      if (b[1]! & 2) f.answer = true;
      return f;
    }
    case FRAME_WANT: {
      if (b.length !== 2) throw new WireError(b.length < 2 ? 'truncated' : 'trailing-bytes', 'want must be 2 bytes');
      if (b[1]! > 1) throw new WireError('bad-field', 'want must be 0 or 1');
      return { type, want: b[1] === 1 };
    }
    case FRAME_BYE: {
      if (b.length !== 2) throw new WireError(b.length < 2 ? 'truncated' : 'trailing-bytes', 'bye must be 2 bytes');
      if (b[1]! > 1) throw new WireError('bad-field', 'bye ack must be 0 or 1');
      return { type, ack: b[1] === 1 };
    }
    case FRAME_LOCAL: {
      need(b, 2, 'local');
      return { type, kind: b[1]!, payload: b.subarray(2) };
    }
    default:
      throw new WireError('unknown-type', `unknown frame type ${type}`);
  }
}
