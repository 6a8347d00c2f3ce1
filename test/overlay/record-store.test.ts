// DHT storage rules, pure: create conflicts, owner refresh, TTL expiry, signatures, versions, tombstones.
import test from 'ava';
import { Identity } from '../../overlay/identity.js';
import { mergeCopies, RecordStore } from '../../overlay/dht/record-store.js';
import { signRecord, verifyRecord, type SignedRecord } from '../../overlay/dht/record.js';

const alice = Identity.fromSeed(new Uint8Array(32).fill(1));
const bob = Identity.fromSeed(new Uint8Array(32).fill(2));
const key = new TextEncoder().encode('dhcp/net/10.0.0.7');
const rec = (who: Identity, value: string, seq: number, ttlMs = 10_000, tombstone = false): SignedRecord =>
  signRecord(who, { key, value: new TextEncoder().encode(value), ttlMs, seq, tombstone });
const values = (s: RecordStore, now: number) => s.lookup(key, now).filter((c) => !c.record.tombstone).map((c) => new TextDecoder().decode(c.record.value)).sort();

test('create fails while another owner holds a live value; the owner may refresh', (t) => {
  const s = new RecordStore();
  t.is(s.apply(rec(alice, 'a1', 1), 10_000, 0, true), 'stored');
  t.is(s.apply(rec(bob, 'b1', 1), 10_000, 100, true), 'conflict');
  t.is(s.apply(rec(alice, 'a2', 2), 10_000, 200, true), 'stored');
  t.deepEqual(values(s, 300), ['a2']);
  // After alice's value expires, bob's claim wins.
  t.is(s.apply(rec(bob, 'b2', 2), 10_000, 10_300, true), 'stored');
  t.deepEqual(values(s, 10_300), ['b2']);
});

test('put is not exclusive: values of several owners live side by side', (t) => {
  const s = new RecordStore();
  t.is(s.apply(rec(alice, 'a', 1), 10_000, 0, false), 'stored');
  t.is(s.apply(rec(bob, 'b', 1), 10_000, 0, false), 'stored');
  t.deepEqual(values(s, 1), ['a', 'b']);
  t.is(s.liveCount(1), 2);
});

test('TTL: values expire, and a replica never extends the signed lifetime', (t) => {
  const s = new RecordStore();
  s.apply(rec(alice, 'a', 1, 5_000), 1_000_000, 0, false);
  t.deepEqual(values(s, 4_999), ['a']);
  t.deepEqual(values(s, 5_000), []);
  s.expire(5_000);
  t.is(s.liveCount(5_000), 0);
  t.is(s.apply(rec(alice, 'a', 2, 5_000), 0, 6_000, false), 'invalid');
  t.is(s.apply(rec(alice, 'a', 3, 5_000), 1_000, 6_000, false), 'stored');
  t.is(s.lookup(key, 6_000)[0]!.ttlLeftMs, 1_000);
});

test('signatures: tampered values, swapped owners and foreign signatures are refused', (t) => {
  const s = new RecordStore();
  const good = rec(alice, 'a', 1);
  t.true(verifyRecord(good));
  t.is(s.apply({ ...good, value: new TextEncoder().encode('evil') }, 10_000, 0, false), 'invalid');
  t.is(s.apply({ ...good, owner: bob.publicKey }, 10_000, 0, false), 'invalid');
  t.is(s.apply({ ...good, ttlMs: 20_000 }, 10_000, 0, false), 'invalid');
  t.is(s.apply({ ...good, seq: 2 }, 10_000, 0, false), 'invalid');
  t.is(s.apply({ ...good, sig: new Uint8Array(64) }, 10_000, 0, false), 'invalid');
  t.is(s.liveCount(0), 0);
  t.is(s.apply(good, 10_000, 0, false), 'stored');
});

test('versions: older copies are stale, a tombstone hides the value and blocks resurrection', (t) => {
  const s = new RecordStore();
  t.is(s.apply(rec(alice, 'v2', 2), 10_000, 0, false), 'stored');
  t.is(s.apply(rec(alice, 'v1', 1), 10_000, 0, false), 'stale');
  t.is(s.apply(rec(alice, 'v2', 2), 20_000, 0, false), 'refreshed');
  t.is(s.apply(rec(alice, '', 3, 10_000, true), 10_000, 0, false), 'stored');
  t.deepEqual(values(s, 1), []);
  t.is(s.apply(rec(alice, 'v2', 2), 10_000, 1, false), 'stale');
  // A tombstone does not block another owner's create.
  t.is(s.apply(rec(bob, 'b', 1), 10_000, 1, true), 'stored');
});

test('drop undoes exactly one version; merge keeps each owner newest copy', (t) => {
  const s = new RecordStore();
  const a1 = rec(alice, 'a1', 1);
  s.apply(a1, 10_000, 0, false);
  s.drop(key, alice.publicKey, 99);
  t.deepEqual(values(s, 1), ['a1']);
  s.drop(key, alice.publicKey, 1);
  t.deepEqual(values(s, 1), []);
  const merged = mergeCopies([
    { record: a1, ttlLeftMs: 5 },
    { record: rec(alice, 'a2', 2), ttlLeftMs: 3 },
    { record: rec(bob, 'b', 1), ttlLeftMs: 9 },
  ]);
  t.deepEqual(merged.map((c) => new TextDecoder().decode(c.record.value)).sort(), ['a2', 'b']);
});
