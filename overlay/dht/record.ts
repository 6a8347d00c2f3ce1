// A DHT value as it is stored and replicated: signed by its owner over everything but the remaining
// lifetime. Clocks of different nodes share no epoch, so a record carries its signed lifetime
// (`ttlMs`) and each holder counts down locally; replicas pass on the time left, never more than
// `ttlMs`. `seq` orders an owner's versions (a refresh or a removal replaces an older one, and an
// old copy can never come back); a removal is a signed tombstone.
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, verifySignature, type Identity } from '../identity.js';
import { WireError } from '../wire/wire-error.js';
import { VerifiedCache, verifiedRecords } from './verified-cache.js';
import { bytesOfLength, bytesUpTo, field, isBool, isSafeUint } from '../wire/msgpack.js';

export const MAX_KEY_BYTES = 256;
export const MAX_VALUE_BYTES = 16 * 1024;
/** One week: longer lifetimes would make a leaked record hard to get rid of. */
export const MAX_TTL_MS = 7 * 24 * 3600 * 1000;

export interface SignedRecord {
  key: Uint8Array;
  value: Uint8Array;
  owner: Uint8Array;
  ttlMs: number;
  seq: number;
  tombstone: boolean;
  sig: Uint8Array;
}

const DOMAIN = new TextEncoder().encode('overlay-dht-record-v1');

/** The bytes the owner signs: domain | keyLen u16 | key | valueLen u32 | value | ttlMs f64 | seq f64 | tombstone u8. */
export function signedBytes(r: Omit<SignedRecord, 'sig' | 'owner'>): Uint8Array {
  const out = new Uint8Array(DOMAIN.length + 2 + r.key.length + 4 + r.value.length + 17);
  const dv = new DataView(out.buffer);
  let o = 0;
  out.set(DOMAIN, o);
  o += DOMAIN.length;
  dv.setUint16(o, r.key.length);
  o += 2;
  out.set(r.key, o);
  o += r.key.length;
  dv.setUint32(o, r.value.length);
  o += 4;
  out.set(r.value, o);
  o += r.value.length;
  dv.setFloat64(o, r.ttlMs);
  dv.setFloat64(o + 8, r.seq);
  out[o + 16] = r.tombstone ? 1 : 0;
  return out;
}

export function signRecord(identity: Identity, r: Omit<SignedRecord, 'sig' | 'owner'>): SignedRecord {
  checkLimits(r);
  return { ...r, owner: identity.publicKey, sig: identity.sign(signedBytes(r)) };
}

export function checkLimits(r: Pick<SignedRecord, 'key' | 'value' | 'ttlMs'>): void {
  if (r.key.length === 0 || r.key.length > MAX_KEY_BYTES) throw new RangeError(`DHT key must be 1..${MAX_KEY_BYTES} bytes`);
  if (r.value.length > MAX_VALUE_BYTES) throw new RangeError(`DHT value must be at most ${MAX_VALUE_BYTES} bytes`);
  if (!Number.isSafeInteger(r.ttlMs) || r.ttlMs <= 0 || r.ttlMs > MAX_TTL_MS) throw new RangeError(`DHT ttl must be 1..${MAX_TTL_MS} ms`);
}

/** Checks the owner's signature, once per distinct record content (`cache`). */
export function verifyRecord(r: SignedRecord, cache: VerifiedCache = verifiedRecords): boolean {
  // Fixed-size owner and signature make the cache key's concatenation unambiguous.
  if (r.owner.length !== PUBLIC_KEY_BYTES || r.sig.length !== SIGNATURE_BYTES) return false;
  const signed = signedBytes(r);
  return cache.check(VerifiedCache.keyOf(r.owner, signed, r.sig), () => verifySignature(r.owner, signed, r.sig));
}

export function recordToWire(r: SignedRecord): Record<string, unknown> {
  return { k: r.key, v: r.value, o: r.owner, t: r.ttlMs, s: r.seq, x: r.tombstone, g: r.sig };
}

export function recordFromWire(v: unknown): SignedRecord {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new WireError('bad-field', 'record: not a map');
  const o = v as Record<string, unknown>;
  const r: SignedRecord = {
    key: field(o, 'k', bytesUpTo(MAX_KEY_BYTES), 'record'),
    value: field(o, 'v', bytesUpTo(MAX_VALUE_BYTES), 'record'),
    owner: field(o, 'o', bytesOfLength(PUBLIC_KEY_BYTES), 'record'),
    ttlMs: field(o, 't', isSafeUint, 'record'),
    seq: field(o, 's', isSafeUint, 'record'),
    tombstone: field(o, 'x', isBool, 'record'),
    sig: field(o, 'g', bytesOfLength(SIGNATURE_BYTES), 'record'),
  };
  if (r.key.length === 0 || r.ttlMs === 0 || r.ttlMs > MAX_TTL_MS) throw new WireError('bad-field', 'record: key or ttl out of range');
  return r;
}

