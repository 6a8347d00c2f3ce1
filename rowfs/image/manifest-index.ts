// Lookup in an image version's manifest by path, for the proxy: every block fetched from a server
// is checked here before a client may see it, and main's names, types and symlink targets are
// answered from it (../proxy/main-tree.ts). Flat: it keeps the manifest's bytes and, per entry,
// only where its path starts (plus each directory's children as index ranges), and reads an
// entry's fields from the bytes when asked. Decoded entry objects took ~6.6 MB of heap for the
// appliance's 21,329 entries; this takes the 2.6 MB of bytes and ~0.3 MB of typed arrays.
// Entries are sorted by path in UTF-8 byte order (the codec checks it), so a path is found by a
// binary search comparing bytes.
import { createHash } from 'node:crypto';
import { HASH_BYTES, blocksOf, encodeManifest, readManifest, type Manifest, type ManifestEntry, type ManifestEntryType } from './manifest-codec.js';

const TYPES: ManifestEntryType[] = ['dir', 'dir', 'file', 'symlink', 'other']; // codes as in the codec
const SLASH = 0x2f;
const pad4 = (n: number) => (n + 3) & ~3;

export class ManifestIndex {
  readonly blockSize: number;
  private readonly bytes: Buffer;
  /** Per entry, in manifest order: offset of its path's bytes (its length is the word before). */
  private readonly pathAt: Uint32Array;
  /** Children of entry i are childList[childStart[i] .. childStart[i + 1]), in manifest order. */
  private readonly childStart: Uint32Array;
  private readonly childList: Uint32Array;

  /** From a manifest's bytes (checked here with every decoder rule; ImageError BAD_MANIFEST) or from a manifest. */
  constructor(manifest: Uint8Array | Manifest) {
    // A copy of given bytes: the caller may reuse its buffer.
    this.bytes = manifest instanceof Uint8Array ? Buffer.from(manifest) : Buffer.from(encodeManifest(manifest));
    const at: number[] = [];
    this.blockSize = readManifest(this.bytes, (_e, pathAt) => void at.push(pathAt)).blockSize;
    this.pathAt = Uint32Array.from(at);
    const n = this.pathAt.length;
    // Parents by binary search over the sorted paths (listed before their children, not next to them).
    const parent = new Uint32Array(n);
    const counts = new Uint32Array(n + 1);
    for (let i = 1; i < n; i++) {
      const start = this.pathAt[i]!;
      const cut = this.bytes.lastIndexOf(SLASH, start + this.pathLength(i) - 1);
      parent[i] = cut < start ? 0 : this.find(this.bytes.subarray(start, cut))!;
      counts[parent[i]!]!++;
    }
    this.childStart = new Uint32Array(n + 1);
    for (let i = 0; i < n; i++) this.childStart[i + 1] = this.childStart[i]! + counts[i]!;
    this.childList = new Uint32Array(Math.max(0, n - 1));
    const fill = this.childStart.slice(0, n);
    for (let i = 1; i < n; i++) this.childList[fill[parent[i]!]!++] = i;
  }

  /** Entries in the manifest. */
  get size(): number {
    return this.pathAt.length;
  }

  /** The entry at `path` ('' is the root), if the manifest lists it (blockHashes is a view: do not change it). */
  entry(path: string): ManifestEntry | undefined {
    const i = this.find(Buffer.from(path, 'utf8'));
    return i === undefined ? undefined : this.at(i);
  }

  /** Entry number `i` in manifest order (what boot traces name), or undefined. */
  at(i: number): ManifestEntry | undefined {
    if (!Number.isInteger(i) || i < 0 || i >= this.size) return undefined;
    const start = this.pathAt[i]!;
    const path = this.bytes.toString('utf8', start, start + this.pathLength(i));
    const m = start + pad4(this.pathLength(i));
    const type = TYPES[this.bytes.readUInt32BE(m)]!;
    const size = this.sizeAt(m);
    const e: ManifestEntry = { path, type, mode: this.bytes.readUInt32BE(m + 4), uid: this.bytes.readUInt32BE(m + 8), gid: this.bytes.readUInt32BE(m + 12), size };
    const dataLength = type === 'file' || type === 'symlink' ? this.bytes.readUInt32BE(m + 24) : 0;
    if (type === 'file') e.blockHashes = new Uint8Array(this.bytes.buffer, this.bytes.byteOffset + m + 28, dataLength);
    else if (type === 'symlink') e.target = this.bytes.toString('utf8', m + 28, m + 28 + dataLength);
    return e;
  }

  /** How many names the directory at `path` holds (without building them); undefined when it is not a directory. */
  childCount(path: string): number | undefined {
    const i = this.find(Buffer.from(path, 'utf8'));
    if (i === undefined || this.typeAt(i) !== 'dir') return undefined;
    return this.childStart[i + 1]! - this.childStart[i]!;
  }

  /** Names in the directory at `path`, in manifest order; undefined when it is not a directory. */
  names(path: string): string[] | undefined {
    const i = this.find(Buffer.from(path, 'utf8'));
    if (i === undefined || this.typeAt(i) !== 'dir') return undefined;
    const skip = path === '' ? 0 : Buffer.byteLength(path) + 1;
    const out: string[] = [];
    for (let c = this.childStart[i]!; c < this.childStart[i + 1]!; c++) {
      const child = this.childList[c]!;
      const start = this.pathAt[child]!;
      out.push(this.bytes.toString('utf8', start + skip, start + this.pathLength(child)));
    }
    return out;
  }

  /** Blocks of the regular file at `path`; 0 for anything else (or nothing). */
  blockCount(path: string): number {
    const e = this.fileAt(path);
    return e ? blocksOf(e.size, this.blockSize) : 0;
  }

  /** Expected length of block `index` of `path` (blockSize, or the short tail); -1 when there is no such block. */
  blockLength(path: string, index: number): number {
    const e = this.fileAt(path);
    if (!e || !Number.isInteger(index) || index < 0 || index >= blocksOf(e.size, this.blockSize)) return -1;
    return Math.min(this.blockSize, e.size - index * this.blockSize);
  }

  /** True when `data` is exactly block `index` of file `path` (right length and SHA-256). */
  verifyBlock(path: string, index: number, data: Uint8Array): boolean {
    const e = this.fileAt(path);
    if (!e || !Number.isInteger(index) || index < 0 || index >= blocksOf(e.size, this.blockSize)) return false;
    if (data.length !== Math.min(this.blockSize, e.size - index * this.blockSize)) return false;
    const at = e.hashesAt + index * HASH_BYTES;
    return createHash('sha256').update(data).digest().equals(this.bytes.subarray(at, at + HASH_BYTES));
  }

  // ---- reading the bytes ----

  private pathLength(i: number): number {
    return this.bytes.readUInt32BE(this.pathAt[i]! - 4);
  }

  private typeAt(i: number): ManifestEntryType {
    return TYPES[this.bytes.readUInt32BE(this.pathAt[i]! + pad4(this.pathLength(i)))]!;
  }

  /** The size field (an XDR hyper, below 2^53: the codec checked) of the entry whose fields start at `m`. */
  private sizeAt(m: number): number {
    return this.bytes.readUInt32BE(m + 16) * 2 ** 32 + this.bytes.readUInt32BE(m + 20);
  }

  /** Size and where the block hashes start, when `path` is a regular file. */
  private fileAt(path: string): { size: number; hashesAt: number } | undefined {
    const i = this.find(Buffer.from(path, 'utf8'));
    if (i === undefined) return undefined;
    const m = this.pathAt[i]! + pad4(this.pathLength(i));
    if (TYPES[this.bytes.readUInt32BE(m)] !== 'file') return undefined;
    return { size: this.sizeAt(m), hashesAt: m + 28 };
  }

  /** Index of the entry whose path is exactly `key` (UTF-8), by binary search. */
  private find(key: Uint8Array): number | undefined {
    let lo = 0;
    let hi = this.pathAt.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const start = this.pathAt[mid]!;
      const c = this.bytes.compare(key, 0, key.length, start, start + this.pathLength(mid));
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return undefined;
  }
}
