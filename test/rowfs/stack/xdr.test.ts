// XDR reader/writer (RFC 4506): round trips, every error case, and random input.
import test from 'ava';
import fc from 'fast-check';
import { XdrError } from '../../../rowfs/xdr/errors.js';
import { XdrReader } from '../../../rowfs/xdr/reader.js';
import { XdrWriter, decodeXdr, encodeXdr } from '../../../rowfs/xdr/writer.js';
import { decodeSafely, roundTrip, type Dec, type Enc } from './codec-helpers.js';

interface Sample {
  u: number;
  i: number;
  h: bigint;
  sh: bigint;
  b: boolean;
  fixed: Uint8Array;
  op: Uint8Array;
  s: string;
  opt?: number;
  arr: number[];
  list: string[];
}
const encSample: Enc<Sample> = (w, v) => {
  w.uint32(v.u).int32(v.i).uint64(v.h).int64(v.sh).bool(v.b).fixedOpaque(v.fixed, 5).opaque(v.op, 100).string(v.s, 200);
  w.optional(v.opt, (w, x) => w.uint32(x));
  w.array(v.arr, 10, (w, x) => w.uint32(x));
  w.list(v.list, 10, (w, x) => w.string(x, 50));
};
const decSample: Dec<Sample> = (r) => {
  const v: Sample = {
    u: r.uint32(),
    i: r.int32(),
    h: r.uint64(),
    sh: r.int64(),
    b: r.bool(),
    fixed: r.fixedOpaque(5),
    op: r.opaque(100),
    s: r.string(200),
    arr: [],
    list: [],
  };
  const opt = r.optional((r) => r.uint32());
  if (opt !== undefined) v.opt = opt;
  v.arr = r.array(10, (r) => r.uint32());
  v.list = r.list(10, (r) => r.string(50));
  return v;
};
const sampleArb: fc.Arbitrary<Sample> = fc.record(
  {
    u: fc.integer({ min: 0, max: 0xffffffff }),
    i: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
    h: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    sh: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
    b: fc.boolean(),
    fixed: fc.uint8Array({ minLength: 5, maxLength: 5 }),
    op: fc.uint8Array({ maxLength: 100 }),
    s: fc.string({ maxLength: 40 }),
    opt: fc.integer({ min: 0, max: 0xffffffff }),
    arr: fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 10 }),
    list: fc.array(fc.string({ maxLength: 10 }), { maxLength: 10 }),
  },
  { requiredKeys: ['u', 'i', 'h', 'sh', 'b', 'fixed', 'op', 's', 'arr', 'list'] },
);

test('round trip of every primitive (property)', (t) => {
  fc.assert(fc.property(sampleArb, (v) => roundTrip(t, encSample, decSample, v)), { numRuns: 300 });
});

test('known encodings: uint32, padding of opaque and string, bool, hyper', (t) => {
  const w = new XdrWriter();
  w.uint32(0x01020304).opaque(Uint8Array.of(9), 10).string('ab', 10).bool(true).int64(-1n);
  t.deepEqual(
    [...w.bytes()],
    [1, 2, 3, 4, 0, 0, 0, 1, 9, 0, 0, 0, 0, 0, 0, 2, 97, 98, 0, 0, 0, 0, 0, 1, 255, 255, 255, 255, 255, 255, 255, 255],
  );
  t.deepEqual(decodeXdr((r) => r.uint32(), encodeXdr((w, v: number) => w.uint32(v), 7)), 7);
});

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    if (!(e instanceof XdrError)) throw e;
    return e.code;
  }
}

test('reader errors: short buffer, non-zero padding, too long, bad bool/enum, trailing bytes', (t) => {
  t.is(code(() => new XdrReader(Uint8Array.of(0, 0, 1)).uint32()), 'SHORT_BUFFER');
  t.is(code(() => new XdrReader(new Uint8Array(7)).uint64()), 'SHORT_BUFFER');
  t.is(code(() => new XdrReader(Uint8Array.of(0, 0, 0, 1, 7, 0, 1, 0)).opaque()), 'NONZERO_PADDING');
  t.is(code(() => new XdrReader(Uint8Array.of(0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 0)).opaque(8)), 'TOO_LONG');
  t.is(code(() => new XdrReader(Uint8Array.of(0xff, 0xff, 0xff, 0xff)).opaque()), 'SHORT_BUFFER');
  t.is(code(() => new XdrReader(Uint8Array.of(0, 0, 0, 2)).bool()), 'BAD_VALUE');
  t.is(code(() => new XdrReader(Uint8Array.of(0, 0, 0, 9)).enumOf(new Set([1, 2]), 'x')), 'BAD_VALUE');
  t.is(code(() => decodeXdr((r) => r.uint32(), new Uint8Array(8))), 'TRAILING_BYTES');
  // A huge declared array count is refused before any allocation.
  t.is(code(() => new XdrReader(Uint8Array.of(0x00, 0xff, 0xff, 0xff)).array(1 << 30, (r) => r.uint32())), 'SHORT_BUFFER');
  t.is(code(() => new XdrReader(Uint8Array.of(0, 0, 0, 11)).array(10, (r) => r.uint32())), 'TOO_LONG');
  // A list longer than its cap.
  const w = new XdrWriter();
  for (let i = 0; i < 4; i++) w.bool(true).uint32(i);
  w.bool(false);
  t.is(code(() => new XdrReader(w.bytes()).list(3, (r) => r.uint32())), 'TOO_LONG');
});

test('writer errors: out-of-range numbers, too-long items, wrong fixed length', (t) => {
  t.is(code(() => new XdrWriter().uint32(-1)), 'BAD_VALUE');
  t.is(code(() => new XdrWriter().uint32(2 ** 32)), 'BAD_VALUE');
  t.is(code(() => new XdrWriter().uint32(1.5)), 'BAD_VALUE');
  t.is(code(() => new XdrWriter().int32(2 ** 31)), 'BAD_VALUE');
  t.is(code(() => new XdrWriter().uint64(-1n)), 'BAD_VALUE');
  t.is(code(() => new XdrWriter().uint64(1n << 64n)), 'BAD_VALUE');
  t.is(code(() => new XdrWriter().opaque(new Uint8Array(5), 4)), 'TOO_LONG');
  t.is(code(() => new XdrWriter().string('abcde', 4)), 'TOO_LONG');
  t.is(code(() => new XdrWriter().fixedOpaque(new Uint8Array(3), 4)), 'BAD_VALUE');
  t.is(code(() => new XdrWriter().array([1, 2, 3], 2, (w, x) => w.uint32(x))), 'TOO_LONG');
});

test('writer grows and keeps a reserved prefix for framing', (t) => {
  const w = new XdrWriter(16, 4);
  const big = new Uint8Array(10_000).fill(3);
  w.opaque(big);
  t.is(w.bytes().length, 10_004);
  t.is(w.framed().length, 10_008);
  t.deepEqual(w.bytes().subarray(4), big);
});

test('fuzz: random bytes decode to a value or throw XdrError', (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => decodeSafely(decSample, bytes)), { numRuns: 2000 });
  t.pass();
});

test('small writers cut from a shared slab keep their own bytes: no overlap, growth moves out, padding is zero', (t) => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 3000 }), fc.uint8Array({ maxLength: 5000 })), { minLength: 1, maxLength: 80 }), (specs) => {
      const writers = specs.map(([initial, data], i) => {
        const w = new XdrWriter(initial, 4);
        w.uint32(i).opaque(data);
        return { w, i, data };
      });
      // Every writer still decodes to what it wrote after all the others wrote theirs.
      for (const { w, i, data } of writers) {
        const r = new XdrReader(w.bytes());
        if (r.uint32() !== i) return false;
        if (!Buffer.from(r.opaque()).equals(Buffer.from(data))) return false;
        const b = w.bytes();
        for (let k = 8 + data.length; k < b.length; k++) if (b[k] !== 0) return false;
      }
      return true;
    }),
  );
  t.pass();
});
