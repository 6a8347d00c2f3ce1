// Virtual file handles: what the proxy hands to clients instead of main/shadow handles.
// Layout (20 bytes, well under NFSv3's 64-byte limit, RFC 1813 section 2.5):
//   0..1  magic "RW"        2     format version (1)    3  reserved (0)
//   4..11 store instance id (random per state store, so handles from another proxy are STALE)
//   12..19 virtual id (vid), unsigned 64-bit big-endian, < 2^53
// Everything a handle stands for lives in the state store under its vid.
import { CodedError } from '../../lib/coded-error.js';

export const VHANDLE_LENGTH_BYTES = 20;
export const VHANDLE_MAX_BYTES = 64;
const MAGIC0 = 0x52; // 'R'
const MAGIC1 = 0x57; // 'W'
const FORMAT_VERSION = 1;

export type VirtualHandleErrorCode =
  | 'BAD_LENGTH' // not VHANDLE_LENGTH_BYTES long
  | 'BAD_MAGIC' // not one of ours
  | 'BAD_FORMAT' // a format version we do not know
  | 'BAD_VID'; // a virtual id outside 1..2^53-1

/** A handle that decodeVirtualHandle refuses (encoding a bad value throws RangeError). */
export class VirtualHandleError extends CodedError<VirtualHandleErrorCode> {
  constructor(
    code: VirtualHandleErrorCode,
    message: string,
  ) {
    super(code, `${code}: ${message}`);
  }
}

export interface VirtualHandle {
  instance: Uint8Array; // 8 bytes
  vid: number;
}

export function encodeVirtualHandle(h: VirtualHandle): Uint8Array {
  if (h.instance.length !== 8) throw new RangeError('instance id must be 8 bytes');
  if (!Number.isSafeInteger(h.vid) || h.vid < 1) throw new RangeError(`bad vid ${h.vid}`);
  const out = new Uint8Array(VHANDLE_LENGTH_BYTES);
  const view = new DataView(out.buffer);
  out[0] = MAGIC0;
  out[1] = MAGIC1;
  out[2] = FORMAT_VERSION;
  out.set(h.instance, 4);
  view.setBigUint64(12, BigInt(h.vid));
  return out;
}

/** Decodes a handle; throws VirtualHandleError for anything not made by encodeVirtualHandle. */
export function decodeVirtualHandle(bytes: Uint8Array): VirtualHandle {
  if (bytes.length !== VHANDLE_LENGTH_BYTES) throw new VirtualHandleError('BAD_LENGTH', `handle length ${bytes.length} != ${VHANDLE_LENGTH_BYTES}`);
  if (bytes[0] !== MAGIC0 || bytes[1] !== MAGIC1) throw new VirtualHandleError('BAD_MAGIC', 'bad handle magic');
  if (bytes[2] !== FORMAT_VERSION || bytes[3] !== 0) throw new VirtualHandleError('BAD_FORMAT', `unknown handle format ${bytes[2]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const vid = view.getBigUint64(12);
  if (vid < 1n || vid > BigInt(Number.MAX_SAFE_INTEGER)) throw new VirtualHandleError('BAD_VID', 'vid out of range');
  return { instance: bytes.slice(4, 12), vid: Number(vid) };
}

/** vid + 2^53 would lose precision: the high 32 bits of a valid vid stay below 2^21. */
const VID_HIGH_LIMIT = 2 ** 21;

/**
 * The vid of `bytes` when it is a handle of store `instance`, or -1 when it is a valid handle of
 * another store; throws VirtualHandleError exactly where decodeVirtualHandle does. The per-call
 * form of decodeVirtualHandle (every client call decodes one or two handles): no copy of the
 * instance id, no DataView, no BigInt.
 */
export function vidOfHandle(bytes: Uint8Array, instance: Uint8Array): number {
  if (bytes.length !== VHANDLE_LENGTH_BYTES) throw new VirtualHandleError('BAD_LENGTH', `handle length ${bytes.length} != ${VHANDLE_LENGTH_BYTES}`);
  if (bytes[0] !== MAGIC0 || bytes[1] !== MAGIC1) throw new VirtualHandleError('BAD_MAGIC', 'bad handle magic');
  if (bytes[2] !== FORMAT_VERSION || bytes[3] !== 0) throw new VirtualHandleError('BAD_FORMAT', `unknown handle format ${bytes[2]}`);
  const high = ((bytes[12]! << 24) | (bytes[13]! << 16) | (bytes[14]! << 8) | bytes[15]!) >>> 0;
  const low = ((bytes[16]! << 24) | (bytes[17]! << 16) | (bytes[18]! << 8) | bytes[19]!) >>> 0;
  if ((high === 0 && low === 0) || high >= VID_HIGH_LIMIT) throw new VirtualHandleError('BAD_VID', 'vid out of range');
  for (let i = 0; i < 8; i++) if (bytes[4 + i] !== instance[i]) return -1;
  return high * 2 ** 32 + low;
}
