// Ring math on 160-bit addresses (unsigned bigints modulo 2^160). Clockwise = increasing addresses,
// wrapping at 2^160. Every routing decision in the overlay reduces to these few functions.
import { createHash } from 'node:crypto';

/** 160-bit ring address as an unsigned bigint (first 160 bits of SHA-256 of the Ed25519 public key). */
export type RingAddress = bigint;

export const RING_BITS = 160;
export const RING_SIZE = 1n << 160n;
export const HALF_RING = RING_SIZE >> 1n;
export const ADDRESS_BYTES = RING_BITS / 8;
const MASK = RING_SIZE - 1n;

/** Distance walking clockwise from `from` to `to`, in [0, 2^160). */
export function cwDist(from: RingAddress, to: RingAddress): bigint {
  return (to - from) & MASK;
}

/** Shortest distance either way round, in [0, 2^159]. */
export function ringDist(a: RingAddress, b: RingAddress): bigint {
  const d = (b - a) & MASK;
  return d > HALF_RING ? RING_SIZE - d : d;
}

/** True if `x` lies strictly inside the clockwise arc from `a` to `b` (exclusive both ends). */
export function isBetween(a: RingAddress, x: RingAddress, b: RingAddress): boolean {
  const ax = cwDist(a, x);
  return ax !== 0n && ax < cwDist(a, b);
}

/** Adds a (possibly negative) offset modulo the ring. */
export function ringAdd(a: RingAddress, offset: bigint): RingAddress {
  return (a + offset) & MASK;
}

/** True if `a` is strictly closer to `key` than `b` (ties broken towards the lower address, so the order is total). */
export function closerTo(key: RingAddress, a: RingAddress, b: RingAddress): boolean {
  const da = ringDist(a, key);
  const db = ringDist(b, key);
  return da < db || (da === db && a < b);
}

export function addressHex(a: RingAddress): string {
  return a.toString(16).padStart(RING_BITS / 4, '0');
}

/** 20 bytes, big-endian. */
export function addressToBytes(a: RingAddress): Uint8Array {
  return Buffer.from(addressHex(a), 'hex');
}

// Every frame carries two to four addresses, and a node meets the same few hundred addresses again
// and again: both directions of the conversion are memoized (bounded; cleared when full, which
// costs only recomputation). A hit is a map lookup plus a 20-byte compare instead of a hex string.
/** Entries per memo before it is cleared. */
const ADDRESS_MEMO_ENTRIES = 1 << 17;
const bytesOf = new Map<RingAddress, Uint8Array>();
const addressOf = new Map<number, { bytes: Uint8Array; address: RingAddress }>();

/** Writes the 20-byte big-endian form of `a` into `out` at `offset`. */
export function writeAddress(a: RingAddress, out: Uint8Array, offset: number): void {
  let bytes = bytesOf.get(a);
  if (bytes === undefined) {
    bytes = new Uint8Array(Buffer.from(addressHex(a), 'hex'));
    if (bytesOf.size >= ADDRESS_MEMO_ENTRIES) bytesOf.clear();
    bytesOf.set(a, bytes);
  }
  out.set(bytes, offset);
}

export function bytesToAddress(b: Uint8Array, offset = 0): RingAddress {
  // The first 52 bits pick the memo slot; the full 20 bytes must match.
  const slot = ((b[offset]! << 24) | (b[offset + 1]! << 16) | (b[offset + 2]! << 8) | b[offset + 3]!) * 1_048_576 + ((b[offset + 4]! << 12) | (b[offset + 5]! << 4) | (b[offset + 6]! >>> 4));
  const hit = addressOf.get(slot);
  if (hit !== undefined) {
    const hb = hit.bytes;
    let i = 0;
    while (i < ADDRESS_BYTES && hb[i] === b[offset + i]) i++;
    if (i === ADDRESS_BYTES) return hit.address;
  }
  const buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length);
  const address = BigInt('0x' + buf.toString('hex', offset, offset + ADDRESS_BYTES));
  if (addressOf.size >= ADDRESS_MEMO_ENTRIES) addressOf.clear();
  addressOf.set(slot, { bytes: Uint8Array.prototype.slice.call(b, offset, offset + ADDRESS_BYTES), address });
  return address;
}

/** Ring position of a DHT key: first 160 bits of SHA-256 (the same hash as node addresses). */
export function keyToAddress(key: Uint8Array): RingAddress {
  return BigInt('0x' + createHash('sha256').update(key).digest().subarray(0, ADDRESS_BYTES).toString('hex'));
}
