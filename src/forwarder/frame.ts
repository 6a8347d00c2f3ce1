// The data-path frame: a fixed 12-byte header in front of one IP packet. No msgpack per packet: the
// header is written and read at fixed offsets.
//
//   0       1       2       3       4               8               12
//   +-------+-------+-------+-------+---------------+---------------+------------
//   | magic |version| kind  | flags | source vIP    | dest vIP      | IP packet
//   +-------+-------+-------+-------+---------------+---------------+------------
//   magic 0x56 ('V'), version 1, kind 0 = IPv4 packet, flags 0 (reserved, must be zero).

export const FRAME_MAGIC = 0x56;
export const FRAME_VERSION = 1;
export const FRAME_HEADER_BYTES = 12;
/** Largest packet a frame carries: the IPv4 total-length limit. */
export const FRAME_MAX_PACKET_BYTES = 65535;

export enum FrameKind {
  Ipv4 = 0,
}

export interface Frame {
  kind: FrameKind;
  /** Sender's virtual IPv4 as an unsigned 32-bit integer. */
  sourceVip: number;
  /** Receiver's virtual IPv4 as an unsigned 32-bit integer. */
  destVip: number;
  /** The IP packet (a view into the decoded bytes, not a copy). */
  packet: Uint8Array;
}

export class FrameError extends Error {
  override readonly name = 'FrameError';
}

export function frameEncodingLength(frame: Frame): number {
  return FRAME_HEADER_BYTES + frame.packet.length;
}

/** Writes `frame` into `out` at `offset` (allocating when `out` is omitted); returns the buffer. */
export function encodeFrame(frame: Frame, out?: Uint8Array, offset = 0): Uint8Array {
  if (frame.packet.length > FRAME_MAX_PACKET_BYTES) throw new FrameError(`packet of ${frame.packet.length} bytes exceeds ${FRAME_MAX_PACKET_BYTES}`);
  if (frame.kind !== FrameKind.Ipv4) throw new FrameError(`unknown frame kind ${frame.kind}`);
  const length = frameEncodingLength(frame);
  const buf = out ?? new Uint8Array(offset + length);
  if (buf.length - offset < length) throw new FrameError(`buffer too small: need ${length} bytes at offset ${offset}`);
  const view = new DataView(buf.buffer, buf.byteOffset + offset, FRAME_HEADER_BYTES);
  view.setUint8(0, FRAME_MAGIC);
  view.setUint8(1, FRAME_VERSION);
  view.setUint8(2, frame.kind);
  view.setUint8(3, 0);
  view.setUint32(4, frame.sourceVip >>> 0);
  view.setUint32(8, frame.destVip >>> 0);
  buf.set(frame.packet, offset + FRAME_HEADER_BYTES);
  return buf;
}

/** Reads a frame occupying all of `bytes` from `offset`; throws FrameError on anything malformed. */
export function decodeFrame(bytes: Uint8Array, offset = 0): Frame {
  if (offset < 0 || bytes.length - offset < FRAME_HEADER_BYTES) throw new FrameError(`frame shorter than its ${FRAME_HEADER_BYTES}-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, FRAME_HEADER_BYTES);
  if (view.getUint8(0) !== FRAME_MAGIC) throw new FrameError('bad frame magic');
  if (view.getUint8(1) !== FRAME_VERSION) throw new FrameError(`unsupported frame version ${view.getUint8(1)}`);
  const kind = view.getUint8(2);
  if (kind !== FrameKind.Ipv4) throw new FrameError(`unknown frame kind ${kind}`);
  if (view.getUint8(3) !== 0) throw new FrameError('reserved flags must be zero');
  const packet = bytes.subarray(offset + FRAME_HEADER_BYTES);
  if (packet.length > FRAME_MAX_PACKET_BYTES) throw new FrameError('packet too large');
  return { kind, sourceVip: view.getUint32(4), destVip: view.getUint32(8), packet };
}
