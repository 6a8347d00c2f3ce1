import test from 'ava';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { encodeManifest, decodeManifest, encodedLengthManifest, manifestDigest, comparePaths, checkManifestPath, ManifestIndex, type Manifest, type ManifestEntry } from '../../../rowfs/image/manifest.js';
import { ImageError } from '../../../rowfs/image/errors.js';
import { XdrWriter } from '../../../rowfs/xdr/index.js';
import { fuzzDecoder } from './arbitraries.js';
import type { ReplicaVerifier } from '../../../rowfs/proxy/replicated-main.js';

const BS = 4096;
const sha = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());
const dir = (path: string): ManifestEntry => ({ path, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0 });
function file(path: string, data: Uint8Array, blockSize = BS): ManifestEntry {
  const hashes = new Uint8Array(Math.ceil(data.length / blockSize) * 32);
  for (let i = 0; i * blockSize < data.length; i++) hashes.set(sha(data.subarray(i * blockSize, (i + 1) * blockSize)), i * 32);
  return { path, type: 'file', mode: 0o644, uid: 1000, gid: 1000, size: data.length, blockHashes: hashes };
}
const sample: Manifest = {
  blockSize: BS,
  entries: [
    dir(''),
    { path: 'bin', type: 'symlink', mode: 0o777, uid: 0, gid: 0, size: 7, target: 'usr/bin' },
    { path: 'dev-null', type: 'other', mode: 0o666, uid: 0, gid: 0, size: 0 },
    dir('etc'),
    file('etc/empty', new Uint8Array(0)),
    file('etc/hosts', new TextEncoder().encode('127.0.0.1 localhost\n')),
    dir('usr'),
    dir('usr/bin'),
    file('usr/bin/two-blocks', new Uint8Array(2 * BS).fill(7)),
    file('usr/bin/two-blocks-and-1', new Uint8Array(2 * BS + 1).fill(8)),
    dir('é'),
  ],
};

// Random valid trees: paths over a small alphabet (with multi-byte and astral characters, so byte
// order and UTF-16 order differ), every parent a dir, leaves of every type.
const component = fc.constantFrom('a', 'b', 'a-b', 'a.b', 'Z', 'é', '\u{1F600}', '\uE000', 'x'.repeat(255));
const treeArb: fc.Arbitrary<Manifest> = fc
  .tuple(
    fc.uniqueArray(fc.array(component, { minLength: 1, maxLength: 3 }).map((c) => c.join('/')), { maxLength: 12 }),
    fc.array(fc.tuple(fc.constantFrom('dir', 'file', 'symlink', 'other'), fc.nat({ max: 3 * BS + 5 }), fc.nat({ max: 0o7777 })), { minLength: 12, maxLength: 12 }),
  )
  .map(([paths, kinds]) => {
    const all = new Map<string, ManifestEntry>([['', dir('')]]);
    paths.forEach((p, i) => {
      const parts = p.split('/');
      for (let d = 1; d < parts.length; d++) {
        const parent = parts.slice(0, d).join('/');
        all.set(parent, dir(parent));
      }
      if (all.has(p)) return;
      const [type, size, mode] = kinds[i]!;
      if (type === 'file') all.set(p, { ...file(p, new Uint8Array(size).fill(i)), mode });
      else if (type === 'symlink') all.set(p, { path: p, type, mode, uid: 1, gid: 2, size: 3, target: '../' });
      else all.set(p, { path: p, type: type as 'dir' | 'other', mode, uid: 3, gid: 4, size: 0 });
    });
    return { blockSize: BS, entries: [...all.values()].sort((a, b) => comparePaths(a.path, b.path)) };
  });

test('manifests round-trip at an offset with agreeing lengths; the digest is the SHA-256 of the bytes', (t) => {
  const check = (m: Manifest) => {
    const bytes = encodeManifest(m);
    t.is(bytes.length, encodedLengthManifest(m));
    t.deepEqual(decodeManifest(bytes), m);
    const framed = new Uint8Array(bytes.length + 11).fill(0xaa);
    framed.set(bytes, 5);
    t.deepEqual(decodeManifest(framed, 5, 5 + bytes.length), m);
    t.deepEqual(manifestDigest(bytes), sha(bytes));
  };
  check(sample);
  fc.assert(fc.property(treeArb, (m) => check(m)), { numRuns: 200 });
});

test('comparePaths is UTF-8 byte order', (t) => {
  fc.assert(fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => Math.sign(comparePaths(a, b)) === Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b)))), { numRuns: 5000 });
  t.true(comparePaths('\uFFFD', '\u{1F600}') < 0); // UTF-16 order says the opposite
  t.true(comparePaths('a-b', 'a/b') < 0 && comparePaths('a/b', 'a0') < 0);
});

test('manifest paths: components 1..255 bytes, never . or .., no NUL, at most 4096 bytes', (t) => {
  for (const ok of ['', 'a', 'a/b', 'x'.repeat(255), `${'d/'.repeat(2047)}f`]) t.is(checkManifestPath(ok), ok);
  for (const bad of ['/a', 'a/', 'a//b', '.', '..', 'a/./b', 'a/../b', 'a\0b', 'x'.repeat(256), `${'d/'.repeat(2048)}f`]) {
    t.is(t.throws(() => checkManifestPath(bad), { instanceOf: ImageError })?.code, 'BAD_NAME', bad.slice(0, 20));
  }
});

/** A raw manifest from entry writers, for rules the encoder would refuse to break. */
function raw(entries: Array<(w: XdrWriter) => void>, o: { blockSize?: number; count?: number; magic?: number } = {}): Uint8Array {
  const w = new XdrWriter();
  w.uint32(o.magic ?? 0x494d4601).uint32(o.blockSize ?? BS).uint32(o.count ?? entries.length);
  for (const e of entries) e(w);
  return w.bytes().slice();
}
const ent = (path: string | Uint8Array, type: number, o: { mode?: number; size?: bigint; tail?: (w: XdrWriter) => void } = {}) => (w: XdrWriter) => {
  if (typeof path === 'string') w.string(path);
  else w.opaque(path);
  w.uint32(type).uint32(o.mode ?? 0o755).uint32(0).uint32(0).uint64(o.size ?? 0n);
  o.tail?.(w);
};
const root = ent('', 1);
const hashes = (n: number) => (w: XdrWriter) => w.opaque(new Uint8Array(32 * n));

test('hostile manifests are refused one by one with ImageError BAD_MANIFEST', (t) => {
  t.notThrows(() => decodeManifest(raw([root, ent('a', 2, { size: 5000n, tail: hashes(2) })])));
  const cases: Array<[string, Uint8Array]> = [
    ['empty', new Uint8Array(0)],
    ['wrong magic', raw([root], { magic: 0x494d4701 })],
    ['format 2', raw([root], { magic: 0x494d4602 })],
    ['a registry record', raw([root], { magic: 0x49434c01 })],
    ['block size 1000', raw([root], { blockSize: 1000 })],
    ['block size 2 MiB', raw([root], { blockSize: 2 << 20 })],
    ['2,000,001 entries', raw([root], { count: 2_000_001 })],
    ['count beyond the input', raw([root], { count: 1000 })],
    ['no entries', raw([])],
    ['first entry not the root', raw([ent('a', 1)])],
    ['root not a dir', raw([ent('', 2, { tail: hashes(0) })])],
    ['path with ..', raw([root, ent('..', 1)])],
    ['path with .', raw([root, ent('a', 1), ent('a/.', 1)])],
    ['empty component', raw([root, ent('a', 1), ent('a//b', 1)])],
    ['leading slash', raw([root, ent('/a', 1)])],
    ['NUL in a name', raw([root, ent('a\0b', 1)])],
    ['256-byte component', raw([root, ent('x'.repeat(256), 1)])],
    ['4097-byte path', raw([root, ent('x'.repeat(4097), 1)])],
    ['path not UTF-8', raw([root, ent(new Uint8Array([0xff, 0xfe]), 1)])],
    ['out of order', raw([root, ent('b', 1), ent('a', 1)])],
    ['repeated path', raw([root, ent('a', 1), ent('a', 1)])],
    ['missing parent', raw([root, ent('a/b', 1)])],
    ['parent is a file', raw([root, ent('a', 2, { tail: hashes(0) }), ent('a/b', 1)])],
    ['type 0', raw([root, ent('a', 0)])],
    ['type 5', raw([root, ent('a', 5)])],
    ['mode beyond 0o7777', raw([root, ent('a', 1, { mode: 0o10000 })])],
    ['dir with a size', raw([root, ent('a', 1, { size: 4096n })])],
    ['other with a size', raw([root, ent('a', 4, { size: 1n })])],
    ['file with too few hashes', raw([root, ent('a', 2, { size: 4097n, tail: hashes(1) })])],
    ['file with too many hashes', raw([root, ent('a', 2, { size: 4096n, tail: hashes(2) })])],
    ['file size beyond 2^53', raw([root, ent('a', 2, { size: 1n << 60n, tail: hashes(0) })])],
    ['file claiming 2^40 bytes', raw([root, ent('a', 2, { size: 1n << 40n, tail: hashes(0) })])],
    ['empty symlink target', raw([root, ent('a', 3, { tail: (w) => w.string('') })])],
    ['symlink size mismatch', raw([root, ent('a', 3, { size: 9n, tail: (w) => w.string('abc') })])],
    ['symlink target with NUL', raw([root, ent('a', 3, { size: 3n, tail: (w) => w.string('a\0c') })])],
    ['truncated entry', raw([root, ent('a', 2, { size: 4096n, tail: hashes(1) })]).subarray(0, 60)],
  ];
  const withTrailing = raw([root]);
  cases.push(['trailing bytes', Uint8Array.from([...withTrailing, 0, 0, 0, 0])]);
  const good = encodeManifest(sample);
  for (const [what, offset, end] of [['negative offset', -4, good.length], ['end past the input', 0, good.length + 4], ['end before offset', 8, 4]] as const) {
    t.is(t.throws(() => decodeManifest(good, offset, end), { instanceOf: ImageError }, what)?.code, 'BAD_MANIFEST', what);
  }
  for (const [what, bytes] of cases) {
    const err = t.throws(() => decodeManifest(bytes), { instanceOf: ImageError }, what);
    t.is(err?.code, 'BAD_MANIFEST', what);
    t.false(err!.message.includes('\n'), what);
  }
});

test('manifest decoding of random and mutated bytes gives a manifest or ImageError BAD_MANIFEST', (t) => {
  const seeds = [encodeManifest(sample), ...fc.sample(treeArb, { numRuns: 10, seed: 7 }).map(encodeManifest)];
  fuzzDecoder((b) => decodeManifest(b), 'BAD_MANIFEST', seeds, 3000);
  t.pass();
});

test('encodeManifest refuses what decodeManifest would refuse', (t) => {
  const bad: Array<[string, Manifest]> = [
    ['unsorted', { ...sample, entries: [sample.entries[0]!, dir('b'), dir('a')] }],
    ['no root', { ...sample, entries: [dir('a')] }],
    ['missing parent', { ...sample, entries: [dir(''), dir('a/b')] }],
    ['bad path', { ...sample, entries: [dir(''), dir('..')] }],
    ['wrong hash count', { ...sample, entries: [dir(''), { ...file('a', new Uint8Array(5)), size: 5000 }] }],
    ['dir with a target', { ...sample, entries: [dir(''), { ...dir('a'), target: 'x' }] }],
    ['mode', { ...sample, entries: [dir(''), { ...dir('a'), mode: 0o17777 }] }],
    ['uid', { ...sample, entries: [dir(''), { ...dir('a'), uid: -1 }] }],
    ['block size', { ...sample, blockSize: 3000 }],
  ];
  for (const [what, m] of bad) {
    const err = t.throws(() => encodeManifest(m), undefined, what) as Error;
    t.true(err instanceof RangeError || err instanceof ImageError, `${what}: ${err.name}`);
  }
});

test('ManifestIndex finds entries and verifies blocks: right bytes pass, one flipped byte or a wrong length fails', (t) => {
  const ix = new ManifestIndex(decodeManifest(encodeManifest(sample)));
  const asVerifier: ReplicaVerifier = ix; // what ReplicatedMain checks blocks with
  t.is(asVerifier.blockSize, BS);
  t.is(ix.entry('etc/hosts')?.type, 'file');
  t.is(ix.entry('')?.type, 'dir');
  t.is(ix.entry('nope'), undefined);
  t.is(ix.blockCount('usr/bin/two-blocks'), 2);
  t.is(ix.blockCount('usr/bin/two-blocks-and-1'), 3);
  t.is(ix.blockCount('etc/empty'), 0);
  t.is(ix.blockCount('usr'), 0);
  t.is(ix.blockLength('usr/bin/two-blocks-and-1', 2), 1);
  const full = new Uint8Array(BS).fill(8);
  t.true(ix.verifyBlock('usr/bin/two-blocks-and-1', 0, full));
  t.true(ix.verifyBlock('usr/bin/two-blocks-and-1', 2, new Uint8Array([8])));
  const flipped = full.slice();
  flipped[1234] ^= 1;
  t.false(ix.verifyBlock('usr/bin/two-blocks-and-1', 0, flipped));
  t.false(ix.verifyBlock('usr/bin/two-blocks-and-1', 2, new Uint8Array([8, 8])), 'tail with an extra byte');
  t.false(ix.verifyBlock('usr/bin/two-blocks-and-1', 0, full.subarray(1)), 'short block');
  t.false(ix.verifyBlock('usr/bin/two-blocks-and-1', 3, new Uint8Array(0)), 'past the end');
  t.false(ix.verifyBlock('usr/bin/two-blocks-and-1', -1, full), 'negative index');
  t.false(ix.verifyBlock('usr/bin/two-blocks', 0, full), 'block of another file');
  t.false(ix.verifyBlock('etc/empty', 0, new Uint8Array(0)), 'an empty file has no block');
  t.false(ix.verifyBlock('usr', 0, full), 'a directory');
  t.false(ix.verifyBlock('nope', 0, full), 'no such path');
});

test('verifyBlock answers false, never throws, for any path, index and data a server may send', (t) => {
  const ix = new ManifestIndex(sample);
  const paths = fc.constantFrom(...sample.entries.map((e) => e.path), 'nope', '../etc/passwd', '\0');
  fc.assert(
    fc.property(paths, fc.oneof(fc.integer({ min: -3, max: 5 }), fc.double()), fc.uint8Array({ maxLength: 2 * BS }), (path, index, data) => {
      const ok = ix.verifyBlock(path, index, data);
      return ok === false || (Number.isInteger(index) && ix.blockLength(path, index) === data.length);
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('ManifestIndex.names lists a directory\'s children like a scan of every entry would (names sorting around "/")', (t) => {
  // Components chosen to sort on both sides of '/' (0x2f): '-' and '.' before it, '0' and 'a' after, and astral characters.
  const component = fc.constantFrom('a', 'a-', 'a.b', 'a0', 'b', 'ab', '\u{1F600}', '\uE000');
  const pathArb = fc.array(component, { minLength: 1, maxLength: 4 }).map((cs) => cs.join('/'));
  fc.assert(
    fc.property(fc.uniqueArray(pathArb, { maxLength: 40 }), fc.uniqueArray(pathArb, { maxLength: 10 }), (dirsOrFiles, files) => {
      // Every prefix of a path is a dir; the paths in `files` that are nobody's prefix are files.
      const all = new Set<string>();
      for (const p of [...dirsOrFiles, ...files]) {
        const cs = p.split('/');
        for (let i = 1; i <= cs.length; i++) all.add(cs.slice(0, i).join('/'));
      }
      const isPrefix = (p: string) => [...all].some((q) => q.startsWith(`${p}/`));
      const entries: ManifestEntry[] = [{ path: '', type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0 }];
      for (const p of [...all].sort(comparePaths)) {
        entries.push(isPrefix(p) || !files.includes(p) ? { path: p, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0 } : { path: p, type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, blockHashes: new Uint8Array(0) });
      }
      const ix = new ManifestIndex(decodeManifest(encodeManifest({ blockSize: 4096, entries })));
      for (const e of entries) {
        const prefix = e.path === '' ? '' : `${e.path}/`;
        const slow = entries.filter((c) => c.path !== '' && c.path.startsWith(prefix) && !c.path.slice(prefix.length).includes('/')).map((c) => c.path.slice(prefix.length));
        if (e.type === 'dir') t.deepEqual(ix.names(e.path), slow, e.path);
        else t.is(ix.names(e.path), undefined);
        t.is(ix.childCount(e.path), e.type === 'dir' ? slow.length : undefined, e.path);
      }
      t.is(ix.names('not/there'), undefined);
      t.is(ix.childCount('not/there'), undefined);
    }),
    { numRuns: 200 },
  );
});

test('ManifestIndex over the bytes gives back every entry as decoded, by number and by path, and nothing else', (t) => {
  fc.assert(
    fc.property(treeArb, (m) => {
      const bytes = encodeManifest(m);
      const ix = new ManifestIndex(bytes);
      const want = decodeManifest(bytes).entries;
      t.is(ix.size, want.length);
      for (let i = 0; i < want.length; i++) {
        t.deepEqual(ix.at(i), want[i]);
        t.deepEqual(ix.entry(want[i]!.path), want[i]);
      }
      t.is(ix.at(want.length), undefined);
      t.is(ix.at(-1), undefined);
      for (const p of ['zz-not-listed', `${want[want.length - 1]!.path}/x`, 'a/'.repeat(3)]) t.is(ix.entry(p), want.find((e) => e.path === p));
    }),
    { numRuns: 100 },
  );
  const bad = encodeManifest(sample);
  bad[bad.length - 1] ^= 1;
  const err = t.throws(() => new ManifestIndex(bad.subarray(0, bad.length - 3)));
  t.true(err instanceof ImageError && err.code === 'BAD_MANIFEST', String(err));
});
