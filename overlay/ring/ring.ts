// Ring math on 160-bit addresses (unsigned bigints modulo 2^160). Clockwise = increasing addresses,
// wrapping at 2^160. Every routing decision in the overlay reduces to these few functions.
import { createHash } from 'node:crypto';
import type { RingAddress } from '../link/link.js';

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

/** Writes the 20-byte big-endian form of `a` into `out` at `offset` (no allocation besides the hex string). */
export function writeAddress(a: RingAddress, out: Uint8Array, offset: number): void {
  Buffer.from(out.buffer, out.byteOffset, out.length).write(addressHex(a), offset, ADDRESS_BYTES, 'hex');
}

export function bytesToAddress(b: Uint8Array, offset = 0): RingAddress {
  const buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length);
  return BigInt('0x' + buf.toString('hex', offset, offset + ADDRESS_BYTES));
}

/** Ring position of a DHT key: first 160 bits of SHA-256 (the same hash as node addresses). */
export function keyToAddress(key: Uint8Array): RingAddress {
  return BigInt('0x' + createHash('sha256').update(key).digest().subarray(0, ADDRESS_BYTES).toString('hex'));
}
