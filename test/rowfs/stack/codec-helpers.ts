// Shared checks for pure codecs: round trip (decode(encode(x)) equals x, re-encoding gives the same
// bytes, decoding at an offset works, nothing left over) and hostile input (random and mutated
// bytes either decode or throw the codec's own error).
import type { ExecutionContext } from 'ava';
import fc from 'fast-check';
import { XdrError } from '../../../rowfs/xdr/errors.js';
import { XdrReader } from '../../../rowfs/xdr/reader.js';
import { XdrWriter } from '../../../rowfs/xdr/writer.js';

export type Enc<T> = (w: XdrWriter, v: T) => void;
export type Dec<T> = (r: XdrReader) => T;

export function encodeBytes<T>(enc: Enc<T>, v: T): Uint8Array {
  const w = new XdrWriter(16);
  enc(w, v);
  return w.bytes().slice();
}

/** Asserts the round-trip properties for one value; returns false (with a message) on failure. */
export function roundTrip<T>(t: ExecutionContext, enc: Enc<T>, dec: Dec<T>, v: T): void {
  const bytes = encodeBytes(enc, v);
  t.is(bytes.length % 4, 0);
  const r = new XdrReader(bytes);
  const back = dec(r);
  r.expectEnd();
  t.deepEqual(back, v);
  t.deepEqual(encodeBytes(enc, back), bytes);
  // Same value decoded from the middle of a larger buffer.
  const shifted = new Uint8Array(bytes.length + 12);
  shifted.set(bytes, 8);
  const r2 = new XdrReader(shifted, 8, 8 + bytes.length);
  t.deepEqual(dec(r2), v);
  r2.expectEnd();
}

/** Decoding never throws anything but XdrError (or an explicitly allowed class). */
export function decodeSafely(dec: Dec<unknown>, bytes: Uint8Array, allowed: Array<new (...a: any[]) => Error> = []): boolean {
  try {
    const r = new XdrReader(bytes);
    dec(r);
    return true;
  } catch (e) {
    if (e instanceof XdrError || allowed.some((c) => e instanceof c)) return true;
    throw e;
  }
}

/** Mutations of a valid encoding: flipped bytes, truncation, extension. */
export function mutated(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat({ max: 64 }), fc.boolean())
    .map(([bytes, flips, cut, grow]) => {
      const out = grow ? new Uint8Array(bytes.length + cut) : bytes.slice(0, Math.max(0, bytes.length - cut));
      if (grow) out.set(bytes);
      for (const [pos, val] of flips) if (out.length > 0) out[pos % out.length] = val;
      return out;
    });
}
