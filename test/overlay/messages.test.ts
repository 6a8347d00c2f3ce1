// msgpack control and DHT messages: round trips and fuzzed rejection.
import test from 'ava';
import fc from 'fast-check';
import { Identity } from '../../overlay/identity.js';
import { decodeDhtMessage, encodeDhtMessage, type DhtMessage } from '../../overlay/dht/dht-messages.js';
import { signRecord } from '../../overlay/dht/record.js';
import { RING_SIZE } from '../../overlay/ring/ring.js';
import { decodeFind, decodeFound, encodeFind, encodeFound } from '../../overlay/wire/control.js';
import { pack } from '../../overlay/wire/msgpack.js';
import { WireError } from '../../overlay/wire/wire-error.js';

const owner = Identity.fromSeed(new Uint8Array(32).fill(3));
const record = signRecord(owner, { key: new Uint8Array([1, 2]), value: new Uint8Array([3]), ttlMs: 60_000, seq: 7, tombstone: false });

// Buffers (msgpack's byte strings) and Uint8Arrays compare as plain byte arrays.
const plain = (v: unknown) =>
  JSON.parse(JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? Array.from(x) : x?.type === 'Buffer' && Array.isArray(x.data) ? x.data : x)));

test('FIND and FOUND round-trip', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.array(fc.bigInt({ min: 0n, max: RING_SIZE - 1n }), { maxLength: 64 }), (id, near) => {
      t.deepEqual(decodeFind(encodeFind({ id })), { id });
      t.deepEqual(decodeFound(encodeFound({ id, near })), { id, near });
    }),
    { numRuns: 200 },
  );
});

test('every DHT message round-trips', (t) => {
  const msgs: DhtMessage[] = [
    { t: 'put', id: 1, record, exclusive: true },
    { t: 'get', id: 2, key: new Uint8Array([9]) },
    { t: 'get', id: 2, key: new Uint8Array([9]), quick: true },
    { t: 'ok', id: 3, copies: [{ record, ttlLeftMs: 500 }] },
    { t: 'err', id: 4, code: 'conflict' },
    { t: 'err', id: 4, code: 'stale', heldSeq: 12 },
    { t: 'store', id: 5, exclusive: false, copies: [{ record, ttlLeftMs: 1 }] },
    { t: 'stored', id: 6, outcomes: ['stored', 'conflict'] },
    { t: 'fetch', id: 7, key: new Uint8Array([1]) },
    { t: 'copies', id: 8, copies: [] },
    { t: 'drop', key: new Uint8Array([1]), owner: owner.publicKey, seq: 7 },
  ];
  for (const m of msgs) t.deepEqual(plain(decodeDhtMessage(encodeDhtMessage(m))), plain(m));
  // Remaining life is sent in whole milliseconds.
  const back = decodeDhtMessage(encodeDhtMessage({ t: 'copies', id: 1, copies: [{ record, ttlLeftMs: 10.7 }] }));
  t.is(back.t === 'copies' ? back.copies[0]!.ttlLeftMs : -1, 10);
});

function rejectsCleanly(decode: (b: Uint8Array) => unknown, b: Uint8Array): boolean {
  try {
    decode(b);
    return true;
  } catch (err) {
    return err instanceof WireError;
  }
}

test('random bytes and random msgpack values decode or throw WireError', (t) => {
  for (const decode of [decodeDhtMessage, decodeFind, decodeFound]) {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => rejectsCleanly(decode, b)), { numRuns: 2000 });
    fc.assert(fc.property(fc.anything(), (v) => rejectsCleanly(decode, pack(v))), { numRuns: 1000 });
  }
  const valid = encodeDhtMessage({ t: 'ok', id: 3, copies: [{ record, ttlLeftMs: 500 }] });
  fc.assert(
    fc.property(fc.nat(), fc.integer({ min: 0, max: 255 }), (pos, val) => {
      const m = Uint8Array.from(valid);
      m[pos % m.length] = val;
      return rejectsCleanly(decodeDhtMessage, m);
    }),
    { numRuns: 2000 },
  );
  t.throws(() => decodeDhtMessage(pack({ t: 'err', id: 1, e: 'nonsense' })), { instanceOf: WireError });
  t.throws(() => decodeDhtMessage(pack({ t: 'put', id: 1, x: true, r: { k: new Uint8Array(1) } })), { instanceOf: WireError });
  t.throws(() => decodeDhtMessage(pack([1, 2])), { instanceOf: WireError });
});
