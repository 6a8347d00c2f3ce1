// The peer block protocol's codec: round trips at an offset (the one codec shape), hostile bytes
// (random, truncated, oversized counts and lengths) decode to a message or throw PeerCodecError only;
// framing (readFrames) yields the same messages however the stream is cut, and stops at a destroy.
import test from 'ava';
import fc from 'fast-check';
import { EventEmitter } from 'node:events';
import { frame, readFrames } from '../../../rowfs/peer/frames.js';
import { peerCodec, encodePeerMessage, decodePeerMessage, PeerCodecError, PeerStatus, MAX_BLOCKS_PER_REQUEST, FILE_ID_BYTES, type PeerMessage } from '../../../rowfs/peer/peer-codec.js';

const messageArb: fc.Arbitrary<PeerMessage> = fc.oneof(
  fc.record({
    type: fc.constant('get' as const),
    id: fc.nat(),
    file: fc.uint8Array({ minLength: FILE_ID_BYTES, maxLength: FILE_ID_BYTES }),
    first: fc.nat(),
    count: fc.integer({ min: 1, max: MAX_BLOCKS_PER_REQUEST }),
  }),
  fc.record({
    type: fc.constant('blocks' as const),
    id: fc.nat(),
    status: fc.constantFrom(PeerStatus.OK, PeerStatus.BUSY),
    first: fc.nat(),
    blocks: fc.array(fc.option(fc.uint8Array({ maxLength: 300 }), { nil: undefined }), { minLength: 1, maxLength: MAX_BLOCKS_PER_REQUEST }),
  }),
);

test('every message round-trips, encoded at an offset of a dirty buffer', (t) => {
  fc.assert(
    fc.property(messageArb, fc.nat(16), (m, at) => {
      const length = peerCodec.encodingLength(m);
      const out = new Uint8Array(at + length).fill(0xee);
      if (peerCodec.encodeInto(m, out, at) !== length) return false;
      if (!out.subarray(0, at).every((b) => b === 0xee)) return false;
      const { value, bytesUsed } = peerCodec.decodeAt(out, at);
      return bytesUsed === length && Buffer.from(encodePeerMessage(value)).equals(Buffer.from(out.subarray(at)));
    }),
    { numRuns: 500 },
  );
  t.pass();
});

test('random and mangled bytes decode to a message or throw PeerCodecError, nothing else', (t) => {
  const onlyCodecErrors = (bytes: Uint8Array) => {
    try {
      decodePeerMessage(bytes);
    } catch (e) {
      if (!(e instanceof PeerCodecError)) throw e;
    }
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (b) => onlyCodecErrors(b)), { numRuns: 3000 });
  fc.assert(
    fc.property(messageArb, fc.nat(), fc.nat(255), (m, where, value) => {
      const bytes = encodePeerMessage(m);
      onlyCodecErrors(bytes.subarray(0, where % (bytes.length + 1))); // truncated
      const flipped = new Uint8Array(bytes);
      flipped[where % flipped.length] = value;
      onlyCodecErrors(flipped);
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('attack inputs one by one: each refused with its code', (t) => {
  const get = encodePeerMessage({ type: 'get', id: 1, file: new Uint8Array(FILE_ID_BYTES), first: 0, count: 1 });
  const code = (b: Uint8Array) => t.throws(() => decodePeerMessage(b), { instanceOf: PeerCodecError })!.code;
  t.is(code(new Uint8Array(0)), 'TRUNCATED');
  t.is(code(Uint8Array.of(9)), 'BAD_TYPE');
  t.is(code(get.subarray(0, get.length - 1)), 'TRUNCATED');
  t.is(code(Uint8Array.of(...get, 0)), 'TRAILING');
  const zeroCount = new Uint8Array(get);
  zeroCount[get.length - 1] = 0;
  t.is(code(zeroCount), 'BAD_VALUE');
  const manyBlocks = new Uint8Array(get);
  new DataView(manyBlocks.buffer).setUint16(get.length - 2, MAX_BLOCKS_PER_REQUEST + 1);
  t.is(code(manyBlocks), 'BAD_VALUE');
  // A reply claiming a block longer than any block size, or longer than what follows.
  const reply = encodePeerMessage({ type: 'blocks', id: 1, status: PeerStatus.OK, first: 0, blocks: [Uint8Array.of(1, 2, 3)] });
  const huge = new Uint8Array(reply);
  new DataView(huge.buffer).setUint32(12, 2 ** 21);
  t.is(code(huge), 'BAD_VALUE');
  const long = new Uint8Array(reply);
  new DataView(long.buffer).setUint32(12, 4);
  t.is(code(long), 'TRUNCATED');
  const status = new Uint8Array(reply);
  status[5] = 7;
  t.is(code(status), 'BAD_VALUE');
  t.throws(() => encodePeerMessage({ type: 'get', id: 1, file: new Uint8Array(19), first: 0, count: 1 }), { instanceOf: RangeError });
  t.throws(() => encodePeerMessage({ type: 'blocks', id: 1, status: PeerStatus.OK, first: 0, blocks: [] }), { instanceOf: RangeError });
});

/** A stream stand-in: chunks are emitted by hand; `destroy` as a socket's. */
class FakeStream extends EventEmitter {
  destroyed = false;
}

test('readFrames: the same messages in order however the stream is cut into chunks', (t) => {
  fc.assert(
    fc.property(fc.array(messageArb, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), (ms, cuts) => {
      const stream = Buffer.concat(ms.map(frame));
      const at = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
      const src = new FakeStream();
      const got: PeerMessage[] = [];
      let bad = 0;
      readFrames(src, 1 << 20, (m) => got.push(m), () => bad++);
      let from = 0;
      for (const c of [...at, stream.length]) {
        src.emit('data', stream.subarray(from, c));
        from = c;
      }
      return bad === 0 && got.length === ms.length && got.every((m, i) => Buffer.from(encodePeerMessage(m)).equals(Buffer.from(encodePeerMessage(ms[i]!))));
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('readFrames: a handler that destroys the stream gets no more messages, even from the same chunk', (t) => {
  const src = new FakeStream();
  const got: number[] = [];
  readFrames(src, 1 << 20, (m) => {
    got.push(m.id);
    src.destroyed = true;
  }, () => t.fail());
  const get = (id: number) => frame({ type: 'get', id, file: new Uint8Array(FILE_ID_BYTES), first: 0, count: 1 });
  src.emit('data', Buffer.concat([get(1), get(2), get(3)]));
  src.emit('data', get(4));
  t.deepEqual(got, [1]);
});
