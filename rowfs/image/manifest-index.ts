// Lookup of a decoded manifest by path, for the proxy's READ path: every block fetched from a
// server is checked here before a client may see it.
import { createHash } from 'node:crypto';
import { HASH_BYTES, blocksOf, comparePaths, type Manifest, type ManifestEntry } from './manifest-codec.js';

export class ManifestIndex {
  private readonly byPath = new Map<string, ManifestEntry>();
  readonly blockSize: number;

  constructor(readonly manifest: Manifest) {
    this.blockSize = manifest.blockSize;
    for (const e of manifest.entries) this.byPath.set(e.path, e);
  }

  get size(): number {
    return this.byPath.size;
  }

  /** The entry at `path` ('' is the root), if the manifest lists it. */
  entry(path: string): ManifestEntry | undefined {
    return this.byPath.get(path);
  }

  /**
   * Names in the directory at `path`, in manifest order; undefined when it is not a directory.
   * Entries are sorted by path, so a directory's descendants are one run: each child's own
   * subtree is skipped by a binary search (O(children x log entries), not O(descendants)).
   */
  names(path: string): string[] | undefined {
    if (this.byPath.get(path)?.type !== 'dir') return undefined;
    const list = this.manifest.entries;
    const prefix = path === '' ? '' : `${path}/`;
    const out: string[] = [];
    let i = path === '' ? 1 : lowerBound(list, prefix);
    while (i < list.length && list[i]!.path.startsWith(prefix)) {
      const rest = list[i]!.path.slice(prefix.length);
      const cut = rest.indexOf('/');
      if (cut < 0) {
        out.push(rest);
        i++;
      } else {
        // '0' follows '/': every path of `prefix + child + '/'` sorts before `prefix + child + '0'`.
        i = lowerBound(list, `${prefix}${rest.slice(0, cut)}0`);
      }
    }
    return out;
  }

  /** Blocks of the regular file at `path`; 0 for anything else (or nothing). */
  blockCount(path: string): number {
    const e = this.byPath.get(path);
    return e?.type === 'file' ? blocksOf(e.size, this.blockSize) : 0;
  }

  /** Expected length of block `index` of `path` (blockSize, or the short tail); -1 when there is no such block. */
  blockLength(path: string, index: number): number {
    const e = this.byPath.get(path);
    if (e?.type !== 'file' || !Number.isInteger(index) || index < 0 || index >= blocksOf(e.size, this.blockSize)) return -1;
    return Math.min(this.blockSize, e.size - index * this.blockSize);
  }

  /** True when `data` is exactly block `index` of file `path` (right length and SHA-256). */
  verifyBlock(path: string, index: number, data: Uint8Array): boolean {
    const length = this.blockLength(path, index);
    if (length < 0 || data.length !== length) return false;
    const want = this.byPath.get(path)!.blockHashes!.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES);
    const got = createHash('sha256').update(data).digest();
    return got.equals(want);
  }
}

/** Index of the first entry whose path is not before `path`. */
function lowerBound(list: readonly ManifestEntry[], path: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (comparePaths(list[mid]!.path, path) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
