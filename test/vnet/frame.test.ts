import test from 'ava';
import fc from 'fast-check';
import { decodeFrame, encodeFrame, frameEncodingLength, FrameError, FrameKind, FRAME_HEADER_BYTES, type Frame } from '../../src/forwarder/frame.js';

const frameArb = fc.record({
  kind: fc.constant(FrameKind.Ipv4),
  sourceVip: fc.nat({ max: 0xffffffff }),
  destVip: fc.nat({ max: 0xffffffff }),
  packet: fc.uint8Array({ maxLength: 2000 }),
});

function sameFrame(t: import('ava').ExecutionContext, a: Frame, b: Frame) {
  t.is(a.kind, b.kind);
  t.is(a.sourceVip, b.sourceVip);
  t.is(a.destVip, b.destVip);
  t.deepEqual(Buffer.from(a.packet), Buffer.from(b.packet));
}

test('round trip: decode(encode(x)) = x, lengths agree, re-encoding is identical', (t) => {
  fc.assert(
    fc.property(frameArb, (f) => {
      const bytes = encodeFrame(f);
      if (bytes.length !== frameEncodingLength(f)) return false;
      const back = decodeFrame(bytes);
      return back.sourceVip === f.sourceVip && back.destVip === f.destVip && Buffer.from(back.packet).equals(Buffer.from(f.packet)) && Buffer.from(encodeFrame(back)).equals(Buffer.from(bytes));
    }),
  );
  t.pass();
});

test('encoding at an offset into a larger buffer', (t) => {
  const f: Frame = { kind: FrameKind.Ipv4, sourceVip: 0x0a800001, destVip: 0x0a800002, packet: new Uint8Array([1, 2, 3]) };
  const out = new Uint8Array(7 + frameEncodingLength(f)).fill(0xee);
  encodeFrame(f, out, 7);
  t.deepEqual([...out.subarray(0, 7)], [0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee]);
  sameFrame(t, decodeFrame(out, 7), f);
  t.throws(() => encodeFrame(f, new Uint8Array(10)), { instanceOf: FrameError });
});

test('the header layout is fixed: 12 bytes, big-endian vIPs', (t) => {
  const bytes = encodeFrame({ kind: FrameKind.Ipv4, sourceVip: 0x0a800001, destVip: 0x0a8000ff, packet: new Uint8Array([9]) });
  t.is(FRAME_HEADER_BYTES, 12);
  t.deepEqual([...bytes], [0x56, 1, 0, 0, 10, 128, 0, 1, 10, 128, 0, 255, 9]);
});

test('hostile inputs are refused with FrameError', (t) => {
  const good = encodeFrame({ kind: FrameKind.Ipv4, sourceVip: 1, destVip: 2, packet: new Uint8Array(20) });
  const cases: Array<[string, Uint8Array]> = [
    ['empty', new Uint8Array(0)],
    ['short header', good.subarray(0, 11)],
    ['bad magic', Uint8Array.from(good, (b, i) => (i === 0 ? 0x57 : b))],
    ['future version', Uint8Array.from(good, (b, i) => (i === 1 ? 2 : b))],
    ['unknown kind', Uint8Array.from(good, (b, i) => (i === 2 ? 7 : b))],
    ['reserved flags set', Uint8Array.from(good, (b, i) => (i === 3 ? 1 : b))],
  ];
  for (const [name, bytes] of cases) t.throws(() => decodeFrame(bytes), { instanceOf: FrameError }, name);
  t.throws(() => encodeFrame({ kind: FrameKind.Ipv4, sourceVip: 1, destVip: 2, packet: new Uint8Array(70000) }), { instanceOf: FrameError });
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
    }),
    { numRuns: 2000 },
  );
  t.pass();
});
