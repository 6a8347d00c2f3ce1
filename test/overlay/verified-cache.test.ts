// The cache of checked record signatures: a record's signature is verified once per content; forged
// or altered records are never let through by it.
import test from 'ava';
import { Identity } from '../../overlay/identity.js';
import { signRecord, verifyRecord } from '../../overlay/dht/record.js';
import { VerifiedCache } from '../../overlay/dht/verified-cache.js';

const alice = Identity.fromSeed(new Uint8Array(32).fill(1));
const mallory = Identity.fromSeed(new Uint8Array(32).fill(2));
const enc = new TextEncoder();
const rec = (value: string, seq = 1) => signRecord(alice, { key: enc.encode('k'), value: enc.encode(value), ttlMs: 10_000, seq, tombstone: false });

test('the same record is verified once; a copy with equal content hits the cache', (t) => {
  const cache = new VerifiedCache();
  const r = rec('v');
  t.true(verifyRecord(r, cache));
  t.true(verifyRecord({ ...r, value: Uint8Array.from(r.value) }, cache));
  t.is(cache.misses, 1);
  t.is(cache.hits, 1);
});

test('altered records miss the cache and fail: value, seq, ttl, tombstone, owner, signature', (t) => {
  const cache = new VerifiedCache();
  const r = rec('v');
  t.true(verifyRecord(r, cache));
  const sig = Uint8Array.from(r.sig);
  sig[0]! ^= 1;
  const bad = [
    { ...r, value: enc.encode('w') },
    { ...r, seq: 2 },
    { ...r, ttlMs: 20_000 },
    { ...r, tombstone: true },
    { ...r, owner: mallory.publicKey },
    { ...r, sig },
    { ...r, owner: r.owner.subarray(1) },
  ];
  for (const b of bad) t.false(verifyRecord(b, cache));
  t.is(cache.hits, 0);
  t.is(cache.size, 1, 'only the good record is remembered');
});

test('bounded: the oldest entries go first', (t) => {
  const cache = new VerifiedCache(2);
  const [a, b, c] = [rec('a'), rec('b'), rec('c')];
  for (const r of [a, b, c]) t.true(verifyRecord(r, cache));
  t.is(cache.size, 2);
  t.true(verifyRecord(c, cache));
  t.is(cache.hits, 1);
  t.true(verifyRecord(a, cache)); // evicted: checked again
  t.is(cache.misses, 4);
});
