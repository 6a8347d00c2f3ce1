// Relay header and relay query codecs: round trips, listed hostile inputs, and fuzzing (decoding
// random or mutated bytes returns a value or throws RelayCodecError, nothing else).
import test from 'ava';
import fc from 'fast-check';
import { RING_SIZE } from '../../overlay/ring/ring.js';
import {
  decodeRelay,
  encodeClose,
  encodeRelay,
  MAX_RELAY_PAYLOAD_BYTES,
  RELAY_HEADER_BYTES,
  RELAY_OP_ACCEPT,
  RELAY_OP_CLOSE,
  RELAY_OP_CONTROL,
  RELAY_OP_DATA,
  RELAY_OP_INVITE,
  RELAY_OP_OPEN,
  RelayCloseReason,
  RelayCodecError,
  withPeer,
  type RelayHeader,
} from '../../overlay/relay/relay-header.js';
import { decodeRelayMessage, encodeRelayMessage, RELAY_ANSWER, RELAY_QUERY, type RelayRoutedMessage } from '../../overlay/relay/relay-messages.js';

const address = fc.bigInt({ min: 0n, max: RING_SIZE - 1n });
const tunnel = fc.integer({ min: 0, max: 0xffffffff });

const message: fc.Arbitrary<{ h: RelayHeader; payload: Uint8Array }> = fc.oneof(
  fc.record({ h: fc.record({ op: fc.constantFrom(RELAY_OP_OPEN, RELAY_OP_INVITE, RELAY_OP_ACCEPT) as fc.Arbitrary<RelayHeader['op']>, tunnel, peer: address }), payload: fc.uint8Array({ minLength: 32, maxLength: 32 }) }),
  fc.record({ h: fc.record({ op: fc.constantFrom(RELAY_OP_CONTROL, RELAY_OP_DATA) as fc.Arbitrary<RelayHeader['op']>, tunnel, peer: address }), payload: fc.uint8Array({ maxLength: 400 }) }),
  fc.record({ h: fc.record({ op: fc.constant(RELAY_OP_CLOSE) as fc.Arbitrary<RelayHeader['op']>, tunnel, peer: address }), payload: fc.integer({ min: 1, max: 7 }).map((r) => Uint8Array.of(r)) }),
);

function decodesOrCodecError(bytes: Uint8Array, decode: (b: Uint8Array) => unknown): void {
  try {
    decode(bytes);
  } catch (err) {
    if (!(err instanceof RelayCodecError)) throw err;
  }
}

test('relay header round trip, also at an offset inside a larger buffer', (t) => {
  fc.assert(
    fc.property(message, fc.nat(16), ({ h, payload }, offset) => {
      const bytes = encodeRelay(h, payload);
      t.is(bytes.length, RELAY_HEADER_BYTES + payload.length);
      const shifted = new Uint8Array(offset + bytes.length);
      shifted.set(bytes, offset);
      for (const b of [bytes, shifted.subarray(offset)]) {
        const m = decodeRelay(b);
        t.deepEqual({ op: m.op, tunnel: m.tunnel, peer: m.peer }, h);
        t.deepEqual(Array.from(m.payload), Array.from(payload));
        t.deepEqual(Array.from(encodeRelay(m, m.payload)), Array.from(bytes));
      }
    }),
  );
});

test('withPeer rewrites only the peer field; the payload passes untouched', (t) => {
  fc.assert(
    fc.property(message, address, ({ h, payload }, other) => {
      const bytes = encodeRelay(h, payload);
      const fwd = withPeer(bytes, other);
      const m = decodeRelay(fwd);
      t.is(m.peer, other);
      t.is(m.op, h.op);
      t.is(m.tunnel, h.tunnel);
      t.deepEqual(Array.from(m.payload), Array.from(payload));
      t.is(decodeRelay(bytes).peer, h.peer); // the input is not modified
    }),
  );
});

test('hostile relay headers are refused with RelayCodecError', (t) => {
  const ok = encodeRelay({ op: RELAY_OP_CONTROL, tunnel: 7, peer: 5n }, Uint8Array.of(1, 2));
  const cases: Array<[string, Uint8Array]> = [
    ['empty', new Uint8Array(0)],
    ['truncated header', ok.subarray(0, RELAY_HEADER_BYTES - 1)],
    ['unknown op 0', Uint8Array.from([0, ...ok.subarray(1)])],
    ['unknown op 0x56 (an IP frame)', Uint8Array.from([0x56, ...ok.subarray(1)])],
    ['OPEN without a key', Uint8Array.from([RELAY_OP_OPEN, ...ok.subarray(1, RELAY_HEADER_BYTES)])],
    ['OPEN with a 2-byte key', Uint8Array.from([RELAY_OP_OPEN, ...ok.subarray(1)])],
    ['INVITE with a 2-byte key', Uint8Array.from([RELAY_OP_INVITE, ...ok.subarray(1)])],
    ['ACCEPT with a 33-byte key', Uint8Array.from([RELAY_OP_ACCEPT, ...ok.subarray(1, RELAY_HEADER_BYTES), ...new Uint8Array(33)])],
    ['CLOSE without a reason', Uint8Array.from([RELAY_OP_CLOSE, ...ok.subarray(1, RELAY_HEADER_BYTES)])],
    ['CLOSE with two bytes', Uint8Array.from([RELAY_OP_CLOSE, ...ok.subarray(1)])],
    ['CLOSE with unknown reason', Uint8Array.from([RELAY_OP_CLOSE, ...ok.subarray(1, RELAY_HEADER_BYTES), 99])],
    ['oversized payload', new Uint8Array(RELAY_HEADER_BYTES + MAX_RELAY_PAYLOAD_BYTES + 1).fill(RELAY_OP_DATA, 0, 1)],
  ];
  for (const [name, bytes] of cases) t.throws(() => decodeRelay(bytes), { instanceOf: RelayCodecError }, name);
  t.throws(() => encodeRelay({ op: 9 as never, tunnel: 1, peer: 1n }), { instanceOf: RelayCodecError });
  t.throws(() => encodeRelay({ op: RELAY_OP_OPEN, tunnel: 2 ** 32, peer: 1n }, new Uint8Array(32)), { instanceOf: RelayCodecError });
  t.throws(() => encodeRelay({ op: RELAY_OP_OPEN, tunnel: 1, peer: RING_SIZE }, new Uint8Array(32)), { instanceOf: RelayCodecError });
  t.throws(() => encodeRelay({ op: RELAY_OP_OPEN, tunnel: 1, peer: 1n }), { instanceOf: RelayCodecError });
  t.is(decodeRelay(encodeClose(3, 4n, RelayCloseReason.Busy)).payload[0], RelayCloseReason.Busy);
});

test('fuzz: random and mutated relay headers decode or throw RelayCodecError', (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), (b) => decodesOrCodecError(b, decodeRelay)), { numRuns: 3000 });
  fc.assert(
    fc.property(message, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat(), ({ h, payload }, flips, cut) => {
      const b = encodeRelay(h, payload);
      for (const [i, v] of flips) b[i % b.length] = v;
      decodesOrCodecError(b.subarray(0, cut % (b.length + 1)), decodeRelay);
      decodesOrCodecError(b, decodeRelay);
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

const routed: fc.Arbitrary<RelayRoutedMessage> = fc.oneof(
  fc.record({ type: fc.constant(RELAY_QUERY as typeof RELAY_QUERY), id: tunnel }),
  fc.record({
    type: fc.constant(RELAY_ANSWER as typeof RELAY_ANSWER),
    id: tunnel,
    neighbours: fc.array(fc.record({ address, rttMs: fc.integer({ min: 0, max: 0xfffe }) }, { requiredKeys: ['address'] }), { maxLength: 64 }),
  }),
);

test('relay query/answer round trip; hostile inputs and fuzz only ever give RelayCodecError', (t) => {
  fc.assert(
    fc.property(routed, (m) => {
      t.deepEqual(decodeRelayMessage(encodeRelayMessage(m)), m);
    }),
  );
  const answer = encodeRelayMessage({ type: RELAY_ANSWER, id: 1, neighbours: [{ address: 3n, rttMs: 4 }] });
  const cases: Array<[string, Uint8Array]> = [
    ['empty', new Uint8Array(0)],
    ['query too long', Uint8Array.of(RELAY_QUERY, 0, 0, 0, 1, 0)],
    ['unknown type', Uint8Array.of(9, 0, 0, 0, 1)],
    ['answer count says 2, has 1', Uint8Array.from([...answer.subarray(0, 5), 2, ...answer.subarray(6)])],
    ['answer count 65', Uint8Array.from([...answer.subarray(0, 5), 65])],
    ['answer trailing byte', Uint8Array.from([...answer, 0])],
  ];
  for (const [name, bytes] of cases) t.throws(() => decodeRelayMessage(bytes), { instanceOf: RelayCodecError }, name);
  t.throws(() => encodeRelayMessage({ type: RELAY_ANSWER, id: 1, neighbours: Array.from({ length: 65 }, () => ({ address: 1n })) }), { instanceOf: RelayCodecError });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => decodesOrCodecError(b, decodeRelayMessage)), { numRuns: 3000 });
  // An unknown RTT (or one too large for the field) travels as "unknown".
  t.deepEqual(decodeRelayMessage(encodeRelayMessage({ type: RELAY_ANSWER, id: 2, neighbours: [{ address: 1n, rttMs: 70_000 }, { address: 2n }] })), {
    type: RELAY_ANSWER,
    id: 2,
    neighbours: [{ address: 1n }, { address: 2n }],
  });
});
