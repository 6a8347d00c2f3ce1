// The manifest of an image version: every entry of the tree and, for regular files, the SHA-256 of
// each block at the proxy's block size. Its SHA-256 (manifestDigest) sits in the signed
// VersionsRecord, so a replica or a block is trusted only through it.
//
// XDR layout:
//   magic "IMF"+1 | blockSize | entry count (<= 2,000,000) | entries sorted by path (UTF-8 byte order)
//   entry: path<4096> | type (1 dir, 2 file, 3 symlink, 4 other) | mode (<= 0o7777) | uid | gid |
//          size (hyper) | file: opaque hashes<> (32 bytes per block) / symlink: target<4096>
// The first entry is the root (path '', a dir); every other entry's parent is a dir listed before it.
// Sizes: a file's byte count; a symlink's target length; 0 for dirs and others (a directory's size
// differs between file systems, so it is not part of the image).
import { createHash } from 'node:crypto';
import { XdrReader, XdrWriter, XdrError, XdrDecodeError } from '../xdr/index.js';
import { ImageError, decodingAs, quote } from './errors.js';
import { magicWord, readMagic, xdrOpaqueLength, utf8Length } from './record-codec.js';
import { checkBlockSize, isBlockSize, readCount, writeCount } from './fields.js';

export const MAX_MANIFEST_ENTRIES = 2_000_000;
export const MAX_PATH_BYTES = 4096;
export const MAX_COMPONENT_BYTES = 255;
export const HASH_BYTES = 32;

export type ManifestEntryType = 'dir' | 'file' | 'symlink' | 'other';

export interface ManifestEntry {
  /** Relative to the root, '/'-separated; '' is the root. */
  path: string;
  type: ManifestEntryType;
  /** Permission bits (st_mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Symlinks only. */
  target?: string;
  /** Regular files only: SHA-256 of each block, concatenated (32 bytes per block; none for an empty file). */
  blockHashes?: Uint8Array;
}

export interface Manifest {
  blockSize: number;
  entries: ManifestEntry[];
}

const MAGIC = magicWord('IMF');
const TYPE_CODES: Record<ManifestEntryType, number> = { dir: 1, file: 2, symlink: 3, other: 4 };
const TYPES: ManifestEntryType[] = ['dir', 'dir', 'file', 'symlink', 'other']; // index 0 unused
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

export const blocksOf = (size: number, blockSize: number): number => Math.ceil(size / blockSize);

/** Returns `path` if it is a manifest path: '' or '/'-joined components, each 1..255 bytes, not '.' or '..', no NUL. */
export function checkManifestPath(path: string): string {
  if (path === '') return path;
  const bad = (why: string) => new ImageError('BAD_NAME', `bad path ${quote(path)}: ${why}`);
  // A UTF-16 unit is at most 3 UTF-8 bytes: count bytes only when the length leaves doubt.
  if (path.length * 3 > MAX_PATH_BYTES && utf8Length(path) > MAX_PATH_BYTES) throw bad(`longer than ${MAX_PATH_BYTES} bytes`);
  if (path.includes('\0')) throw bad('contains NUL');
  for (const c of path.split('/')) {
    if (c === '' || c === '.' || c === '..') throw bad(`component ${quote(c)}`);
    if (c.length * 3 > MAX_COMPONENT_BYTES && utf8Length(c) > MAX_COMPONENT_BYTES) throw bad(`component longer than ${MAX_COMPONENT_BYTES} bytes`);
  }
  return path;
}

/** Order of paths by their UTF-8 bytes (code point order; JS `<` orders UTF-16 units, which differs above U+D7FF). */
export function comparePaths(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // Surrogates (astral code points) come after U+E000..U+FFFF in code point order.
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

const parentOf = (path: string): string => path.slice(0, Math.max(0, path.lastIndexOf('/')));

const isPermission = (m: number) => Number.isInteger(m) && m >= 0 && m <= 0o7777;
const isId = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff;

/** Checks one entry's own rules (not its place in the list). */
function checkEntry(e: ManifestEntry, blockSize: number, fail: (m: string) => Error): void {
  const where = () => `entry ${quote(e.path)}`; // built only on failure: this runs for every entry
  if (!(e.type in TYPE_CODES)) throw fail(`${where()}: type ${String(e.type)}`);
  if (!isPermission(e.mode)) throw fail(`${where()}: mode ${e.mode}`);
  if (!isId(e.uid) || !isId(e.gid)) throw fail(`${where()}: owner ${e.uid}:${e.gid}`);
  if (!Number.isSafeInteger(e.size) || e.size < 0) throw fail(`${where()}: size ${e.size}`);
  if ((e.type === 'dir' || e.type === 'other') && e.size !== 0) throw fail(`${where()}: a ${e.type} has size 0`);
  if (e.type === 'symlink') {
    const t = e.target;
    if (typeof t !== 'string' || t === '' || t.includes('\0') || utf8Length(t) > MAX_PATH_BYTES) throw fail(`${where()}: symlink target must be 1..${MAX_PATH_BYTES} bytes without NUL`);
    if (utf8Length(t) !== e.size) throw fail(`${where()}: size ${e.size} is not the target's length`);
  } else if (e.target !== undefined) throw fail(`${where()}: only a symlink has a target`);
  if (e.type === 'file') {
    const want = blocksOf(e.size, blockSize) * HASH_BYTES;
    if (!(e.blockHashes instanceof Uint8Array) || e.blockHashes.length !== want) throw fail(`${where()}: ${want / HASH_BYTES} block hashes expected`);
  } else if (e.blockHashes !== undefined) throw fail(`${where()}: only a file has block hashes`);
}

/** Checks the list rules: root first, sorted, unique, each parent a dir listed before. */
function checkOrder(prev: ManifestEntry | undefined, e: ManifestEntry, dirs: Set<string>, fail: (m: string) => Error): void {
  if (!prev) {
    if (e.path !== '' || e.type !== 'dir') throw fail('the first entry must be the root directory (path "")');
  } else {
    if (comparePaths(prev.path, e.path) >= 0) throw fail(`entry ${quote(e.path)} is out of order or repeated`);
    if (!dirs.has(parentOf(e.path))) throw fail(`entry ${quote(e.path)} has no parent directory before it`);
  }
  if (e.type === 'dir') dirs.add(e.path);
}

export function encodedLengthManifest(m: Manifest): number {
  let n = 12;
  for (const e of m.entries) {
    n += xdrOpaqueLength(utf8Length(e.path)) + 4 * 4 + 8;
    if (e.type === 'file') n += xdrOpaqueLength(e.blockHashes?.length ?? 0);
    if (e.type === 'symlink') n += xdrOpaqueLength(utf8Length(e.target ?? ''));
  }
  return n;
}

/** Encodes a manifest, checking every rule the decoder checks (RangeError, ImageError BAD_NAME/TOO_LARGE). */
export function encodeManifest(m: Manifest): Uint8Array {
  checkBlockSize(m.blockSize);
  if (m.entries.length === 0) throw new RangeError('manifest: no entries (the root comes first)');
  if (m.entries.length > MAX_MANIFEST_ENTRIES) throw new ImageError('TOO_LARGE', `${m.entries.length} entries, at most ${MAX_MANIFEST_ENTRIES}`);
  const fail = (msg: string) => new RangeError(`manifest: ${msg}`);
  const w = new XdrWriter(encodedLengthManifest(m) + 16);
  w.uint32(MAGIC).uint32(m.blockSize).uint32(m.entries.length);
  const dirs = new Set<string>();
  let prev: ManifestEntry | undefined;
  for (const e of m.entries) {
    checkManifestPath(e.path);
    checkEntry(e, m.blockSize, fail);
    checkOrder(prev, e, dirs, fail);
    prev = e;
    w.string(e.path, MAX_PATH_BYTES).uint32(TYPE_CODES[e.type]).uint32(e.mode).uint32(e.uid).uint32(e.gid);
    writeCount(w, e.size, 'size');
    if (e.type === 'file') w.opaque(e.blockHashes!);
    else if (e.type === 'symlink') w.string(e.target!, MAX_PATH_BYTES);
  }
  return w.bytes();
}

function readUtf8(r: XdrReader, max: number, what: string): string {
  try {
    return utf8Strict.decode(r.opaque(max));
  } catch (err) {
    if (err instanceof XdrError) throw err;
    throw new XdrDecodeError('BAD_VALUE', `${what} is not valid UTF-8`);
  }
}

/** Decodes the manifest occupying bytes[offset, end) exactly (ImageError BAD_MANIFEST otherwise). */
export function decodeManifest(bytes: Uint8Array, offset = 0, end = bytes.length): Manifest {
  const entries: ManifestEntry[] = [];
  const { blockSize } = readManifest(bytes, (e) => {
    if (e.blockHashes) e.blockHashes = e.blockHashes.slice(); // a copy: the caller may reuse its buffer
    entries.push(e);
  }, offset, end);
  return { blockSize, entries };
}

/**
 * Checks the manifest in bytes[offset, end) with every rule decodeManifest applies, handing each
 * entry to `visit` with the position of its path's bytes (an entry's blockHashes is a view of
 * `bytes`) and keeping none: an index can hold offsets into the bytes instead of entry objects.
 */
export function readManifest(bytes: Uint8Array, visit: (e: ManifestEntry, pathAt: number) => void, offset = 0, end = bytes.length): { blockSize: number; count: number } {
  return decodingAs('BAD_MANIFEST', 'manifest', () => {
    const r = new XdrReader(bytes, offset, end);
    readMagic(r, MAGIC, 'manifest');
    const blockSize = r.uint32();
    if (!isBlockSize(blockSize)) throw new XdrDecodeError('BAD_VALUE', `block size ${blockSize}`);
    const count = r.uint32();
    if (count === 0) throw new XdrDecodeError('BAD_VALUE', 'no entries (the root comes first)');
    if (count > MAX_MANIFEST_ENTRIES) throw new XdrDecodeError('TOO_LONG', `${count} entries, at most ${MAX_MANIFEST_ENTRIES}`);
    // The smallest entry (a dir named by an empty path) takes 28 bytes: refuse counts the input cannot hold before allocating.
    if (count * 28 > r.remaining()) throw new XdrDecodeError('SHORT_BUFFER', `${count} entries cannot fit in ${r.remaining()} bytes`);
    const fail = (msg: string) => new XdrDecodeError('BAD_VALUE', msg);
    const dirs = new Set<string>();
    let prev: ManifestEntry | undefined;
    for (let i = 0; i < count; i++) {
      const pathAt = r.pos + 4;
      const path = checkManifestPath(readUtf8(r, MAX_PATH_BYTES, 'path'));
      const code = r.uint32();
      const type = TYPES[code];
      if (code === 0 || type === undefined) throw fail(`entry ${quote(path)}: type ${code}`);
      const e: ManifestEntry = { path, type, mode: r.uint32(), uid: r.uint32(), gid: r.uint32(), size: readCount(r, 'size') };
      if (type === 'file') {
        const want = blocksOf(e.size, blockSize) * HASH_BYTES;
        if (want > r.remaining()) throw new XdrDecodeError('SHORT_BUFFER', `entry ${quote(path)}: ${want} bytes of block hashes do not fit`);
        e.blockHashes = r.opaque(want);
      } else if (type === 'symlink') e.target = readUtf8(r, MAX_PATH_BYTES, 'symlink target');
      checkEntry(e, blockSize, fail);
      checkOrder(prev, e, dirs, fail);
      prev = e;
      visit(e, pathAt);
    }
    r.expectEnd();
    return { blockSize, count };
  });
}

/** SHA-256 of the manifest's bytes: what a VersionsRecord and a ServerRecord name. */
export function manifestDigest(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}
