import test from 'ava';
import fc from 'fast-check';
import * as rec from '../../../rowfs/image/records.js';
import { ImageError } from '../../../rowfs/image/errors.js';
import { MAX_RECORD_BYTES } from '../../../rowfs/image/record-codec.js';
import { XdrWriter } from '../../../rowfs/xdr/index.js';
import { claimArb, versionsArb, serverArb, sharerArb, traceArb, checkRoundTrip, fuzzDecoder, type Codec } from './arbitraries.js';

const claim: Codec<rec.ClaimRecord> = { encode: rec.encodeClaimRecord, decode: rec.decodeClaimRecord, encodedLength: rec.encodedLengthClaimRecord };
const versions: Codec<rec.VersionsRecord> = { encode: rec.encodeVersionsRecord, decode: rec.decodeVersionsRecord, encodedLength: rec.encodedLengthVersionsRecord };
const server: Codec<rec.ServerRecord> = { encode: rec.encodeServerRecord, decode: rec.decodeServerRecord, encodedLength: rec.encodedLengthServerRecord };
const sharer: Codec<rec.SharerRecord> = { encode: rec.encodeSharerRecord, decode: rec.decodeSharerRecord, encodedLength: rec.encodedLengthSharerRecord };

const key = (b: number) => new Uint8Array(32).fill(b);
const info = (version: string, b = 1): rec.VersionInfo => ({ version, digest: new Uint8Array(32).fill(b), bytes: 1 << 30, files: 1200, blockSize: 65536, publishedAtMs: 1_765_000_000_000 });
const sampleClaim: rec.ClaimRecord = { app: 'debian', publishers: [key(1), key(2)] };
const sampleVersions: rec.VersionsRecord = { app: 'debian', latest: '12.1', versions: [info('12.0'), info('12.1', 2)], updatedAtMs: 1_765_000_000_123 };
const sampleServer: rec.ServerRecord = { app: 'debian', version: '12.1', vip: '10.128.0.7', nfsPort: 2049, mountPort: 20048, manifestPort: 8080, exportPath: '/srv/images/debian', ring: new Uint8Array(20).fill(9), digest: new Uint8Array(32).fill(2) };
const sampleSharer: rec.SharerRecord = { app: 'debian', version: '12.1', ring: new Uint8Array(20).fill(3), sinceMs: 1_765_000_000_000, peer: { vip: '10.128.0.9', port: 40_123 } };
const trace: Codec<rec.TraceRecord> = { encode: rec.encodeTraceRecord, decode: rec.decodeTraceRecord, encodedLength: rec.encodedLengthTraceRecord };
const sampleTrace: rec.TraceRecord = { app: 'debian', version: '12.1', ring: new Uint8Array(20).fill(3), digest: new Uint8Array(32).fill(2), recordedAtMs: 1_765_000_000_000, runs: [{ entry: 7, first: 0, count: 3 }, { entry: 2, first: 9, count: 1 }] };

const kinds = [
  { name: 'claim', codec: claim, arb: claimArb, sample: sampleClaim },
  { name: 'versions', codec: versions, arb: versionsArb, sample: sampleVersions },
  { name: 'server', codec: server, arb: serverArb, sample: sampleServer },
  { name: 'sharer', codec: sharer, arb: sharerArb, sample: sampleSharer },
  { name: 'trace', codec: trace, arb: traceArb, sample: sampleTrace },
] as const;

const badRecord = (t: import('ava').ExecutionContext, decode: () => unknown, what: string) => {
  const err = t.throws(decode, { instanceOf: ImageError }, what);
  t.is(err?.code, 'BAD_RECORD', what);
  t.false(err!.message.includes('\n'), what);
};

for (const k of kinds) {
  test(`${k.name} records round-trip at an offset with agreeing lengths`, (t) => {
    checkRoundTrip<unknown>(t, k.codec as Codec<unknown>, k.sample);
    fc.assert(
      fc.property(k.arb as fc.Arbitrary<unknown>, (v) => {
        checkRoundTrip(t, k.codec as Codec<unknown>, v);
      }),
      { numRuns: 300 },
    );
  });

  test(`${k.name} records: random and mutated bytes decode or throw ImageError BAD_RECORD`, (t) => {
    const seeds = fc.sample(k.arb as fc.Arbitrary<unknown>, { numRuns: 20, seed: 42 }).map((v) => (k.codec as Codec<unknown>).encode(v));
    fuzzDecoder((b) => k.codec.decode(b), 'BAD_RECORD', seeds, 3000);
    t.pass();
  });

  test(`${k.name} records: wrong magic, another kind, other format, truncation and trailing bytes are refused`, (t) => {
    const good = (k.codec as Codec<unknown>).encode(k.sample);
    const wrongMagic = good.slice();
    wrongMagic[0] ^= 0x20;
    badRecord(t, () => k.codec.decode(wrongMagic), 'wrong magic');
    const otherFormat = good.slice();
    otherFormat[3] = 2;
    badRecord(t, () => k.codec.decode(otherFormat), 'format 2');
    for (const other of kinds) if (other !== k) badRecord(t, () => k.codec.decode((other.codec as Codec<unknown>).encode(other.sample)), `a ${other.name} record`);
    for (let cut = 0; cut < good.length; cut += 4) badRecord(t, () => k.codec.decode(good.subarray(0, cut)), `cut at ${cut}`);
    const trailing = new Uint8Array(good.length + 4);
    trailing.set(good);
    badRecord(t, () => k.codec.decode(trailing), 'trailing bytes');
    badRecord(t, () => k.codec.decode(good, 0, good.length - 1), 'end inside the record');
    badRecord(t, () => k.codec.decode(good, -4), 'negative offset');
    badRecord(t, () => k.codec.decode(good, 0, good.length + 4), 'end past the input');
    badRecord(t, () => k.codec.decode(new Uint8Array(MAX_RECORD_BYTES + 4)), 'over 16 KiB');
  });
}

/** Hand-built bodies after a magic word, for the field checks the arbitraries never break. */
function raw(tag: string, body: (w: XdrWriter) => void): Uint8Array {
  const w = new XdrWriter();
  w.uint32(((tag.charCodeAt(0) << 24) | (tag.charCodeAt(1) << 16) | (tag.charCodeAt(2) << 8) | 1) >>> 0);
  body(w);
  return w.bytes().slice();
}
const str = (w: XdrWriter, s: string) => w.string(s);

test('hostile claim records: bad app name, too many publishers, short key, duplicate publisher', (t) => {
  t.notThrows(() => rec.decodeClaimRecord(raw('ICL', (w) => (str(w, 'ok'), w.uint32(0)))));
  badRecord(t, () => rec.decodeClaimRecord(raw('ICL', (w) => (str(w, 'Bad'), w.uint32(0)))), 'uppercase app');
  badRecord(t, () => rec.decodeClaimRecord(raw('ICL', (w) => (str(w, ''), w.uint32(0)))), 'empty app');
  badRecord(t, () => rec.decodeClaimRecord(raw('ICL', (w) => (w.opaque(new Uint8Array([0x61, 0xff])), w.uint32(0)))), 'invalid UTF-8');
  badRecord(t, () => rec.decodeClaimRecord(raw('ICL', (w) => (str(w, 'a'), w.uint32(17), w.raw(new Uint8Array(17 * 32))))), '17 publishers');
  badRecord(t, () => rec.decodeClaimRecord(raw('ICL', (w) => (str(w, 'a'), w.uint32(0xffffffff)))), 'huge count');
  badRecord(t, () => rec.decodeClaimRecord(raw('ICL', (w) => (str(w, 'a'), w.uint32(1), w.raw(new Uint8Array(28))))), 'short key');
  badRecord(t, () => rec.decodeClaimRecord(raw('ICL', (w) => (str(w, 'a'), w.uint32(2), w.raw(key(5)), w.raw(key(5))))), 'duplicate publisher');
});

test('hostile versions records: no versions, 65 versions, duplicate version, bad block size, size beyond 2^53', (t) => {
  const vi = (w: XdrWriter, version: string, o: { blockSize?: number; bytes?: bigint; files?: number } = {}) => {
    str(w, version);
    w.raw(key(1));
    w.uint64(o.bytes ?? 10n).uint32(o.files ?? 1).uint32(o.blockSize ?? 65536).uint64(5n);
  };
  const rec1 = (items: (w: XdrWriter) => void, latest = '1') => raw('IVR', (w) => (str(w, 'a'), str(w, latest), items(w), w.uint64(7n)));
  t.notThrows(() => rec.decodeVersionsRecord(rec1((w) => (w.uint32(1), vi(w, '1')))));
  badRecord(t, () => rec.decodeVersionsRecord(rec1((w) => w.uint32(0))), 'no versions');
  badRecord(t, () => rec.decodeVersionsRecord(rec1((w) => (w.uint32(65), Array.from({ length: 65 }, (_, i) => vi(w, `${i}`))))), '65 versions');
  badRecord(t, () => rec.decodeVersionsRecord(rec1((w) => (w.uint32(2), vi(w, '1'), vi(w, '1')))), 'duplicate version');
  badRecord(t, () => rec.decodeVersionsRecord(rec1((w) => (w.uint32(1), vi(w, '1', { blockSize: 65535 })))), 'block size not a power of two');
  badRecord(t, () => rec.decodeVersionsRecord(rec1((w) => (w.uint32(1), vi(w, '1', { blockSize: 2048 })))), 'block size below 4 KiB');
  badRecord(t, () => rec.decodeVersionsRecord(rec1((w) => (w.uint32(1), vi(w, '1', { bytes: 1n << 60n })))), 'bytes beyond 2^53');
  badRecord(t, () => rec.decodeVersionsRecord(rec1((w) => (w.uint32(1), vi(w, '1', { files: 2_000_001 })))), 'too many files');
  badRecord(t, () => rec.decodeVersionsRecord(rec1((w) => (w.uint32(1), vi(w, '../1')))), 'bad version');
  badRecord(t, () => rec.decodeVersionsRecord(rec1((w) => (w.uint32(1), vi(w, '1')), '-x')), 'bad latest');
});

test('hostile server records: port 0 or above 65535, relative or NUL export path, over-long path', (t) => {
  const body = (o: { port?: number; path?: string; pathBytes?: Uint8Array } = {}) =>
    raw('ISV', (w) => {
      str(w, 'a');
      str(w, '1');
      w.uint32(0x0a800007).uint32(o.port ?? 2049).uint32(20048).uint32(8080);
      if (o.pathBytes) w.opaque(o.pathBytes);
      else str(w, o.path ?? '/srv');
      w.raw(new Uint8Array(20)).raw(new Uint8Array(32));
    });
  t.is(rec.decodeServerRecord(body()).value.vip, '10.128.0.7');
  badRecord(t, () => rec.decodeServerRecord(body({ port: 0 })), 'port 0');
  badRecord(t, () => rec.decodeServerRecord(body({ port: 65536 })), 'port 65536');
  badRecord(t, () => rec.decodeServerRecord(body({ path: 'srv' })), 'relative path');
  badRecord(t, () => rec.decodeServerRecord(body({ path: '/s\0rv' })), 'NUL in path');
  badRecord(t, () => rec.decodeServerRecord(body({ path: `/${'x'.repeat(1024)}` })), '1025-byte path');
  badRecord(t, () => rec.decodeServerRecord(body({ pathBytes: new Uint8Array([0x2f, 0xc0, 0x80]) })), 'overlong UTF-8 in path');
});

test('encoders refuse out-of-range values with RangeError or ImageError, never emitting a bad record', (t) => {
  const bad: Array<[string, () => unknown]> = [
    ['17 publishers', () => rec.encodeClaimRecord({ app: 'a', publishers: Array.from({ length: 17 }, (_, i) => key(i)) })],
    ['31-byte key', () => rec.encodeClaimRecord({ app: 'a', publishers: [new Uint8Array(31)] })],
    ['duplicate publisher', () => rec.encodeClaimRecord({ app: 'a', publishers: [key(1), key(1)] })],
    ['bad app', () => rec.encodeClaimRecord({ app: 'A', publishers: [] })],
    ['no versions', () => rec.encodeVersionsRecord({ ...sampleVersions, versions: [] })],
    ['65 versions', () => rec.encodeVersionsRecord({ ...sampleVersions, versions: Array.from({ length: 65 }, (_, i) => info(`${i}`)) })],
    ['duplicate version', () => rec.encodeVersionsRecord({ ...sampleVersions, versions: [info('1'), info('1')] })],
    ['negative bytes', () => rec.encodeVersionsRecord({ ...sampleVersions, versions: [{ ...info('1'), bytes: -1 }] })],
    ['fractional time', () => rec.encodeVersionsRecord({ ...sampleVersions, updatedAtMs: 1.5 })],
    ['block size 1000', () => rec.encodeVersionsRecord({ ...sampleVersions, versions: [{ ...info('1'), blockSize: 1000 }] })],
    ['bad vip', () => rec.encodeServerRecord({ ...sampleServer, vip: '10.0.0.256' })],
    ['vip with leading zero', () => rec.encodeServerRecord({ ...sampleServer, vip: '10.0.0.07' })],
    ['port 0', () => rec.encodeServerRecord({ ...sampleServer, mountPort: 0 })],
    ['relative export', () => rec.encodeServerRecord({ ...sampleServer, exportPath: 'srv' })],
    ['long export', () => rec.encodeServerRecord({ ...sampleServer, exportPath: `/${'x'.repeat(1024)}` })],
    ['19-byte ring', () => rec.encodeSharerRecord({ ...sampleSharer, ring: new Uint8Array(19) })],
    ['bad version', () => rec.encodeSharerRecord({ ...sampleSharer, version: '' })],
  ];
  for (const [what, f] of bad) {
    const err = t.throws(f, undefined, what) as Error;
    t.true(err instanceof RangeError || err instanceof ImageError, `${what}: ${err.name}`);
  }
});

test('the largest records fit the DHT value cap', (t) => {
  const big: rec.VersionsRecord = { app: 'a'.repeat(64), latest: 'v'.repeat(64), versions: Array.from({ length: 64 }, (_, i) => info(`${i}`.padStart(64, '0'))), updatedAtMs: 1 };
  t.true(rec.encodeVersionsRecord(big).length <= MAX_RECORD_BYTES);
  const claimMax: rec.ClaimRecord = { app: 'a'.repeat(64), publishers: Array.from({ length: 16 }, (_, i) => key(i)) };
  t.true(rec.encodeClaimRecord(claimMax).length <= MAX_RECORD_BYTES);
  t.true(rec.encodeServerRecord({ ...sampleServer, exportPath: `/${'é'.repeat(511)}` }).length <= MAX_RECORD_BYTES);
  const traceMax: rec.TraceRecord = { ...sampleTrace, app: 'a'.repeat(64), version: 'v'.repeat(64), runs: Array.from({ length: rec.MAX_TRACE_RUNS }, (_, i) => ({ entry: i, first: 0xffffffff, count: 1 })) };
  t.true(rec.encodeTraceRecord(traceMax).length <= MAX_RECORD_BYTES);
  t.throws(() => rec.encodeTraceRecord({ ...traceMax, runs: [...traceMax.runs, { entry: 1, first: 0, count: 1 }] }), { instanceOf: RangeError });
});

test('a trace of more than MAX_TRACE_BLOCKS blocks in all is refused on write and on read', (t) => {
  const big: rec.TraceRecord = { ...sampleTrace, runs: [{ entry: 1, first: 0, count: rec.MAX_TRACE_BLOCKS }, { entry: 2, first: 0, count: 1 }] };
  t.throws(() => rec.encodeTraceRecord(big), { instanceOf: RangeError });
  // The same bytes as a writer that skips the check would put them: runs of 12 bytes at the end.
  const ok = Buffer.from(rec.encodeTraceRecord({ ...sampleTrace, runs: [{ entry: 1, first: 0, count: rec.MAX_TRACE_BLOCKS }, { entry: 2, first: 0, count: 1 }].map((r, i) => (i === 1 ? r : { ...r, count: rec.MAX_TRACE_BLOCKS - 1 })) }));
  ok.writeUInt32BE(rec.MAX_TRACE_BLOCKS, ok.length - 24 + 8);
  badRecord(t, () => rec.decodeTraceRecord(ok), 'a trace over the block bound');
  t.regex(t.throws(() => rec.decodeTraceRecord(ok))!.message, /a trace of 16385 blocks/);
});
