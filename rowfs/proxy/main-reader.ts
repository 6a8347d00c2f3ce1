// Reads blocks of main-server files through the local block cache. A block is fetched from main at
// most once per cache: concurrent readers of a block share one fetch, which stays registered until
// the block is stored in the cache (the reply itself does not wait for that local write). Runs of missing blocks become one READ (or a few, at most `maxReadBytes`
// each), so a cold sequential read costs about what a direct read costs.
import type { BlockCache } from '../cache/block-cache.js';
import type { Counters } from '../counters.js';
import type { FileHandle } from '../nfs3/types.js';
import { hex } from '../state/store.js';
import type { Backend } from './backend.js';
import { StatusError } from './errors.js';
import { Nfs3Status } from '../nfs3/types.js';

const EMPTY = Buffer.alloc(0);
/** Fetched bytes that may wait for the cache write behind the reply. */
const MAX_PENDING_CACHE_BYTES = 8 * 1024 * 1024;
/** How far ahead of a sequential reader blocks are fetched from main. */
const READAHEAD_BYTES = 4 * 1024 * 1024;
/** Cap on bytes being prefetched at once, over all files. */
const MAX_PREFETCH_BYTES = 8 * 1024 * 1024;
const MAX_TRACKED_READERS = 1024;

/** Concatenation of `parts`, without copying when they are adjacent views of one buffer (one READ). */
function joinViews(parts: Buffer[]): Buffer {
  if (parts.length === 1) return parts[0]!;
  let adjacent = parts.length > 0;
  for (let i = 1; i < parts.length && adjacent; i++) {
    const a = parts[i - 1]!;
    const b = parts[i]!;
    adjacent = b.buffer === a.buffer && b.byteOffset === a.byteOffset + a.length;
  }
  if (!adjacent) return Buffer.concat(parts);
  const total = parts.reduce((n, p) => n + p.length, 0);
  return Buffer.from(parts[0]!.buffer, parts[0]!.byteOffset, total);
}

export class MainReader {
  private readonly inflight = new Map<string, Promise<Buffer>>();
  private pendingCacheBytes = 0;
  private prefetchBytes = 0;
  /** Where each recently read file's last read ended (sequential detection). */
  private readonly lastEnd = new Map<string, number>();

  constructor(
    private readonly main: Backend,
    private readonly cache: BlockCache | undefined,
    private readonly counters: Counters,
    readonly blockSize: number,
    private readonly maxReadBytes: number,
  ) {}

  /**
   * Bytes [offset, offset + length) of the main file, cut short at its end of file. When every
   * block is cached this is one local read of exactly those bytes (no whole-block reads).
   */
  async range(fh: FileHandle, offset: number, length: number, fileSize?: number): Promise<Buffer> {
    if (length === 0) return Buffer.alloc(0);
    const first = Math.floor(offset / this.blockSize);
    const last = Math.floor((offset + length - 1) / this.blockSize);
    if (fileSize !== undefined) this.readAhead(fh, offset, length, fileSize);
    if (this.cache) {
      const key = hex(fh);
      const hit = await this.cache.readRange(key, offset, length);
      if (hit) {
        this.counters.cacheHitBlocks += last - first + 1;
        this.counters.cacheHitBytes += hit.length;
        return hit;
      }
    }
    const buf = await this.blocks(fh, first, last);
    const lo = offset - first * this.blockSize;
    return buf.subarray(Math.min(lo, buf.length), Math.min(lo + length, buf.length));
  }

  /**
   * A reader that continues where its last read ended gets the next READAHEAD_BYTES fetched from
   * main ahead of its requests (overlapping main round trips); random readers get nothing extra.
   */
  private readAhead(fh: FileHandle, offset: number, length: number, fileSize: number): void {
    const key = hex(fh);
    const sequential = this.lastEnd.get(key) === offset;
    this.lastEnd.delete(key);
    if (this.lastEnd.size >= MAX_TRACKED_READERS) this.lastEnd.delete(this.lastEnd.keys().next().value as string);
    this.lastEnd.set(key, offset + length);
    if (!sequential || !this.cache || this.prefetchBytes >= MAX_PREFETCH_BYTES) return;
    const from = Math.floor((offset + length) / this.blockSize);
    const to = Math.floor((Math.min(offset + length + READAHEAD_BYTES, fileSize) - 1) / this.blockSize);
    let b = from;
    while (b <= to && (this.cache.has(key, b) || this.inflight.has(`${key}:${b}`))) b++;
    let e = b;
    while (e + 1 <= to && !this.cache.has(key, e + 1) && !this.inflight.has(`${key}:${e + 1}`)) e++;
    if (b > to) return;
    const bytes = (e - b + 1) * this.blockSize;
    this.prefetchBytes += bytes;
    void this.startRun(fh, key, b, e)
      .catch(() => undefined)
      .finally(() => (this.prefetchBytes -= bytes));
  }

  /** Starts fetching blocks [first, last] (none cached or in flight); registers them in flight. */
  private startRun(fh: FileHandle, key: string, first: number, last: number): Promise<Buffer[]> {
    const run = this.fetchRun(fh, key, first, last);
    const fetched = run.then((r) => r.blocks);
    for (let i = first; i <= last; i++) {
      const id = `${key}:${i}`;
      const p = fetched.then((bufs) => bufs[i - first]!);
      p.catch(() => undefined); // a prefetch nobody waits for must not be an unhandled rejection
      this.inflight.set(id, p);
      // The entry stays until the block is in the cache, so nobody fetches it from main twice.
      void run.then(
        (r) => r.stored.finally(() => this.inflight.delete(id)),
        () => this.inflight.delete(id),
      );
    }
    return fetched;
  }

  /**
   * Bytes [first * blockSize, (last + 1) * blockSize) of the main file, cut short at its end of file.
   */
  async blocks(fh: FileHandle, first: number, last: number): Promise<Buffer> {
    const key = hex(fh);
    const parts: Array<Promise<Buffer>> = [];
    const maxRunBlocks = Math.max(1, Math.floor(this.maxReadBytes / this.blockSize)) * 4;
    let b = first;
    while (b <= last) {
      const pending = this.inflight.get(`${key}:${b}`);
      if (pending) {
        parts.push(pending);
        b++;
        continue;
      }
      if (this.cache?.has(key, b)) {
        parts.push(this.fromCache(key, b));
        b++;
        continue;
      }
      let e = b;
      while (e < last && e - b + 1 < maxRunBlocks && !this.inflight.has(`${key}:${e + 1}`) && !this.cache?.has(key, e + 1)) e++;
      const runStart = b;
      void this.startRun(fh, key, runStart, e).catch(() => undefined);
      for (let i = runStart; i <= e; i++) parts.push(this.inflight.get(`${key}:${i}`)!);
      b = e + 1;
    }
    const bufs = await Promise.all(parts);
    // Stop at the first short block: that is the end of the main file.
    let n = 0;
    for (; n < bufs.length; n++) if (bufs[n]!.length < this.blockSize) break;
    return joinViews(bufs.slice(0, Math.min(n + 1, bufs.length)));
  }

  private async fromCache(key: string, block: number): Promise<Buffer> {
    const buf = await this.cache!.read(key, block);
    if (!buf) throw new StatusError(Nfs3Status.IO, 'cache lost a block');
    this.counters.cacheHitBlocks++;
    this.counters.cacheHitBytes += buf.length;
    return buf;
  }

  /**
   * Fetches blocks [first, last] from main: one buffer per block (empty past end of file), and a
   * promise for their storage in the cache (the reply does not wait for the local disk).
   */
  private async fetchRun(fh: FileHandle, key: string, first: number, last: number): Promise<{ blocks: Buffer[]; stored: Promise<void> }> {
    const start = first * this.blockSize;
    const want = (last - first + 1) * this.blockSize;
    // The run's READs go to main in parallel (a run is at most a few of them): one after the other,
    // a cold sequential reader would wait for main's latency once per READ.
    const pieces: Array<Promise<Buffer[]>> = [];
    for (let off = 0; off < want; off += this.maxReadBytes) pieces.push(this.readFully(fh, start + off, Math.min(this.maxReadBytes, want - off)));
    const chunks: Buffer[] = [];
    let got = 0;
    for (const parts of await Promise.all(pieces)) {
      for (const c of parts) {
        chunks.push(c);
        got += c.length;
      }
    }
    // Blocks are views of the READ replies (no copy) when every reply but the last holds whole
    // blocks, as main's replies to our block-aligned READs do; otherwise they are joined once.
    const aligned = chunks.every((c, i) => i === chunks.length - 1 || c.length % this.blockSize === 0);
    const runs = aligned ? chunks : [Buffer.concat(chunks)];
    const out: Buffer[] = [];
    const runStarts: number[] = [];
    let at = 0;
    for (const run of runs) {
      runStarts.push(at);
      for (let off = 0; off < run.length; off += this.blockSize) out.push(run.subarray(off, Math.min(off + this.blockSize, run.length)));
      at += run.length;
    }
    while (out.length < last - first + 1) out.push(EMPTY);
    out.length = last - first + 1;
    this.counters.cacheMissBlocks += out.length;
    // Blocks past the end of file are not cached (an empty tail would hide the real last block).
    // A failed cache write only means fetching again later. The cache writes the same buffers.
    this.pendingCacheBytes += got;
    const stored = this.cache
      ? Promise.all(runs.map((run, i) => this.cache!.writeRun(key, first + runStarts[i]! / this.blockSize, run)))
          .then(() => undefined)
          .catch(() => undefined)
          .finally(() => (this.pendingCacheBytes -= got))
      : Promise.resolve();
    // Backpressure: when the local disk falls behind, replies wait for it instead of memory growing.
    if (this.pendingCacheBytes > MAX_PENDING_CACHE_BYTES) await stored;
    return { blocks: out, stored };
  }

  /** Bytes [offset, offset + count) of the main file as READ replies, fewer only at its end. */
  private async readFully(fh: FileHandle, offset: number, count: number): Promise<Buffer[]> {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < count) {
      const res = await this.main.ok('READ', { file: fh, offset: BigInt(offset + got), count: count - got });
      parts.push(Buffer.from(res.data.buffer, res.data.byteOffset, res.data.byteLength));
      got += res.data.length;
      if (res.eof || res.data.length === 0) break;
    }
    return parts;
  }
}
