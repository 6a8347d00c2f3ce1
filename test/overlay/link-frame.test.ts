// Link frame codec: round trips, and hostile input only ever yields a frame or a WireError.
import test from 'ava';
import fc from 'fast-check';
import { RING_SIZE } from '../../overlay/ring/ring.js';
import { decodeLinkFrame, encodeLinkFrame, withRoutedHops, FRAME_BYE, FRAME_LOCAL, FRAME_NEIGHBORS, FRAME_PING, FRAME_PONG, FRAME_ROUTED, FRAME_WANT, type LinkFrame } from '../../overlay/wire/link-frame.js';
import { WireError } from '../../overlay/wire/wire-error.js';

const address = fc.bigInt({ min: 0n, max: RING_SIZE - 1n });
const bytes = fc.uint8Array({ maxLength: 300 });

const frame: fc.Arbitrary<LinkFrame> = fc.oneof(
  fc.record(
    {
      type: fc.constant(FRAME_ROUTED as typeof FRAME_ROUTED),
      exact: fc.boolean(),
      hops: fc.integer({ min: 0, max: 255 }),
      hopLimit: fc.integer({ min: 0, max: 255 }),
      app: fc.integer({ min: 0, max: 0xffff }),
      src: address,
      dest: address,
      via: address,
      replyVia: address,
      notSrc: fc.constant(true),
      payload: bytes,
    },
    { requiredKeys: ['type', 'exact', 'hops', 'hopLimit', 'app', 'src', 'dest', 'payload'] },
  ),
  fc.record({ type: fc.constantFrom(FRAME_PING as typeof FRAME_PING), nonce: fc.integer({ min: 0, max: 0xffffffff }) }),
  fc.record({ type: fc.constantFrom(FRAME_PONG as typeof FRAME_PONG), nonce: fc.integer({ min: 0, max: 0xffffffff }) }),
  fc.record({ type: fc.constant(FRAME_NEIGHBORS as typeof FRAME_NEIGHBORS), wantReply: fc.boolean(), answer: fc.constant(true as const), addresses: fc.array(address, { maxLength: 64 }) }, { requiredKeys: ['type', 'wantReply', 'addresses'] }),
  fc.record({ type: fc.constant(FRAME_WANT as typeof FRAME_WANT), want: fc.boolean() }),
  fc.record({ type: fc.constant(FRAME_LOCAL as typeof FRAME_LOCAL), kind: fc.integer({ min: 0, max: 255 }), payload: bytes }),
  fc.record({ type: fc.constant(FRAME_BYE as typeof FRAME_BYE), ack: fc.boolean() }),
);

function normalize(f: LinkFrame): unknown {
  const o: Record<string, unknown> = { ...f };
  if ('payload' in f) o.payload = Array.from(f.payload);
  return o;
}

test('every frame round-trips, and re-encoding gives the same bytes', (t) => {
  fc.assert(
    fc.property(frame, (f) => {
      const b = encodeLinkFrame(f);
      const back = decodeLinkFrame(b);
      t.deepEqual(normalize(back), normalize(f));
      t.deepEqual(encodeLinkFrame(back), b);
    }),
    { numRuns: 500 },
  );
});

function decodesOrWireError(b: Uint8Array): boolean {
  try {
    decodeLinkFrame(b);
    return true;
  } catch (err) {
    return err instanceof WireError;
  }
}

test('random bytes decode to a frame or throw WireError, nothing else', (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), decodesOrWireError), { numRuns: 5000 });
  t.pass();
});

test('mutated and truncated valid frames decode or throw WireError', (t) => {
  fc.assert(
    fc.property(frame, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat(), (f, pos, val, cut) => {
      const b = encodeLinkFrame(f);
      const m = Uint8Array.from(b);
      if (m.length > 0) m[pos % m.length] = val;
      return decodesOrWireError(m) && decodesOrWireError(b.subarray(0, cut % (b.length + 1)));
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

test('specific bad frames are refused with the right code', (t) => {
  const code = (b: number[]) => t.throws(() => decodeLinkFrame(Uint8Array.from(b)), { instanceOf: WireError })!.code;
  t.is(code([]), 'truncated');
  t.is(code([99]), 'unknown-type');
  t.is(code([FRAME_ROUTED, 0, 0]), 'truncated');
  t.is(code([FRAME_ROUTED, 0x10, ...new Array(46).fill(0)]), 'bad-field');
  t.is(code([FRAME_ROUTED, 0x02, ...new Array(46).fill(0)]), 'truncated'); // via flag without the address
  t.is(code([FRAME_PING, 0, 0, 0]), 'truncated');
  t.is(code([FRAME_PING, 0, 0, 0, 0, 0]), 'trailing-bytes');
  t.is(code([FRAME_NEIGHBORS, 0, 1, 1, 2]), 'truncated');
  t.is(code([FRAME_NEIGHBORS, 0, 65]), 'too-large');
  t.is(code([FRAME_NEIGHBORS, 4, 0]), 'bad-field');
  t.is(code([FRAME_WANT, 2]), 'bad-field');
  t.is(code([FRAME_BYE, 1, 0]), 'trailing-bytes');
  t.is(code([FRAME_LOCAL]), 'truncated');
  t.throws(() => encodeLinkFrame({ type: FRAME_PING, nonce: -1 }), { instanceOf: WireError });
  t.throws(() => encodeLinkFrame({ type: FRAME_ROUTED, exact: true, hops: 0, hopLimit: 1, app: 1, src: RING_SIZE, dest: 0n, payload: new Uint8Array() }), { instanceOf: WireError });
});

test('a routed frame forwarded by patching its hop count decodes as the same frame with the new count', (t) => {
  const routed = frame.filter((f): f is Extract<LinkFrame, { type: typeof FRAME_ROUTED }> => f.type === FRAME_ROUTED);
  fc.assert(
    fc.property(routed, fc.integer({ min: 0, max: 255 }), (f, hops) => {
      const bytes = encodeLinkFrame(f);
      const patched = withRoutedHops(bytes, hops);
      t.deepEqual(normalize(decodeLinkFrame(patched)), normalize({ ...f, hops }));
      t.deepEqual(decodeLinkFrame(bytes), decodeLinkFrame(encodeLinkFrame(f)), 'the original bytes are untouched');
    }),
    { numRuns: 200 },
  );
  t.throws(() => withRoutedHops(encodeLinkFrame({ type: FRAME_PING, nonce: 1 }), 1), { instanceOf: WireError });
  t.throws(() => withRoutedHops(Uint8Array.of(FRAME_ROUTED, 0, 0), 1), { instanceOf: WireError });
});
