// Building a manifest from a directory (at publish) and checking a directory against one (before a
// replica serves). Both walk with lstat first, then hash regular files in path order with bounded
// memory (two buffers of at most 1 MiB per file in flight), reporting progress in bytes of file data.
import { join } from 'node:path';
import { ImageError } from './errors.js';
import { checkBlockSize, DEFAULT_BLOCK_SIZE_BYTES, bytesEqual } from './fields.js';
import { HASH_BYTES, comparePaths, type Manifest, type ManifestEntry } from './manifest-codec.js';
import { walkTree } from './tree-walk.js';
import { ChunkBuffers, hashFileBlocks } from './file-hash.js';

export interface TreeProgress {
  /** Regular files hashed so far. */
  files: number;
  /** Bytes of file data hashed so far. */
  bytes: number;
  totalBytes: number;
}

export interface TreeOptions {
  /** Default 65536 (the proxy's default block size); a manifest check uses the manifest's. */
  blockSize?: number;
  /** Called at most every PROGRESS_BYTES of data or PROGRESS_FILES files, and once at the end. */
  onProgress?: (p: TreeProgress) => void;
  signal?: AbortSignal;
}

export const PROGRESS_BYTES = 8 << 20;
export const PROGRESS_FILES = 1000;
/** checkTree stops comparing data once it has this many problems. */
export const MAX_PROBLEMS = 20;

/** Files hashed at once: small files are bound by thread-pool round trips, not by hashing. */
export const HASH_FILES_IN_FLIGHT = 8;

/**
 * Hashes each file of `files` (HASH_FILES_IN_FLIGHT at once, each with its own two buffers);
 * `visit` gets its block hashes and returns false to stop. On an error the other files in flight
 * finish before it is thrown, so nothing reads on after the call has settled.
 */
async function hashFiles(root: string, files: ManifestEntry[], blockSize: number, opts: TreeOptions, visit: (e: ManifestEntry, hashes: Uint8Array) => boolean | void): Promise<void> {
  const totalBytes = files.reduce((n, e) => n + e.size, 0);
  const progress: TreeProgress = { files: 0, bytes: 0, totalBytes };
  let reportedBytes = 0;
  let reportedFiles = 0;
  const report = (force: boolean) => {
    if (!opts.onProgress) return;
    if (!force && progress.bytes - reportedBytes < PROGRESS_BYTES && progress.files - reportedFiles < PROGRESS_FILES) return;
    reportedBytes = progress.bytes;
    reportedFiles = progress.files;
    opts.onProgress({ ...progress });
  };
  let next = 0;
  let stop = false;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    const buffers = new ChunkBuffers();
    while (!stop && next < files.length) {
      const e = files[next++]!;
      try {
        const hashes = await hashFileBlocks(join(root, e.path), e.path, e.size, blockSize, buffers, (n) => {
          progress.bytes += n;
          report(false);
        }, opts.signal);
        progress.files++;
        report(false);
        if (visit(e, hashes) === false) stop = true;
      } catch (err) {
        failure ??= { err };
        stop = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(HASH_FILES_IN_FLIGHT, files.length) }, worker));
  if (failure) throw failure.err;
  report(true);
}

/** The manifest of the tree under `dir`. */
export async function buildManifest(dir: string, opts: TreeOptions = {}): Promise<Manifest> {
  const blockSize = checkBlockSize(opts.blockSize ?? DEFAULT_BLOCK_SIZE_BYTES);
  const entries = await walkTree(dir, opts.signal);
  await hashFiles(dir, entries.filter((e) => e.type === 'file'), blockSize, opts, (e, hashes) => {
    e.blockHashes = hashes;
  });
  return { blockSize, entries };
}

const octal = (m: number) => m.toString(8).padStart(4, '0');

/** Differences of metadata between a tree entry and its manifest entry, one line each. */
function metadataProblems(got: ManifestEntry, want: ManifestEntry, ignoreOwnership: boolean): string[] {
  const p = `/${got.path}`;
  if (got.type !== want.type) return [`${p}: is a ${got.type}, the manifest has a ${want.type}`];
  const out: string[] = [];
  if (got.mode !== want.mode) out.push(`${p}: mode ${octal(got.mode)}, the manifest has ${octal(want.mode)}`);
  if (!ignoreOwnership && (got.uid !== want.uid || got.gid !== want.gid)) out.push(`${p}: owner ${got.uid}:${got.gid}, the manifest has ${want.uid}:${want.gid}`);
  if (got.type === 'symlink' && got.target !== want.target) out.push(`${p}: symlink to ${JSON.stringify(got.target)}, the manifest has ${JSON.stringify(want.target)}`);
  else if (got.size !== want.size) out.push(`${p}: ${got.size} bytes, the manifest has ${want.size}`);
  return out;
}

/**
 * Whether the tree under `dir` matches `manifest` (what a replica checks before it serves).
 * `problems` holds the first MAX_PROBLEMS differences, one line each; hashing stops there.
 */
export async function checkTree(dir: string, manifest: Manifest, opts: TreeOptions & { ignoreOwnership?: boolean } = {}): Promise<{ ok: boolean; problems: string[] }> {
  const problems: string[] = [];
  const add = (lines: string[]) => problems.push(...lines.slice(0, MAX_PROBLEMS - problems.length));
  let tree: ManifestEntry[];
  try {
    tree = await walkTree(dir, opts.signal);
  } catch (err) {
    if (err instanceof ImageError && (err.code === 'BAD_NAME' || err.code === 'TOO_LARGE')) return { ok: false, problems: [err.message] };
    throw err;
  }
  const toHash: Array<{ got: ManifestEntry; want: ManifestEntry }> = [];
  const want = manifest.entries;
  let i = 0;
  let j = 0;
  while ((i < tree.length || j < want.length) && problems.length < MAX_PROBLEMS) {
    const c = i >= tree.length ? 1 : j >= want.length ? -1 : comparePaths(tree[i]!.path, want[j]!.path);
    if (c < 0) add([`/${tree[i++]!.path}: not in the manifest`]);
    else if (c > 0) add([`/${want[j++]!.path}: missing`]);
    else {
      const got = tree[i++]!;
      const w = want[j++]!;
      const lines = metadataProblems(got, w, opts.ignoreOwnership ?? false);
      add(lines);
      if (lines.length === 0 && got.type === 'file') toHash.push({ got, want: w });
    }
  }
  if (problems.length < MAX_PROBLEMS) {
    const wantOf = new Map(toHash.map((p) => [p.got, p.want]));
    const differing: Array<{ path: string; line: string }> = [];
    await hashFiles(dir, toHash.map((p) => p.got), manifest.blockSize, opts, (e, hashes) => {
      const expected = wantOf.get(e)!.blockHashes!;
      if (!bytesEqual(hashes, expected)) {
        const bad: number[] = [];
        for (let b = 0; b * HASH_BYTES < hashes.length; b++) {
          if (!bytesEqual(hashes.subarray(b * HASH_BYTES, (b + 1) * HASH_BYTES), expected.subarray(b * HASH_BYTES, (b + 1) * HASH_BYTES))) bad.push(b);
        }
        differing.push({ path: e.path, line: `/${e.path}: ${bad.length} of ${hashes.length / HASH_BYTES} blocks differ (first: block ${bad[0]})` });
      }
      return problems.length + differing.length < MAX_PROBLEMS;
    });
    // Files finish out of order (several in flight): report them in path order.
    add(differing.sort((a, b) => comparePaths(a.path, b.path)).map((d) => d.line));
  }
  return { ok: problems.length === 0, problems };
}
