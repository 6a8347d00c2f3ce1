// The data-path frame: a fixed 12-byte header in front of one IP packet, or of a bundle of packets
// for the same destination (one datachannel message instead of several: the per-message cost of the
// channel dominates the data path, see docs/networking.md). No msgpack per packet: fixed offsets.
//
//   0       1       2       3       4               8               12
//   +-------+-------+-------+-------+---------------+---------------+---------------------------
//   | magic |version| kind  | flags | source vIP    | dest vIP      | body
//   +-------+-------+-------+-------+---------------+---------------+---------------------------
//   magic 0x56 ('V'), version 1, flags 0 (reserved, must be zero).
//   kind 0 (Ipv4):       body = one IP packet (the rest of the message)
//   kind 1 (Ipv4Bundle): body = 1..n entries of [length u16 big-endian, 1..65535][packet]
import { CodedError } from '../../lib/coded-error.js';
import type { BinaryCodec } from '../../lib/codec.js';

export const FRAME_MAGIC = 0x56;
export const FRAME_VERSION = 1;
export const FRAME_HEADER_BYTES = 12;
export const BUNDLE_ENTRY_HEADER_BYTES = 2;
/** Largest packet a frame carries: the IPv4 total-length limit. */
export const FRAME_MAX_PACKET_BYTES = 65535;

export enum FrameKind {
  Ipv4 = 0,
  Ipv4Bundle = 1,
}

export interface Frame {
  kind: FrameKind;
  /** Sender's virtual IPv4 as an unsigned 32-bit integer. */
  sourceVip: number;
  /** Receiver's virtual IPv4 as an unsigned 32-bit integer. */
  destVip: number;
  /** The IP packets (views into the decoded bytes, not copies): exactly one for kind Ipv4. */
  packets: Uint8Array[];
}

export class FrameError extends CodedError<'malformed'> {}

function check(frame: Frame): void {
  if (frame.kind === FrameKind.Ipv4) {
    if (frame.packets.length !== 1) throw new RangeError(`an Ipv4 frame carries exactly one packet, got ${frame.packets.length}`);
  } else if (frame.kind === FrameKind.Ipv4Bundle) {
    if (frame.packets.length === 0) throw new RangeError('an empty bundle');
    for (const p of frame.packets) if (p.length === 0) throw new RangeError('an empty packet in a bundle');
  } else {
    throw new RangeError(`unknown frame kind ${frame.kind as number}`);
  }
  for (const p of frame.packets) if (p.length > FRAME_MAX_PACKET_BYTES) throw new RangeError(`packet of ${p.length} bytes exceeds ${FRAME_MAX_PACKET_BYTES}`);
}

export function frameEncodingLength(frame: Frame): number {
  let n = FRAME_HEADER_BYTES;
  for (const p of frame.packets) n += p.length + (frame.kind === FrameKind.Ipv4Bundle ? BUNDLE_ENTRY_HEADER_BYTES : 0);
  return n;
}

/** Writes `frame` into `out` at `offset` (allocating when `out` is omitted); returns the buffer. */
export function encodeFrame(frame: Frame, out?: Uint8Array, offset = 0): Uint8Array {
  check(frame);
  const length = frameEncodingLength(frame);
  const buf = out ?? new Uint8Array(offset + length);
  if (buf.length - offset < length) throw new RangeError(`buffer too small: need ${length} bytes at offset ${offset}`);
  const view = new DataView(buf.buffer, buf.byteOffset + offset, length);
  view.setUint8(0, FRAME_MAGIC);
  view.setUint8(1, FRAME_VERSION);
  view.setUint8(2, frame.kind);
  view.setUint8(3, 0);
  view.setUint32(4, frame.sourceVip >>> 0);
  view.setUint32(8, frame.destVip >>> 0);
  let at = FRAME_HEADER_BYTES;
  for (const p of frame.packets) {
    if (frame.kind === FrameKind.Ipv4Bundle) {
      view.setUint16(at, p.length);
      at += BUNDLE_ENTRY_HEADER_BYTES;
    }
    buf.set(p, offset + at);
    at += p.length;
  }
  return buf;
}

/** Reads a frame occupying all of `bytes` from `offset`; throws FrameError on anything malformed. */
export function decodeFrame(bytes: Uint8Array, offset = 0): Frame {
  if (offset < 0 || bytes.length - offset < FRAME_HEADER_BYTES) throw new FrameError('malformed', `frame shorter than its ${FRAME_HEADER_BYTES}-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, bytes.length - offset);
  if (view.getUint8(0) !== FRAME_MAGIC) throw new FrameError('malformed', 'bad frame magic');
  if (view.getUint8(1) !== FRAME_VERSION) throw new FrameError('malformed', `unsupported frame version ${view.getUint8(1)}`);
  const kind = view.getUint8(2);
  if (view.getUint8(3) !== 0) throw new FrameError('malformed', 'reserved flags must be zero');
  const sourceVip = view.getUint32(4);
  const destVip = view.getUint32(8);
  const body = bytes.subarray(offset + FRAME_HEADER_BYTES);
  if (kind === FrameKind.Ipv4) {
    if (body.length > FRAME_MAX_PACKET_BYTES) throw new FrameError('malformed', 'packet too large');
    return { kind, sourceVip, destVip, packets: [body] };
  }
  if (kind !== FrameKind.Ipv4Bundle) throw new FrameError('malformed', `unknown frame kind ${kind}`);
  const packets: Uint8Array[] = [];
  let at = FRAME_HEADER_BYTES;
  const end = view.byteLength;
  while (at < end) {
    if (end - at < BUNDLE_ENTRY_HEADER_BYTES) throw new FrameError('malformed', 'truncated bundle entry header');
    const len = view.getUint16(at);
    at += BUNDLE_ENTRY_HEADER_BYTES;
    if (len === 0) throw new FrameError('malformed', 'an empty packet in a bundle');
    if (end - at < len) throw new FrameError('malformed', 'truncated bundle entry');
    packets.push(bytes.subarray(offset + at, offset + at + len));
    at += len;
  }
  if (packets.length === 0) throw new FrameError('malformed', 'an empty bundle');
  return { kind, sourceVip, destVip, packets };
}

/** A vnet frame fills its data-channel message: decodeAt uses every byte from the offset on. */
export const vnetFrameCodec: BinaryCodec<Frame> = {
  encodingLength: frameEncodingLength,
  encodeInto(frame, out, offset) {
    encodeFrame(frame, out, offset);
    return frameEncodingLength(frame);
  },
  decodeAt: (bytes, offset) => ({ value: decodeFrame(bytes, offset), bytesUsed: bytes.length - offset }),
};
