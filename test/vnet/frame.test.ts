import test from 'ava';
import fc from 'fast-check';
import { decodeFrame, encodeFrame, frameEncodingLength, FrameError, FrameKind, FRAME_HEADER_BYTES, type Frame } from '../../src/forwarder/frame.js';

const vip = fc.nat({ max: 0xffffffff });
const single = fc.record({ kind: fc.constant(FrameKind.Ipv4), sourceVip: vip, destVip: vip, packets: fc.tuple(fc.uint8Array({ maxLength: 2000 })).map((t) => [...t]) });
const bundle = fc.record({ kind: fc.constant(FrameKind.Ipv4Bundle), sourceVip: vip, destVip: vip, packets: fc.array(fc.uint8Array({ minLength: 1, maxLength: 600 }), { minLength: 1, maxLength: 8 }) });
const frameArb: fc.Arbitrary<Frame> = fc.oneof(single, bundle);

const same = (a: Frame, b: Frame) =>
  a.kind === b.kind && a.sourceVip === b.sourceVip && a.destVip === b.destVip && a.packets.length === b.packets.length && a.packets.every((p, i) => Buffer.from(p).equals(Buffer.from(b.packets[i]!)));

test('round trip: decode(encode(x)) = x, lengths agree, re-encoding is identical (single and bundle)', (t) => {
  fc.assert(
    fc.property(frameArb, (f) => {
      const bytes = encodeFrame(f);
      if (bytes.length !== frameEncodingLength(f)) return false;
      const back = decodeFrame(bytes);
      return same(back, f) && Buffer.from(encodeFrame(back)).equals(Buffer.from(bytes));
    }),
  );
  t.pass();
});

test('encoding at an offset into a larger buffer', (t) => {
  const f: Frame = { kind: FrameKind.Ipv4Bundle, sourceVip: 0x0a800001, destVip: 0x0a800002, packets: [new Uint8Array([1, 2, 3]), new Uint8Array([4])] };
  const out = new Uint8Array(7 + frameEncodingLength(f)).fill(0xee);
  encodeFrame(f, out, 7);
  t.deepEqual([...out.subarray(0, 7)], [0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee]);
  t.true(same(decodeFrame(out, 7), f));
  t.throws(() => encodeFrame(f, new Uint8Array(10)), { instanceOf: RangeError });
});

test('the header layout is fixed: 12 bytes, big-endian vIPs; bundle entries are u16-length prefixed', (t) => {
  t.is(FRAME_HEADER_BYTES, 12);
  const one = encodeFrame({ kind: FrameKind.Ipv4, sourceVip: 0x0a800001, destVip: 0x0a8000ff, packets: [new Uint8Array([9])] });
  t.deepEqual([...one], [0x56, 1, 0, 0, 10, 128, 0, 1, 10, 128, 0, 255, 9]);
  const two = encodeFrame({ kind: FrameKind.Ipv4Bundle, sourceVip: 1, destVip: 2, packets: [new Uint8Array([7]), new Uint8Array([8, 9])] });
  t.deepEqual([...two.subarray(2, 3)], [1]);
  t.deepEqual([...two.subarray(12)], [0, 1, 7, 0, 2, 8, 9]);
});

test('hostile inputs are refused with FrameError; what cannot be encoded gets RangeError', (t) => {
  const good = encodeFrame({ kind: FrameKind.Ipv4, sourceVip: 1, destVip: 2, packets: [new Uint8Array(20)] });
  const header = good.subarray(0, 12);
  const bundleOf = (body: number[]) => Uint8Array.from([...header.subarray(0, 2), 1, 0, ...header.subarray(4), ...body]);
  const cases: Array<[string, Uint8Array]> = [
    ['empty', new Uint8Array(0)],
    ['short header', good.subarray(0, 11)],
    ['bad magic', Uint8Array.from(good, (b, i) => (i === 0 ? 0x57 : b))],
    ['future version', Uint8Array.from(good, (b, i) => (i === 1 ? 2 : b))],
    ['unknown kind', Uint8Array.from(good, (b, i) => (i === 2 ? 7 : b))],
    ['reserved flags set', Uint8Array.from(good, (b, i) => (i === 3 ? 1 : b))],
    ['empty bundle', bundleOf([])],
    ['bundle entry header cut', bundleOf([0])],
    ['bundle entry longer than the message', bundleOf([0, 5, 1, 2])],
    ['zero-length bundle entry', bundleOf([0, 0])],
  ];
  for (const [name, bytes] of cases) t.throws(() => decodeFrame(bytes), { instanceOf: FrameError }, name);
  t.throws(() => encodeFrame({ kind: FrameKind.Ipv4, sourceVip: 1, destVip: 2, packets: [new Uint8Array(70000)] }), { instanceOf: RangeError });
  t.throws(() => encodeFrame({ kind: FrameKind.Ipv4, sourceVip: 1, destVip: 2, packets: [new Uint8Array(1), new Uint8Array(1)] }), { instanceOf: RangeError });
  t.throws(() => encodeFrame({ kind: FrameKind.Ipv4Bundle, sourceVip: 1, destVip: 2, packets: [] }), { instanceOf: RangeError });
});

test('fuzz: decoding random or mutated bytes returns a frame or throws FrameError', (t) => {
  const check = (bytes: Uint8Array) => {
    try {
      decodeFrame(bytes);
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
    }
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => check(b)), { numRuns: 2000 });
  fc.assert(
    fc.property(frameArb, fc.nat(), fc.nat({ max: 255 }), (f, pos, val) => {
      const bytes = encodeFrame(f);
      bytes[pos % bytes.length] = val;
      check(bytes);
      check(bytes.subarray(0, pos % bytes.length)); // truncated
    }),
    { numRuns: 2000 },
  );
  t.pass();
});
