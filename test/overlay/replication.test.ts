// Re-replication planning (pure): who pushes which copy to whom when the replica set changes.
import test from 'ava';
import { Identity } from '../../overlay/identity.js';
import { RecordStore } from '../../overlay/dht/record-store.js';
import { signRecord } from '../../overlay/dht/record.js';
import { planPushes, replicaSet } from '../../overlay/dht/replication.js';
import { keyToAddress, ringAdd } from '../../overlay/ring/ring.js';
import type { RingAddress } from '../../overlay/ring/ring.js';

const owner = Identity.fromSeed(new Uint8Array(32).fill(9));
const key = new TextEncoder().encode('images/debian/latest');
const pos = keyToAddress(key);
const at = (offset: number): RingAddress => ringAdd(pos, BigInt(offset));
const record = (seq: number) => signRecord(owner, { key, value: new TextEncoder().encode(`v${seq}`), ttlMs: 60_000, seq, tombstone: false });

/** A node's view: its linked peers, closest to a position first (like ConnectionTable.closestN). */
const view = (peers: RingAddress[]) => (position: RingAddress, n: number) => replicaSet(position, -1n, peers, n).filter((p) => p !== -1n);

function storeWith(seq: number): RecordStore {
  const s = new RecordStore();
  s.apply(record(seq), 60_000, 0, false);
  return s;
}

test('replica set: the r closest among self and peers, closest first, self counted once', (t) => {
  t.deepEqual(replicaSet(pos, at(5), [at(-1), at(30), at(2), at(-7)], 3), [at(-1), at(2), at(5)]);
  t.deepEqual(replicaSet(pos, at(5), [at(5), at(40)], 3), [at(5), at(40)]);
});

test('a member pushes to the other members once; a new closer node gets the copy, nobody gets it twice', (t) => {
  const self = at(1);
  const s = storeWith(1);
  let plan = planPushes(s.slotsView(), self, view([at(-2), at(3), at(50)]), 3, 1_000);
  t.deepEqual([...plan.batches.keys()].sort(), [at(-2), at(3)].sort());
  t.is(plan.handedOff, 0);
  // Nothing changed: nothing sent.
  t.is(planPushes(s.slotsView(), self, view([at(-2), at(3), at(50)]), 3, 1_000).batches.size, 0);
  // A node joins between us and the key: only it gets the copy.
  plan = planPushes(s.slotsView(), self, view([at(-2), at(3), at(50), at(0)]), 3, 2_000);
  t.deepEqual([...plan.batches.keys()], [at(0)]);
  t.is(plan.batches.get(at(0))![0]!.ttlLeftMs, 58_000);
});

test('a holder outside the replica set hands its copy to the members it sees (a put that landed before the ring settled)', (t) => {
  const self = at(100); // far from the key: it took the copy while it believed itself closest
  const s = storeWith(1);
  const plan = planPushes(s.slotsView(), self, view([at(1), at(-1), at(4), at(200)]), 3, 0);
  t.deepEqual([...plan.batches.keys()].sort(), [at(1), at(-1), at(4)].sort());
  t.is(plan.handedOff, 1);
  t.is(s.lookup(key, 0).length, 1, 'it keeps its own copy until expiry');
});

test('peers known to hold the version (they sent it, or acknowledged it) are skipped; a newer version goes out again', (t) => {
  const self = at(1);
  const s = storeWith(1);
  s.notePeerHas(record(1), at(-2));
  let plan = planPushes(s.slotsView(), self, view([at(-2), at(3)]), 3, 0);
  t.deepEqual([...plan.batches.keys()], [at(3)]);
  s.apply(record(2), 60_000, 0, false);
  plan = planPushes(s.slotsView(), self, view([at(-2), at(3)]), 3, 0);
  t.deepEqual([...plan.batches.keys()].sort(), [at(-2), at(3)].sort());
  t.is(plan.batches.get(at(3))![0]!.record.seq, 2);
  // A note about an older version does not mark the newer one.
  s.notePeerHas(record(1), at(7));
  t.is(planPushes(s.slotsView(), self, view([at(7)]), 3, 0).batches.size, 1);
});

test('expired copies are not pushed', (t) => {
  const s = storeWith(1);
  t.is(planPushes(s.slotsView(), at(1), view([at(2), at(3)]), 3, 60_000).batches.size, 0);
});
