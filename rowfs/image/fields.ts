// Field codecs shared by the registry records and the manifest: each checks its value on write and
// on read, so an encoder never emits what a decoder refuses. Errors are RangeError (encode side) or
// XdrDecodeError/ImageError (decode side); the record codecs turn them into ImageError.
import { XdrReader, XdrWriter, XdrDecodeError } from '../xdr/index.js';

/** Same bounds as the ROW-FS state store (rowfs/state/store.ts): a power of two in 4 KiB..1 MiB. */
export const MIN_BLOCK_SIZE_BYTES = 4096;
export const MAX_BLOCK_SIZE_BYTES = 1 << 20;
export const DEFAULT_BLOCK_SIZE_BYTES = 64 * 1024;

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

export function isBlockSize(n: number): boolean {
  return Number.isInteger(n) && n >= MIN_BLOCK_SIZE_BYTES && n <= MAX_BLOCK_SIZE_BYTES && (n & (n - 1)) === 0;
}

export function checkBlockSize(n: number): number {
  if (!isBlockSize(n)) throw new RangeError(`block size must be a power of two in ${MIN_BLOCK_SIZE_BYTES}..${MAX_BLOCK_SIZE_BYTES}, got ${n}`);
  return n;
}

/** A string field: UTF-8 of at most `max` bytes, checked by `check` both ways. Invalid UTF-8 is refused. */
export function writeString(w: XdrWriter, s: string, max: number, check: (s: string) => string): void {
  w.opaque(utf8.encode(check(s)), max);
}

export function readString(r: XdrReader, max: number, check: (s: string) => string): string {
  const bytes = r.opaque(max);
  let s: string;
  try {
    s = utf8Strict.decode(bytes);
  } catch {
    throw new XdrDecodeError('BAD_VALUE', 'string is not valid UTF-8');
  }
  return check(s);
}

/** Fixed-size bytes (keys, digests, ring addresses). */
export function writeBytes(w: XdrWriter, b: Uint8Array, n: number, what: string): void {
  if (!(b instanceof Uint8Array) || b.length !== n) throw new RangeError(`${what} must be ${n} bytes`);
  w.fixedOpaque(b, n);
}

export function readBytes(r: XdrReader, n: number): Uint8Array {
  return new Uint8Array(r.fixedOpaque(n)); // a copy: records outlive the DHT's buffers
}

/** A non-negative safe integer (sizes, millisecond times) as an XDR unsigned hyper. */
export function writeCount(w: XdrWriter, n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative safe integer, got ${n}`);
  w.uint64(BigInt(n));
}

export function readCount(r: XdrReader, what: string): number {
  const v = r.uint64();
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new XdrDecodeError('BAD_VALUE', `${what} ${v} is beyond 2^53`);
  return Number(v);
}

/** An unsigned 32-bit field in [min, max]. */
export function writeUint(w: XdrWriter, n: number, min: number, max: number, what: string): void {
  if (!Number.isInteger(n) || n < min || n > max) throw new RangeError(`${what} must be in ${min}..${max}, got ${n}`);
  w.uint32(n);
}

export function readUint(r: XdrReader, min: number, max: number, what: string): number {
  const n = r.uint32();
  if (n < min || n > max) throw new XdrDecodeError('BAD_VALUE', `${what} ${n} outside ${min}..${max}`);
  return n;
}

/** Dotted-quad IPv4 in canonical form (no leading zeros), e.g. "10.128.0.7". */
export function checkIpv4(s: string): string {
  if (typeof s !== 'string' || !/^(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){3}$/.test(s) || s.split('.').some((p) => Number(p) > 255)) {
    throw new RangeError(`bad IPv4 address ${JSON.stringify(String(s).slice(0, 40))}`);
  }
  return s;
}

export function writeIpv4(w: XdrWriter, s: string): void {
  const parts = checkIpv4(s).split('.').map(Number);
  w.uint32(((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0);
}

export function readIpv4(r: XdrReader): string {
  const n = r.uint32();
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
