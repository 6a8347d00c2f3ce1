// Local on-disk cache of main-server blocks, one cache directory per image (main export), so
// reading the same blocks again fetches nothing from the main server. The main export is
// read-only, so cached blocks never go stale.
//   <dir>/blocks/<sha1(file key)>   sparse file, block i at offset i * blockSize
//   <dir>/small-files.pack          files of one short block (at most PACK_MAX_BYTES), appended one
//                                   after another instead of a data file each (creating a file per
//                                   small main file cost ~0.35 ms of a pool thread)
//   <dir>/index (LMDB)              file key -> { bitmap of cached blocks, tail: [block, length], packed, crc }
// Ordering rule: a block's bytes are written to its file before its bit is set, so a bit never
// points at missing data (after a process crash; the data file is not fsynced, see docs/rowfs.md).
// The pack is fdatasynced before its files are indexed (one sync per flush), each packed file's
// CRC-32 is checked on every read, and appends go past every entry ever indexed: a pack that lost
// its tail (power loss, a truncation) makes its files absent, never another file's bytes.
import { CodedError } from '../../lib/coded-error.js';
import { createHash } from 'node:crypto';
import { closeSync, constants, fdatasync, fstatSync, openSync, readSync, write } from 'node:fs';
import { open as openFile, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import { open, type RootDatabase, type Database } from 'lmdb';
import { BlockBitmap } from '../state/bitmap.js';
import type { FileSlice } from '../xdr/file-slice.js';
import { makeDirectory } from '../../lib/make-directory.js';
import { systemClock, type Clock, type Timer } from '../../lib/clock.js';

export type BlockCacheErrorCode =
  | 'OPEN_FAILED' // the cache directory or its index could not be opened
  | 'SHORT_FILE' // a cache file holds fewer bytes than its index says
  | 'BLOCK_TOO_LARGE' // a block longer than the cache's block size
  | 'CLOSED'; // a write after close()

export class BlockCacheError extends CodedError<BlockCacheErrorCode> {
  constructor(
    code: BlockCacheErrorCode,
    message: string,
  ) {
    super(code, message); // shown to `overlay rowfs` users as is
  }
}

interface CacheEntry {
  bitmap: Uint8Array;
  /** A short final block (the file's end): [block index, length in bytes]. */
  tail: [number, number] | null;
  /** Where the file's one (short) block starts in the pack file (instead of a data file). */
  packed?: number;
  /** Which pack file (packIdOf): a pack file deleted and made anew never serves old entries. */
  pack?: string;
  /** CRC-32 of the packed file's bytes (a packed entry without one, from an older cache, is absent). */
  crc?: number;
}

/** An entry as kept in memory. */
interface MemEntry {
  bitmap: BlockBitmap;
  tail: [number, number] | null;
  packed: number | undefined;
  crc: number | undefined;
}

/** Meta key: the pack's append position (end of everything ever stored), by pack id. */
const PACK_END_KEY = 'packEnd';
type MetaValue = number | { id: string; end: number };

const MAX_OPEN_FILES = 64;
/** Longest delay before a cache index update is written. */
const INDEX_FLUSH_MS = 200;
/** Cache reads up to this size are done synchronously (page-cache hits, a few microseconds). */
const INLINE_READ_MAX_BYTES = 64 * 1024;
/** A main file this short (one block at most) is cached in the pack file, not a data file of its own. */
export const PACK_MAX_BYTES = 16 * 1024;
/** Packed bytes waiting for the next index flush before it is brought forward. */
const PACK_PENDING_MAX_BYTES = 4 * 1024 * 1024;
const PACK_FILE = 'small-files.pack';

/** The pack file's writes: Node's fs, or a double that injects failures. */
export interface PackIo {
  /** Writes `data` at `position` of `fd`; resolves with the bytes written (fewer on a short write). */
  write(fd: number, data: Buffer, position: number): Promise<number>;
  /** Makes the written bytes durable (fdatasync). */
  datasync(fd: number): Promise<void>;
}

const FS_PACK_IO: PackIo = {
  write: (fd, data, position) => new Promise((resolve, reject) => write(fd, data, 0, data.length, position, (e, n) => (e ? reject(e) : resolve(n)))),
  datasync: (fd) => new Promise((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve()))),
};

/** Runs waiting to be written to one cache file, and whether a writer is at work on it. */
interface WriteQueue {
  runs: Array<{ first: number; data: Uint8Array; resolve: () => void; reject: (e: Error) => void }>;
  active: boolean;
  drained?: Promise<void>;
}

/** Largest single writev of queued runs (bytes). */
const MAX_WRITEV_BYTES = 8 * 1024 * 1024;

export class BlockCache {
  private readonly writeQueues = new Map<string, WriteQueue>();
  /** Fills in progress (close() waits for them: their file descriptors must stay open). */
  private readonly fills = new Set<Promise<unknown>>();
  private closing = false;
  private readonly entries = new Map<string, MemEntry>();
  /** The pack file's descriptor (opened on first use) and where its next file goes. */
  private pack: { fd: number; end: number; id: string } | undefined;
  /** Packed files not written yet, in pack order (contiguous), and by key; reads see them meanwhile. */
  private packPending: Array<{ key: string; offset: number; bytes: Buffer }> = [];
  private packPendingBytes = 0;
  /** Packed files being written: their index entries wait for the write. */
  private readonly packUnwritten = new Map<string, { offset: number; bytes: Buffer }>();
  private readonly packWrites = new Set<Promise<void>>();
  private readonly files = new Map<string, { fh: Promise<FileHandle>; users: number }>();
  private readonly dirty = new Set<string>();
  private flushTimer: Timer | undefined;

  private constructor(
    readonly dir: string,
    readonly blockSize: number,
    private readonly env: RootDatabase,
    private readonly index: Database<CacheEntry, string>,
    private readonly meta: Database<MetaValue, string>,
    private readonly clock: Clock,
    private readonly packIo: PackIo,
  ) {}

  /** Opens (or creates) the cache in `dir`; `clock` times the debounced index writes. */
  static open(dir: string, blockSize: number, clock: Clock = systemClock, packIo: PackIo = FS_PACK_IO): BlockCache {
    try {
      makeDirectory(join(dir, 'blocks'));
      // noSync: the cache can always be refetched; its index is never worth an fsync per block.
      const env = open({ path: join(dir, 'index'), maxDbs: 2, compression: false, noSync: true });
      const index = env.openDB<CacheEntry, string>({ name: 'cache' });
      const meta = env.openDB<MetaValue, string>({ name: 'meta' });
      const stored = meta.get('blockSize');
      if (stored === undefined) meta.putSync('blockSize', blockSize);
      else if (stored !== blockSize) {
        // A cache made with another block size cannot be addressed block by block: start over.
        index.clearSync();
        meta.putSync('blockSize', blockSize);
      }
      return new BlockCache(dir, blockSize, env, index, meta, clock, packIo);
    } catch (err) {
      throw new BlockCacheError('OPEN_FAILED', `cannot open block cache in ${dir}: ${(err as Error).message}`);
    }
  }

  /** True when block `block` of file `key` is cached. */
  has(key: string, block: number): boolean {
    return this.entry(key).bitmap.has(block);
  }

  /**
   * The cached bytes of a block: blockSize bytes, or fewer for the file's final block.
   * Undefined when not cached.
   */
  async read(key: string, block: number): Promise<Buffer | undefined> {
    const e = this.entry(key);
    if (!e.bitmap.has(block)) return undefined;
    const length = e.tail && e.tail[0] === block ? e.tail[1] : this.blockSize;
    if (e.packed !== undefined) return this.packedBytes(key, e.packed, length, 0, length, Buffer.allocUnsafe(length));
    const buf = Buffer.alloc(length);
    if (length === 0) return buf;
    const { bytesRead } = await this.withFile(key, (fh) => fh.read(buf, 0, length, block * this.blockSize));
    if (bytesRead !== length) throw new BlockCacheError('SHORT_FILE', `cache file for ${key} is shorter than its index says`);
    return buf;
  }

  /** True when blocks [first, last] of file `key` are all cached. */
  hasAll(key: string, first: number, last: number): boolean {
    return this.entry(key).bitmap.hasAll(first, last);
  }

  /**
   * Bytes [offset, offset + length) when every block they touch is cached, in one read; cut short
   * at the file's end (a cached short tail block). Undefined when some block is missing. With
   * `into` (at least `length` bytes), the bytes are read into it and the result is a view of it.
   */
  async readRange(key: string, offset: number, length: number, into?: Buffer): Promise<Buffer | undefined> {
    if (length === 0) return Buffer.alloc(0);
    const e = this.entry(key);
    const first = Math.floor(offset / this.blockSize);
    const last = Math.floor((offset + length - 1) / this.blockSize);
    if (!e.bitmap.hasAll(first, last)) return undefined;
    let end = offset + length;
    // A short tail block ends the file: nothing past it exists.
    if (e.tail && e.tail[0] >= first && e.tail[0] <= last) end = Math.min(end, e.tail[0] * this.blockSize + e.tail[1]);
    if (end <= offset) return Buffer.alloc(0);
    const buf = into && into.length >= end - offset ? into.subarray(0, end - offset) : Buffer.allocUnsafe(end - offset);
    if (e.packed !== undefined) return this.packedBytes(key, e.packed, e.tail?.[1] ?? 0, offset, end, buf);
    // Small reads of cached (page-cache resident) data are cheaper done inline than through the
    // thread pool, whose round trip costs more than the copy.
    const { bytesRead } = await this.withFile(key, async (fh) =>
      buf.length <= INLINE_READ_MAX_BYTES ? { bytesRead: readSync(fh.fd, buf, 0, buf.length, offset) } : fh.read(buf, 0, buf.length, offset),
    );
    if (bytesRead !== buf.length) throw new BlockCacheError('SHORT_FILE', `cache file for ${key} is shorter than its index says`);
    return buf;
  }

  /**
   * Bytes [offset, offset + length) as a range of the open cache file, when every block they touch
   * is cached and the file holds all of them (not cut short by the file's end); undefined otherwise.
   * The file stays open until `release` (call it once the range has been sent).
   */
  async pinRange(key: string, offset: number, length: number): Promise<{ slice: FileSlice; release(): void } | undefined> {
    if (length === 0) return undefined;
    const e = this.entry(key);
    const first = Math.floor(offset / this.blockSize);
    const last = Math.floor((offset + length - 1) / this.blockSize);
    if (!e.bitmap.hasAll(first, last) || e.packed !== undefined) return undefined;
    if (e.tail && e.tail[0] >= first && e.tail[0] <= last && e.tail[0] * this.blockSize + e.tail[1] < offset + length) return undefined;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let fd!: number;
    const opened = new Promise<void>((resolve, reject) => {
      this.withFile(key, async (fh) => {
        fd = fh.fd;
        resolve();
        await held;
      }).catch(reject);
    });
    await opened;
    let done = false;
    return {
      slice: { fd, offset, length },
      release: () => {
        if (done) return;
        done = true;
        release();
      },
    };
  }

  /** Stores a block fetched from main; `data` shorter than blockSize marks the file's end. */
  async write(key: string, block: number, data: Uint8Array): Promise<void> {
    if (data.length > this.blockSize) throw new BlockCacheError('BLOCK_TOO_LARGE', 'block larger than block size');
    if (data.length > 0) await this.withFile(key, (fh) => fh.write(data, 0, data.length, block * this.blockSize));
    const e = this.entry(key);
    e.bitmap.set(block);
    if (data.length < this.blockSize) e.tail = [block, data.length];
    // Not awaited: losing an index update only means fetching the block again.
    this.markDirty(key);
  }

  /**
   * Stores consecutive blocks fetched from main: `data` starts at block `first`; its last block may
   * be short (the file's end). Resolves once the bytes are written and indexed; `data` must stay
   * unchanged until then. Writes to one file go out one at a time (queued runs that follow each
   * other become one writev): concurrent writers of one file only contend for its inode lock.
   */
  writeRun(key: string, first: number, data: Uint8Array): Promise<void> {
    if (data.length === 0) return Promise.resolve();
    if (this.closing) return Promise.reject(new BlockCacheError('CLOSED', 'block cache closed'));
    if (first === 0 && data.length < this.blockSize && data.length <= PACK_MAX_BYTES && this.entry(key).bitmap.count() === 0) {
      this.storePacked(key, data);
      return Promise.resolve();
    }
    let q = this.writeQueues.get(key);
    if (!q) this.writeQueues.set(key, (q = { runs: [], active: false }));
    const p = new Promise<void>((resolve, reject) => q!.runs.push({ first, data, resolve, reject }));
    if (!q.active) q.drained = this.drainWrites(key, q);
    return p;
  }

  /**
   * Stores consecutive blocks starting at block `first` that `fill` writes into the cache file
   * itself (e.g. spliced from a socket): `fill(fd, byteOffset)` resolves with the bytes it wrote
   * there. Only once it has resolved are those blocks indexed (a short last block marks the file's
   * end), so a failed or interrupted fill leaves them absent, never present with wrong bytes.
   */
  fillRun(key: string, first: number, fill: (fd: number, byteOffset: number) => Promise<number>): Promise<number> {
    if (this.closing) return Promise.reject(new BlockCacheError('CLOSED', 'block cache closed'));
    const p = this.withFile(key, async (fh) => {
      const bytes = await fill(fh.fd, first * this.blockSize);
      if (bytes > 0) this.indexRun(key, first, bytes);
      return bytes;
    });
    this.fills.add(p);
    void p.catch(() => undefined).finally(() => this.fills.delete(p));
    return p;
  }

  private async drainWrites(key: string, q: WriteQueue): Promise<void> {
    q.active = true;
    try {
      while (q.runs.length > 0) {
        const batch = q.runs.splice(0).sort((a, b) => a.first - b.first);
        for (let i = 0; i < batch.length; ) {
          // Runs that continue each other (whole blocks up to the next run) go in one writev.
          let j = i + 1;
          let bytes = batch[i]!.data.length;
          while (
            j < batch.length &&
            bytes < MAX_WRITEV_BYTES &&
            batch[j - 1]!.data.length % this.blockSize === 0 &&
            batch[j]!.first === batch[j - 1]!.first + batch[j - 1]!.data.length / this.blockSize
          ) {
            bytes += batch[j]!.data.length;
            j++;
          }
          const group = batch.slice(i, j);
          try {
            await this.withFile(key, (fh) => fh.writev(group.map((r) => r.data), group[0]!.first * this.blockSize));
            for (const r of group) this.indexRun(key, r.first, r.data.length);
            for (const r of group) r.resolve();
          } catch (e) {
            for (const r of group) r.reject(e as Error);
          }
          i = j;
        }
      }
    } finally {
      q.active = false;
      this.writeQueues.delete(key);
    }
  }

  /**
   * A whole file of one short block, appended to the pack file (copied: `data` may be a pooled
   * buffer). Readable at once; written with the next index flush, all pending files in one write,
   * and indexed only once that write is done, so an entry never points at bytes not written.
   * More than PACK_PENDING_MAX_BYTES waiting brings the flush forward.
   */
  private storePacked(key: string, data: Uint8Array): void {
    const pack = this.openPack();
    const bytes = Buffer.from(data);
    const offset = pack.end;
    pack.end += bytes.length;
    this.packPending.push({ key, offset, bytes });
    this.packPendingBytes += bytes.length;
    this.packUnwritten.set(key, { offset, bytes });
    const e = this.entry(key);
    e.packed = offset;
    e.crc = crc32(bytes);
    this.indexRun(key, 0, bytes.length);
    if (this.packPendingBytes > PACK_PENDING_MAX_BYTES) {
      this.flushTimer?.cancel();
      this.flushIndex();
    }
  }

  private openPack(): { fd: number; end: number; id: string } {
    if (!this.pack) {
      const fd = openSync(join(this.dir, PACK_FILE), constants.O_RDWR | constants.O_CREAT, 0o644);
      const st = fstatSync(fd, { bigint: true });
      const id = `${st.ino}:${st.birthtimeNs}`;
      // Past every entry ever indexed, even when the pack lost its tail: a new file never lands
      // where an old entry points.
      const stored = this.meta.get(PACK_END_KEY);
      const end = typeof stored === 'object' && stored.id === id ? stored.end : 0;
      this.pack = { fd, end: Math.max(Number(st.size), end), id };
    }
    return this.pack;
  }

  /**
   * Bytes [from, to) of a packed file of `length` bytes starting at `offset` in the pack, into
   * `into`. The whole file is read and its CRC-32 checked: bytes missing from or changed in the
   * pack unindex the file, so it is fetched from main again: undefined.
   */
  private packedBytes(key: string, offset: number, length: number, from: number, to: number, into: Buffer): Buffer | undefined {
    const out = into.subarray(0, to - from);
    const unwritten = this.packUnwritten.get(key);
    if (unwritten && unwritten.offset === offset) {
      unwritten.bytes.copy(out, 0, from, to);
      return out;
    }
    if (to <= length) {
      // Page-cache reads of at most PACK_MAX_BYTES: inline, like small data-file reads.
      const whole = from === 0 && to === length ? out : Buffer.allocUnsafe(length);
      if (readSync(this.openPack().fd, whole, 0, length, offset) === length && crc32(whole) === this.entry(key).crc) {
        if (whole !== out) whole.copy(out, 0, from, to);
        return out;
      }
    }
    this.unindex(key);
    return undefined;
  }

  /** Forgets every cached block of `key` (fetched from main again). */
  private unindex(key: string): void {
    const e = this.entry(key);
    e.bitmap = BlockBitmap.decode(undefined);
    e.tail = null;
    e.packed = undefined;
    e.crc = undefined;
    this.markDirty(key);
  }

  private indexRun(key: string, first: number, length: number): void {
    const e = this.entry(key);
    const blocks = Math.ceil(length / this.blockSize);
    e.bitmap.setRange(first, first + blocks - 1);
    const lastLen = length - (blocks - 1) * this.blockSize;
    if (lastLen < this.blockSize) e.tail = [first + blocks - 1, lastLen];
    this.markDirty(key);
  }

  /**
   * Index entries are written at most every INDEX_FLUSH_MS per file (and on close): a lost update
   * only means fetching those blocks again, and the data is always written before its entry.
   */
  private markDirty(key: string): void {
    this.dirty.add(key);
    if (this.closing) return; // close() flushes what is dirty
    this.flushTimer ??= this.clock.setTimeout(() => this.flushIndex(), INDEX_FLUSH_MS);
  }

  private flushIndex(): void {
    this.flushTimer = undefined;
    const packing = this.packPending;
    if (packing.length > 0) {
      this.packPending = [];
      this.packPendingBytes = 0;
      this.writePacked(packing);
    }
    // A packed file still being written is indexed by its write, once its bytes are on disk.
    for (const key of this.dirty) if (!this.packUnwritten.has(key)) this.putEntry(key);
    this.dirty.clear();
  }

  /**
   * Writes pending packed files (contiguous in the pack) in one write and one fdatasync, then
   * indexes them (an index entry never outlives its bytes, even across a power loss).
   */
  private writePacked(packing: Array<{ key: string; offset: number; bytes: Buffer }>): void {
    const pack = this.openPack();
    const all = Buffer.concat(packing.map((p) => p.bytes));
    const done = this.packIo
      .write(pack.fd, all, packing[0]!.offset)
      .then(async (n) => {
        if (n !== all.length) return false;
        await this.packIo.datasync(pack.fd);
        return true;
      })
      .catch(() => false)
      .then((ok) => {
        if (ok) this.meta.put(PACK_END_KEY, { id: pack.id, end: pack.end }).catch(() => undefined);
        for (const p of packing) {
          const now = this.packUnwritten.get(p.key);
          if (now?.offset !== p.offset) continue; // stored again since
          this.packUnwritten.delete(p.key);
          // A failed, short or unsynced write is never indexed and its files are forgotten in
          // memory too (a later batch past them would make them read as zeros): fetched again.
          if (ok) this.putEntry(p.key);
          else this.unindex(p.key);
        }
      });
    this.packWrites.add(done);
    void done.then(() => this.packWrites.delete(done));
  }

  private putEntry(key: string): void {
    const e = this.entry(key);
    const packed = e.packed !== undefined ? { packed: e.packed, pack: this.openPack().id, crc: e.crc } : {};
    this.index.put(key, { bitmap: e.bitmap.encode(), tail: e.tail, ...packed }).catch(() => undefined);
  }

  /** Blocks cached for `key`. */
  cachedBlocks(key: string): number {
    return this.entry(key).bitmap.count();
  }

  async close(): Promise<void> {
    // Queued writes finish first (their holders wait for them); nothing new is accepted.
    this.closing = true;
    await Promise.all([...this.writeQueues.values()].map((q) => q.drained));
    await Promise.allSettled([...this.fills]);
    this.flushTimer?.cancel();
    this.flushTimer = undefined;
    this.flushIndex();
    await Promise.all([...this.packWrites]);
    await this.index.committed;
    if (this.pack) closeSync(this.pack.fd);
    this.pack = undefined;
    for (const slot of this.files.values()) await (await slot.fh).close().catch(() => undefined);
    this.files.clear();
    await this.env.close();
  }

  private entry(key: string): MemEntry {
    let e = this.entries.get(key);
    if (!e) {
      const stored = this.index.get(key);
      const lostPack = stored?.packed !== undefined && (stored.pack !== this.openPack().id || stored.crc === undefined);
      e = lostPack
        ? { bitmap: BlockBitmap.decode(undefined), tail: null, packed: undefined, crc: undefined }
        : { bitmap: BlockBitmap.decode(stored?.bitmap), tail: stored?.tail ?? null, packed: stored?.packed, crc: stored?.crc };
      this.entries.set(key, e);
    }
    return e;
  }

  /** Runs `fn` with the open data file of `key`; files are pooled and closed only when idle. */
  private async withFile<T>(key: string, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
    let slot = this.files.get(key);
    if (slot) {
      this.files.delete(key); // refresh LRU position
    } else {
      const path = join(this.dir, 'blocks', createHash('sha1').update(key).digest('hex'));
      // Read-write, created when missing, never truncated: one open (was 'a+', close, 'r+').
      slot = { fh: openFile(path, constants.O_RDWR | constants.O_CREAT, 0o644), users: 0 };
    }
    this.files.set(key, slot);
    slot.users++;
    this.evictIdle();
    try {
      return await fn(await slot.fh);
    } finally {
      slot.users--;
      this.evictIdle();
    }
  }

  private evictIdle(): void {
    if (this.files.size <= MAX_OPEN_FILES) return;
    for (const [k, slot] of this.files) {
      if (this.files.size <= MAX_OPEN_FILES) break;
      if (slot.users > 0) continue;
      this.files.delete(k);
      void slot.fh.then((f) => f.close()).catch(() => undefined);
    }
  }
}
