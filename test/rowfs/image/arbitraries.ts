// fast-check generators and a round-trip checker shared by the image codec tests.
import fc from 'fast-check';
import type { ExecutionContext } from 'ava';
import type { ClaimRecord, VersionInfo, VersionsRecord, ServerRecord, SharerRecord, TraceRecord } from '../../../rowfs/image/records.js';

export const appArb = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,63}$/);
export const versionArb = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/);
export const bytesArb = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const msArb = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const portArb = fc.integer({ min: 1, max: 65535 });
export const blockSizeArb = fc.constantFrom(4096, 8192, 65536, 1 << 20);

export const claimArb: fc.Arbitrary<ClaimRecord> = fc.record({
  app: appArb,
  publishers: fc.uniqueArray(bytesArb(32), { maxLength: 16, selector: (k) => Buffer.from(k).toString('hex') }),
});

export const versionInfoArb: fc.Arbitrary<VersionInfo> = fc.record({
  version: versionArb,
  digest: bytesArb(32),
  bytes: msArb,
  files: fc.integer({ min: 0, max: 2_000_000 }),
  blockSize: blockSizeArb,
  publishedAtMs: msArb,
});

export const versionsArb: fc.Arbitrary<VersionsRecord> = fc.record({
  app: appArb,
  latest: versionArb,
  versions: fc.uniqueArray(versionInfoArb, { minLength: 1, maxLength: 64, selector: (v) => v.version }),
  updatedAtMs: msArb,
});

export const serverArb: fc.Arbitrary<ServerRecord> = fc.record({
  app: appArb,
  version: versionArb,
  vip: bytesArb(4).map((b) => [...b].join('.')),
  nfsPort: portArb,
  mountPort: portArb,
  manifestPort: portArb,
  exportPath: fc.string({ maxLength: 200 }).map((s) => `/${s.replace(/\0/g, '')}`),
  ring: bytesArb(20),
  digest: bytesArb(32),
});

export const sharerArb: fc.Arbitrary<SharerRecord> = fc.record(
  { app: appArb, version: versionArb, ring: bytesArb(20), sinceMs: msArb, peer: fc.record({ vip: fc.ipV4(), port: portArb }) },
  { requiredKeys: ['app', 'version', 'ring', 'sinceMs'] },
);

export const traceArb: fc.Arbitrary<TraceRecord> = fc.record({
  app: appArb,
  version: versionArb,
  ring: bytesArb(20),
  digest: bytesArb(32),
  recordedAtMs: msArb,
  runs: fc.array(fc.record({ entry: fc.nat(2_000_000), first: fc.nat(), count: fc.integer({ min: 1, max: 300 }) }), { maxLength: 50 }),
});

export interface Codec<T> {
  encode(v: T): Uint8Array;
  decode(bytes: Uint8Array, offset?: number, end?: number): { value: T; bytesUsed: number };
  encodedLength(v: T): number;
}

/** decode(encode(v)) equals v, alone and at an offset inside other bytes; lengths agree; re-encoding is identical. */
export function checkRoundTrip<T>(t: ExecutionContext, codec: Codec<T>, v: T): void {
  const bytes = codec.encode(v);
  t.is(bytes.length, codec.encodedLength(v), 'encodedLength agrees');
  t.is(bytes.length % 4, 0);
  const alone = codec.decode(bytes);
  t.deepEqual(alone.value, v);
  t.is(alone.bytesUsed, bytes.length);
  const framed = new Uint8Array(bytes.length + 13);
  framed.fill(0xee);
  framed.set(bytes, 7);
  const inside = codec.decode(framed, 7, 7 + bytes.length);
  t.deepEqual(inside.value, v);
  t.is(inside.bytesUsed, bytes.length);
  t.deepEqual(codec.encode(inside.value), bytes);
}

/** Decoding random bytes gives a value or an error with name 'ImageError' and `code`, nothing else. */
export function fuzzDecoder(decode: (b: Uint8Array) => unknown, code: string, seeds: Uint8Array[] = [], numRuns = 3000): void {
  const mutate = seeds.length === 0 ? fc.uint8Array({ maxLength: 300 }) : fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    // Valid encodings with bytes flipped or cut keep the fuzzer past the magic word.
    fc.tuple(fc.constantFrom(...seeds), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat()).map(([s, at, x, cut]) => {
      const b = new Uint8Array(s);
      if (b.length > 0) b[at % b.length] ^= x;
      return b.subarray(0, b.length - (cut % 9));
    }),
  );
  fc.assert(
    fc.property(mutate, (b) => {
      try {
        decode(b);
      } catch (err) {
        if ((err as Error).name !== 'ImageError' || (err as { code?: string }).code !== code) throw err;
      }
    }),
    { numRuns },
  );
}
