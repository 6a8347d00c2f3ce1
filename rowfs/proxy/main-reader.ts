// Reads blocks of main-server files through the local block cache. A block is fetched from main at
// most once per cache: concurrent readers of a block share one fetch (a run), which stays registered
// until the block is stored in the cache (the reply itself does not wait for that local write).
// Runs of missing blocks become READs of at most `maxReadBytes` each, sent to main in parallel.
//
// Memory: main's READ replies are assembled straight into pooled buffers (RpcCallOptions.replyInto),
// blocks are views of them, and the client's reply and the cache write reference those same bytes.
// A run is reference counted: its fetch holds one reference until the cache write is done, and every
// reader takes one (synchronously, when it joins the run) until its reply has been sent; the pooled
// buffers go back only when the last one is released. So payload memory is the pool (a fixed number
// of buffers, reused: no garbage, no fresh pages) except when the pool is exhausted, where a fetch
// falls back to heap buffers (counted in the pool's `misses`).
//
// With a SpliceFetcher (native addon) and a cache, missing blocks are instead filled straight from
// main's socket into the cache file (no user-space copy, no pooled buffer held for a cache write);
// readers then read the bytes they asked for from the cache. A fill that fails (main, addon or
// cache trouble) leaves its blocks absent and the read takes the JS path above.
import type { BlockCache } from '../cache/block-cache.js';
import type { Counters } from '../counters.js';
import type { FileHandle } from '../nfs3/types.js';
import { BufferPool, heldBy, unpooled, type HeldBytes, type Lease } from '../rpc/buffer-pool.js';
import { hex } from '../state/store.js';
import type { Backend } from './backend.js';
import type { SpliceFetcher } from './splice-fetcher.js';
import { StatusError } from './errors.js';
import type { FileSlice } from '../xdr/file-slice.js';
import { Nfs3Status } from '../nfs3/types.js';

const EMPTY = Buffer.alloc(0);
/** Fetched bytes that may wait for the cache write behind the reply. */
const MAX_PENDING_CACHE_BYTES = 8 * 1024 * 1024;
/**
 * Most a sequential reader is fetched ahead of its requests. The window is what the reader has
 * read in one sequential streak so far (it doubles as the streak goes on, as the kernel's readahead
 * does), so a reader that stops leaves at most what it read behind: a boot's many short reads of
 * libraries and indexes do not pull whole files across the wide area, bulk readers still get it.
 */
const MAX_READAHEAD_BYTES = 4 * 1024 * 1024;
/** Cap on bytes being prefetched at once, over all files. */
const MAX_PREFETCH_BYTES = 8 * 1024 * 1024;
/** Pooled buffers a prefetch leaves free for readers' own fetches. */
const PREFETCH_RESERVE_BUFFERS = 4;
const MAX_TRACKED_READERS = 1024;
/** Room in a pooled buffer for the RPC reply header and READ result fields before the data. */
export const REPLY_HEADER_ROOM_BYTES = 4096;
/** Default number of pooled reply buffers (each maxReadBytes + REPLY_HEADER_ROOM_BYTES). */
export const DEFAULT_POOL_BUFFERS = 16;

/** Concatenation of `parts`, without copying when they are adjacent views of one buffer (one READ). */
function joinViews(parts: Buffer[]): { data: Buffer; copied: boolean } {
  if (parts.length === 1) return { data: parts[0]!, copied: false };
  let adjacent = parts.length > 0;
  for (let i = 1; i < parts.length && adjacent; i++) {
    const a = parts[i - 1]!;
    const b = parts[i]!;
    adjacent = b.buffer === a.buffer && b.byteOffset === a.byteOffset + a.length;
  }
  if (!adjacent) return { data: Buffer.concat(parts), copied: true };
  const total = parts.reduce((n, p) => n + p.length, 0);
  return { data: Buffer.from(parts[0]!.buffer, parts[0]!.byteOffset, total), copied: false };
}

/** Bytes held for a reply; `file` set means they are that range of a cache file and `data` is empty. */
export interface HeldRange extends HeldBytes {
  file?: FileSlice;
}

/** One fetch of consecutive blocks from main, shared by every reader of those blocks. */
class Run {
  /** The fetch's own reference (dropped once the cache write is done) plus one per reader. */
  private refs = 1;
  readonly leases: Lease[] = [];
  blocks!: Promise<Buffer[]>;
  /** Settles once the blocks are in the cache (or their cache write failed). */
  stored!: Promise<void>;

  retain(): this {
    this.refs++;
    return this;
  }

  release(): void {
    if (--this.refs > 0) return;
    for (const l of this.leases) l.release();
    this.leases.length = 0;
  }
}

export class MainReader {
  /** Blocks being fetched, per file (by block index: no string key per block on the hot path). */
  private readonly inflight = new Map<string, Map<number, { run: Run; index: number }>>();
  /** Blocks being filled into the cache by the splice fetcher, per file. */
  private readonly filling = new Map<string, Map<number, Promise<unknown>>>();
  /** Fills that failed (their reads took the JS path). */
  private fillFailures = 0;
  private pendingCacheBytes = 0;
  private prefetchBytes = 0;
  /** Reads whose blocks came from several fetches and had to be joined by a copy. */
  private joinedByCopy = 0;
  /** Fetches whose reply waited for the cache write (more than MAX_PENDING_CACHE_BYTES pending). */
  private cacheWaits = 0;
  /** Told of every client read of main blocks, before it is served (boot trace, prefetch accounting). */
  onClientRead: ((key: string, first: number, last: number) => void) | undefined;
  /** Per recently read file: where its last read ended and the bytes of its current sequential streak. */
  private readonly streaks = new Map<string, { end: number; bytes: number }>();
  readonly pool: BufferPool;

  constructor(
    private readonly main: Backend,
    private readonly cache: BlockCache | undefined,
    private readonly counters: Counters,
    readonly blockSize: number,
    private readonly maxReadBytes: number,
    pool?: BufferPool,
    /** Fills missing blocks natively (only used with a cache). */
    private readonly fetcher?: SpliceFetcher,
    /** Largest READ the fetcher sends to main (main's rtmax). */
    private readonly spliceReadBytes = maxReadBytes,
  ) {
    this.pool = pool ?? new BufferPool(maxReadBytes + REPLY_HEADER_ROOM_BYTES, DEFAULT_POOL_BUFFERS);
  }

  /** True when cold reads go through the splice fetcher. */
  get splicing(): boolean {
    return this.fetcher !== undefined && this.cache !== undefined;
  }

  /** Bytes of main data held by readers or fetches right now, and the pool's counters. */
  memory() {
    return { splicing: this.splicing, spliceReadBytes: this.spliceReadBytes, fillFailures: this.fillFailures, prefetchBytes: this.prefetchBytes, pendingCacheBytes: this.pendingCacheBytes, joinedByCopy: this.joinedByCopy, cacheWaits: this.cacheWaits, pool: { ...this.pool.stats, bufferBytes: this.pool.bufferBytes, maxBuffers: this.pool.maxBuffers } };
  }

  /**
   * Bytes [offset, offset + length) of the main file, cut short at its end of file. When every
   * block is cached this is one local read of exactly those bytes (no whole-block reads).
   * The caller releases the result once it no longer uses the bytes (after its reply was sent).
   */
  async range(fh: FileHandle, offset: number, length: number, fileSize?: number, asFile = false): Promise<HeldRange> {
    if (length === 0) return unpooled(EMPTY);
    const first = Math.floor(offset / this.blockSize);
    const last = Math.floor((offset + length - 1) / this.blockSize);
    const key = hex(fh);
    this.onClientRead?.(key, first, last);
    this.counters.file(key, fileSize === undefined ? length : Math.max(0, Math.min(length, fileSize - offset)), 0);
    if (fileSize !== undefined) this.readAhead(fh, key, offset, length, fileSize);
    const cachedAtStart = this.cache?.hasAll(key, first, last) ?? false;
    if (!cachedAtStart) this.counters.cacheWaitedReads++;
    if (this.cache) {
      // A file of one block or less comes through the JS path: its one READ answers the client
      // straight from the reply while the cache write runs behind; the splice path first opens
      // the cache file and waits for the data to land there (2-3 ms per 4 KB file under load, 3.5x
      // nfs-ganesha's PROXY_V4 on 2,000 small files).
      const small = fileSize !== undefined && fileSize <= this.blockSize;
      if (this.fetcher && !small && !cachedAtStart) {
        try {
          await this.fill(fh, key, first, last);
        } catch {
          this.fillFailures++; // the blocks still missing come through the JS path below
        }
      }
      if (this.cache.hasAll(key, first, last)) {
        // For a transport that sends file ranges: the cache file itself, no read into memory.
        const pinned = asFile ? await this.cache.pinRange(key, offset, length) : undefined;
        if (pinned) {
          this.counters.cacheHitBlocks += last - first + 1;
          this.counters.cacheHitBytes += length;
          return { data: EMPTY, file: pinned.slice, release: pinned.release };
        }
        const lease = length <= this.pool.bufferBytes ? this.pool.tryAcquire() : undefined;
        let hit: Buffer | undefined;
        try {
          hit = await this.cache.readRange(key, offset, length, lease?.buf);
        } catch (e) {
          lease?.release();
          throw e;
        }
        if (hit) {
          this.counters.cacheHitBlocks += last - first + 1;
          this.counters.cacheHitBytes += hit.length;
          return lease && hit.buffer === lease.buf.buffer ? heldBy(hit, [lease]) : (lease?.release(), unpooled(hit));
        }
        lease?.release();
      }
    }
    const held = await this.blocks(fh, first, last);
    const lo = offset - first * this.blockSize;
    const buf = held.data;
    return { data: buf.subarray(Math.min(lo, buf.length), Math.min(lo + length, buf.length)), release: held.release };
  }

  /**
   * A reader that continues where its last read ended gets blocks fetched from main ahead of its
   * requests (overlapping main round trips): as many bytes as its sequential streak holds so far,
   * at most MAX_READAHEAD_BYTES, never past the end of file; random readers get nothing extra.
   * A prefetch only uses pooled buffers that are free, leaving some for readers' own fetches.
   */
  private readAhead(fh: FileHandle, key: string, offset: number, length: number, fileSize: number): void {
    if (offset === 0 && length >= fileSize) return; // the whole file at once: no streak to follow (a small file)
    const prev = this.streaks.get(key);
    const sequential = prev?.end === offset;
    const streak = sequential ? prev.bytes + length : length;
    this.streaks.delete(key);
    if (this.streaks.size >= MAX_TRACKED_READERS) this.streaks.delete(this.streaks.keys().next().value as string);
    this.streaks.set(key, { end: offset + length, bytes: streak });
    if (!sequential || !this.cache || this.prefetchBytes >= MAX_PREFETCH_BYTES || offset + length >= fileSize) return;
    const from = Math.floor((offset + length) / this.blockSize);
    const to = Math.floor((Math.min(offset + length + Math.min(streak, MAX_READAHEAD_BYTES), fileSize) - 1) / this.blockSize);
    let b = from;
    const fetching = this.inflight.get(key);
    const filling = this.filling.get(key);
    while (b <= to && (this.cache.has(key, b) || fetching?.has(b) || filling?.has(b))) b++;
    let e = b;
    while (e + 1 <= to && !this.cache.has(key, e + 1) && !fetching?.has(e + 1) && !filling?.has(e + 1)) e++;
    if (b > to) return;
    const bytes = (e - b + 1) * this.blockSize;
    if (this.fetcher) {
      // Filled straight into the cache: no pooled buffer is held, only main and the disk are busy.
      this.prefetchBytes += bytes;
      void this.startFill(fh, key, b, e)
        .catch(() => this.fillFailures++)
        .finally(() => (this.prefetchBytes -= bytes));
      return;
    }
    if (this.pool.available < Math.ceil(bytes / this.maxReadBytes) + PREFETCH_RESERVE_BUFFERS) return;
    this.prefetchBytes += bytes;
    const run = this.startRun(fh, key, b, e);
    void run.blocks.catch(() => undefined).finally(() => (this.prefetchBytes -= bytes));
  }

  /**
   * Fetches blocks [first, last] of the main file into the cache ahead of any client (a boot-trace
   * prefetch); blocks cached or already being fetched are left alone. Resolves with the blocks this
   * call fetched, once they are stored; rejects when main failed.
   */
  async prefetch(fh: FileHandle, first: number, last: number): Promise<number[]> {
    const key = hex(fh);
    const busy = (b: number) => !!this.cache?.has(key, b) || !!this.inflight.get(key)?.has(b) || !!this.filling.get(key)?.has(b);
    const runs: Run[] = [];
    const fetched: number[] = [];
    for (let b = first; b <= last; b++) {
      if (busy(b)) continue;
      let e = b;
      while (e < last && !busy(e + 1)) e++;
      runs.push(this.startRun(fh, key, b, e).retain());
      for (let i = b; i <= e; i++) fetched.push(i);
      b = e;
    }
    try {
      for (const r of runs) {
        await r.blocks;
        await r.stored;
      }
    } finally {
      for (const r of runs) r.release();
    }
    return fetched;
  }

  /** Starts fetching blocks [first, last] (none cached or in flight); registers them in flight. */
  private startRun(fh: FileHandle, key: string, first: number, last: number): Run {
    const run = new Run();
    const fetched = this.fetchRun(fh, key, first, last, run);
    run.blocks = fetched.then((r) => r.blocks);
    run.stored = fetched.then(
      (r) => r.stored,
      () => undefined,
    );
    run.blocks.catch(() => undefined); // a prefetch nobody waits for must not be an unhandled rejection
    let fetching = this.inflight.get(key);
    if (!fetching) this.inflight.set(key, (fetching = new Map()));
    for (let i = first; i <= last; i++) fetching.set(i, { run, index: i - first });
    // The entries stay until the blocks are in the cache, so nobody fetches them from main twice;
    // then the fetch's own reference goes.
    const done = () => {
      const now = this.inflight.get(key);
      if (now) {
        for (let i = first; i <= last; i++) if (now.get(i)?.run === run) now.delete(i);
        if (now.size === 0) this.inflight.delete(key);
      }
      run.release();
    };
    void fetched.then((r) => r.stored.finally(done), done);
    return run;
  }

  /**
   * Bytes [first * blockSize, (last + 1) * blockSize) of the main file, cut short at its end of
   * file. Release the result when done with it.
   */
  async blocks(fh: FileHandle, first: number, last: number): Promise<HeldBytes> {
    const key = hex(fh);
    const parts: Array<Promise<Buffer>> = [];
    const held: Run[] = [];
    const maxRunBlocks = Math.max(1, Math.floor(this.maxReadBytes / this.blockSize)) * 4;
    let b = first;
    // Runs are joined (and retained) synchronously: none can be released before we hold it.
    while (b <= last) {
      const pending = this.inflight.get(key)?.get(b);
      if (pending) {
        held.push(pending.run.retain());
        const index = pending.index;
        parts.push(pending.run.blocks.then((bufs) => bufs[index]!));
        b++;
        continue;
      }
      const filled = this.filling.get(key)?.get(b);
      if (filled) {
        // Being filled natively: read it from the cache once there (a failed fill: IO error).
        const block = b;
        parts.push(filled.then(() => this.fromCache(key, block)));
        b++;
        continue;
      }
      if (this.cache?.has(key, b)) {
        parts.push(this.fromCache(key, b));
        b++;
        continue;
      }
      let e = b;
      const fetching = this.inflight.get(key);
      const filling = this.filling.get(key);
      while (e < last && e - b + 1 < maxRunBlocks && !fetching?.has(e + 1) && !filling?.has(e + 1) && !this.cache?.has(key, e + 1)) e++;
      const run = this.startRun(fh, key, b, e);
      held.push(run.retain());
      for (let i = b; i <= e; i++) {
        const index = i - b;
        parts.push(run.blocks.then((bufs) => bufs[index]!));
      }
      b = e + 1;
    }
    const releaseAll = () => {
      for (const r of held) r.release();
    };
    let bufs: Buffer[];
    try {
      bufs = await Promise.all(parts);
    } catch (e) {
      releaseAll();
      throw e;
    }
    // Stop at the first short block: that is the end of the main file.
    let n = 0;
    for (; n < bufs.length; n++) if (bufs[n]!.length < this.blockSize) break;
    const { data, copied } = joinViews(bufs.slice(0, Math.min(n + 1, bufs.length)));
    if (copied) {
      this.joinedByCopy++;
      releaseAll();
      return unpooled(data);
    }
    let done = false;
    return {
      data,
      release: () => {
        if (done) return;
        done = true;
        releaseAll();
      },
    };
  }

  /**
   * Puts blocks [first, last] of the main file into the cache (those before its end): waits for
   * fills and JS fetches already under way, fills the rest natively. Rejects when a fill failed.
   */
  private async fill(fh: FileHandle, key: string, first: number, last: number): Promise<void> {
    const waits: Array<Promise<unknown>> = [];
    const maxRunBlocks = Math.max(1, Math.floor(this.spliceReadBytes / this.blockSize)) * 4;
    let b = first;
    while (b <= last) {
      const filled = this.filling.get(key)?.get(b);
      const fetched = this.inflight.get(key)?.get(b);
      if (filled || fetched || this.cache!.has(key, b)) {
        if (filled) waits.push(filled);
        else if (fetched) waits.push(fetched.run.stored);
        b++;
        continue;
      }
      let e = b;
      const fetching = this.inflight.get(key);
      const filling = this.filling.get(key);
      while (e < last && e - b + 1 < maxRunBlocks && !fetching?.has(e + 1) && !filling?.has(e + 1) && !this.cache!.has(key, e + 1)) e++;
      waits.push(this.startFill(fh, key, b, e));
      b = e + 1;
    }
    await Promise.all(waits);
  }

  /**
   * Fills blocks [first, last] (none cached or in flight) from main into the cache with the splice
   * fetcher: READs of up to spliceReadBytes, in parallel, each written at its own offset. The
   * blocks are registered as filling until they are indexed (or the fill failed).
   */
  /**
   * Fills blocks [first, last] as pieces of one READ each, every piece registered on its own: a
   * reader waits only for the piece holding its blocks, not for the whole run. Settles once every
   * piece has (rejecting with the first failure).
   */
  private startFill(fh: FileHandle, key: string, first: number, last: number): Promise<unknown> {
    const perPiece = Math.max(1, Math.floor(this.spliceReadBytes / this.blockSize));
    if (last - first + 1 <= perPiece) return this.startPiece(fh, key, first, last);
    const pieces: Array<Promise<unknown>> = [];
    for (let b = first; b <= last; b += perPiece) pieces.push(this.startPiece(fh, key, b, Math.min(last, b + perPiece - 1)));
    return Promise.allSettled(pieces).then((settled) => {
      for (const s of settled) if (s.status === 'rejected') throw s.reason;
    });
  }

  private startPiece(fh: FileHandle, key: string, first: number, last: number): Promise<unknown> {
    const bs = this.blockSize;
    const want = (last - first + 1) * bs;
    const p = this.cache!.fillRun(key, first, async (fd, at) => {
      const pieces: Array<Promise<{ status: number; bytes: number; eof: boolean }>> = [];
      for (let off = 0; off < want; off += this.spliceReadBytes) {
        const count = Math.min(this.spliceReadBytes, want - off);
        this.counters.call('main', 'READ');
        pieces.push(this.fetcher!.read(fh, first * bs + off, count, fd, at + off));
      }
      // Every READ settles before the fill does (none may still write into the file afterwards).
      const settled = await Promise.allSettled(pieces);
      let bytes = 0;
      let ended = false;
      for (let i = 0; i < settled.length; i++) {
        const s = settled[i]!;
        if (s.status === 'rejected') throw s.reason;
        if (s.value.status !== Nfs3Status.OK) throw new StatusError(s.value.status, 'main READ');
        this.counters.bytesFromMain += s.value.bytes;
        // Bytes count only up to the first short READ: that is the end of the main file.
        if (!ended) bytes += s.value.bytes;
        if (s.value.bytes < Math.min(this.spliceReadBytes, want - i * this.spliceReadBytes)) ended = true;
      }
      this.counters.cacheMissBlocks += last - first + 1;
      this.counters.file(key, 0, bytes);
      return bytes;
    });
    let fills = this.filling.get(key);
    if (!fills) this.filling.set(key, (fills = new Map()));
    for (let i = first; i <= last; i++) fills.set(i, p);
    const done = () => {
      const now = this.filling.get(key);
      if (!now) return;
      for (let i = first; i <= last; i++) if (now.get(i) === p) now.delete(i);
      if (now.size === 0) this.filling.delete(key);
    };
    p.then(done, done);
    return p;
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
  private async fetchRun(fh: FileHandle, key: string, first: number, last: number, run: Run): Promise<{ blocks: Buffer[]; stored: Promise<void> }> {
    const start = first * this.blockSize;
    const want = (last - first + 1) * this.blockSize;
    // The run's READs go to main in parallel (a run is at most a few of them): one after the other,
    // a cold sequential reader would wait for main's latency once per READ.
    const pieces: Array<Promise<Buffer[]>> = [];
    for (let off = 0; off < want; off += this.maxReadBytes) {
      const lease = this.pool.tryAcquire();
      if (lease) run.leases.push(lease);
      pieces.push(this.readFully(fh, start + off, Math.min(this.maxReadBytes, want - off), lease?.buf));
    }
    // Every READ settles before the run can fail: a reply still arriving must not land in a
    // buffer the pool has handed to someone else.
    const settled = await Promise.allSettled(pieces);
    for (const s of settled) if (s.status === 'rejected') throw s.reason;
    const chunks: Buffer[] = [];
    let got = 0;
    for (const parts of settled.map((s) => (s as PromiseFulfilledResult<Buffer[]>).value)) {
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
    for (const r of runs) {
      runStarts.push(at);
      for (let off = 0; off < r.length; off += this.blockSize) out.push(r.subarray(off, Math.min(off + this.blockSize, r.length)));
      at += r.length;
    }
    while (out.length < last - first + 1) out.push(EMPTY);
    out.length = last - first + 1;
    this.counters.cacheMissBlocks += out.length;
    this.counters.file(key, 0, got);
    // Blocks past the end of file are not cached (an empty tail would hide the real last block).
    // A failed cache write only means fetching again later. The cache writes the same buffers
    // (the run keeps them until it is done).
    this.pendingCacheBytes += got;
    const stored = this.cache
      ? Promise.all(runs.map((r, i) => this.cache!.writeRun(key, first + runStarts[i]! / this.blockSize, r)))
          .then(() => undefined)
          .catch(() => undefined)
          .finally(() => (this.pendingCacheBytes -= got))
      : Promise.resolve().finally(() => (this.pendingCacheBytes -= got));
    // Backpressure: when the local disk falls behind, replies wait for it instead of memory growing.
    if (this.pendingCacheBytes > MAX_PENDING_CACHE_BYTES) {
      this.cacheWaits++;
      await stored;
    }
    return { blocks: out, stored };
  }

  /**
   * Bytes [offset, offset + count) of the main file as READ replies, fewer only at its end. The
   * first reply is assembled in `into` when given (it must hold count + REPLY_HEADER_ROOM_BYTES).
   */
  private async readFully(fh: FileHandle, offset: number, count: number, into?: Buffer): Promise<Buffer[]> {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < count) {
      const opts = into && got === 0 ? { replyInto: into } : undefined;
      const res = await this.main.ok('READ', { file: fh, offset: BigInt(offset + got), count: count - got }, undefined, opts);
      parts.push(Buffer.from(res.data.buffer, res.data.byteOffset, res.data.byteLength));
      got += res.data.length;
      if (res.eof || res.data.length === 0) break;
    }
    return parts;
  }
}
