// Local on-disk cache of main-server blocks, one cache directory per image (main export), so
// reading the same blocks again fetches nothing from the main server. The main export is
// read-only, so cached blocks never go stale.
//   <dir>/blocks/<sha1(file key)>   sparse file, block i at offset i * blockSize
//   <dir>/small-files.pack          files of one short block (at most PACK_MAX_BYTES), appended one
//                                   after another instead of a data file each (small-file-pack.ts)
//   <dir>/index (LMDB)              file key -> { bitmap of cached blocks, tail: [block, length], packed, crc }
// Ordering rule: a block's bytes are written to its file before its bit is set, so a bit never
// points at missing data after a process crash. Neither the data files nor the index are synced,
// so after a machine crash a bit may point at data that never reached the disk: the cache marks
// itself open with the machine's boot id and, opened after a reboot it did not see coming, starts
// empty; one process holds it at a time (cache-ownership.ts, docs/rowfs.md).
// A packed file is indexed only once the pack reports it landed (written and fdatasynced), and
// forgotten when its write failed or its bytes fail their CRC-32 (see small-file-pack.ts).
import { CodedError } from '../../lib/coded-error.js';
import { createHash } from 'node:crypto';
import { constants, readSync, rmSync } from 'node:fs';
import { open as openFile, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import { open, type RootDatabase, type Database } from 'lmdb';
import { BlockBitmap } from '../state/bitmap.js';
import { LMDB_MAP_BYTES } from '../state/lmdb-map.js';
import type { FileSlice } from '../xdr/file-slice.js';
import { makeDirectory } from '../../lib/make-directory.js';
import { systemClock, type Clock, type Timer } from '../../lib/clock.js';
import { CacheOwnership, currentBootId } from './cache-ownership.js';
import { StateLockError } from '../../lib/state-lock.js';
import { FS_PACK_IO, PACK_FILE, PACK_MAX_BYTES, SmallFilePack, type PackIo } from './small-file-pack.js';

export { PACK_MAX_BYTES, type PackIo } from './small-file-pack.js';
export { currentBootId } from './cache-ownership.js';

export type BlockCacheErrorCode =
  | 'OPEN_FAILED' // the cache directory or its index could not be opened
  | 'IN_USE' // another process holds the cache directory
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
/** The LMDB index (a directory). */
const INDEX_NAME = 'index';
type MetaValue = number | { id: string; end: number };

const MAX_OPEN_FILES = 64;
/**
 * Files whose index entries are kept in memory (~430 bytes each in a heap snapshot: 4,096 are ~1.8
 * MB of the proxy's 100 MB budget; 16,384 were ~7 MB). Past it the least recently used clean ones are
 * dropped and read from the index again when next needed (an LMDB read and decode, microseconds).
 * An entry dirty or waiting for the pack's write is never dropped (its memory state is ahead of the
 * index); a dropped one read back can only lack bits the index has not caught up with yet (a block
 * fetched again), never claim a block that is not there.
 */
export const MAX_MEM_ENTRIES = 4_096;
/** Entries looked at per insertion when making room (the rest waits for the next insertion). */
const EVICT_SCAN = 64;
/** Longest delay before a cache index update is written. */
const INDEX_FLUSH_MS = 200;
/** Cache reads up to this size are done synchronously (page-cache hits, a few microseconds). */
const INLINE_READ_MAX_BYTES = 64 * 1024;
/** Packed bytes waiting for the next index flush before it is brought forward. */
const PACK_PENDING_MAX_BYTES = 4 * 1024 * 1024;

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
  /** Keys whose data files were written since the open (synced on close). */
  private readonly written = new Set<string>();
  private closing = false;
  /** Index entries in memory, least recently used first (at most maxMemEntries, see MAX_MEM_ENTRIES). */
  private readonly entries = new Map<string, MemEntry>();
  /** Set once an entry has been dropped from `entries`: from then on a key not there may be in the index. */
  private dropped = false;
  /** Files of one short block; their index entries wait for the pack's write. */
  private readonly pack: SmallFilePack;
  private readonly files = new Map<string, { fh: Promise<FileHandle>; users: number }>();
  private readonly dirty = new Set<string>();
  private flushTimer: Timer | undefined;
  /**
   * True when the index held no entry at open (a new cache, or one emptied after a crash or a
   * block-size change): until an entry is dropped (`dropped`), every entry since is in `entries`,
   * so a key not there is not cached and needs no index read (one per new file: 1-2 % of the
   * proxy's CPU reading 2,000 small files).
   */
  private readonly indexEmptyAtOpen: boolean;

  private constructor(
    readonly dir: string,
    readonly blockSize: number,
    private readonly env: RootDatabase,
    private readonly index: Database<CacheEntry, string>,
    private readonly meta: Database<MetaValue, string>,
    private readonly clock: Clock,
    packIo: PackIo,
    private readonly ownership: CacheOwnership,
    private readonly maxMemEntries: number,
  ) {
    this.indexEmptyAtOpen = index.getKeysCount({ limit: 1 }) === 0;
    this.pack = new SmallFilePack(
      join(dir, PACK_FILE),
      {
        load: () => {
          const saved = meta.get(PACK_END_KEY);
          return typeof saved === 'object' ? saved : undefined;
        },
        save: (end) => void meta.put(PACK_END_KEY, end).catch(() => undefined),
      },
      packIo,
    );
  }

  /**
   * Opens (or creates) the cache in `dir`; `clock` times the debounced index writes. A cache left
   * open by an earlier boot of the machine (`bootId`: this boot's) is emptied first.
   */
  static open(dir: string, blockSize: number, clock: Clock = systemClock, packIo: PackIo = FS_PACK_IO, bootId: string = currentBootId(), maxMemEntries = MAX_MEM_ENTRIES): BlockCache {
    let ownership: CacheOwnership | undefined;
    try {
      makeDirectory(dir);
      let taken: ReturnType<typeof CacheOwnership.take>;
      try {
        taken = CacheOwnership.take(dir, bootId);
      } catch (err) {
        if (err instanceof StateLockError) throw new BlockCacheError('IN_USE', `block cache ${dir} is ${err.message}`);
        throw err;
      }
      ownership = taken.ownership;
      if (taken.crashed) {
        // Bits may point at data that never reached the disk: nothing in here can be trusted.
        rmSync(join(dir, INDEX_NAME), { recursive: true, force: true });
        rmSync(join(dir, 'blocks'), { recursive: true, force: true });
        rmSync(join(dir, PACK_FILE), { force: true });
      }
      makeDirectory(join(dir, 'blocks'));
      // noSync: the cache can always be refetched; its index is never worth an fsync per block.
      const env = open({ path: join(dir, INDEX_NAME), maxDbs: 2, compression: false, noSync: true, mapSize: LMDB_MAP_BYTES });
      const index = env.openDB<CacheEntry, string>({ name: 'cache' });
      const meta = env.openDB<MetaValue, string>({ name: 'meta' });
      const stored = meta.get('blockSize');
      if (stored === undefined) meta.putSync('blockSize', blockSize);
      else if (stored !== blockSize) {
        // A cache made with another block size cannot be addressed block by block: start over.
        index.clearSync();
        meta.putSync('blockSize', blockSize);
      }
      return new BlockCache(dir, blockSize, env, index, meta, clock, packIo, ownership, maxMemEntries);
    } catch (err) {
      ownership?.abandon();
      if (err instanceof BlockCacheError) throw err;
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
    if (e.packed !== undefined) return this.readPacked(key, e, 0, length, Buffer.allocUnsafe(length));
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
    if (e.packed !== undefined) return this.readPacked(key, e, offset, end, buf);
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
    if (data.length > 0) {
      this.written.add(key);
      await this.withFile(key, (fh) => fh.write(data, 0, data.length, block * this.blockSize));
    }
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
    this.written.add(key);
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
            this.written.add(key);
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
   * A whole file of one short block, appended to the pack (copied: `data` may be a pooled buffer).
   * Readable at once; written with the next index flush, all pending files in one write, and
   * indexed only once that write is done, so an entry never points at bytes not written.
   * More than PACK_PENDING_MAX_BYTES waiting brings the flush forward.
   */
  private storePacked(key: string, data: Uint8Array): void {
    const e = this.entry(key);
    e.packed = this.pack.store(key, data);
    e.crc = crc32(data);
    this.indexRun(key, 0, data.length);
    if (this.pack.pendingBytes > PACK_PENDING_MAX_BYTES) {
      this.flushTimer?.cancel();
      this.flushIndex();
    }
  }

  /**
   * Bytes [from, to) of the packed file of `key` (one block, `e.tail` long), into `into`. Bytes
   * missing from or changed in the pack unindex the file, so it is fetched from main again: undefined.
   */
  private readPacked(key: string, e: MemEntry, from: number, to: number, into: Buffer): Buffer | undefined {
    const bytes = this.pack.read(key, e.packed!, e.tail?.[1] ?? 0, e.crc, from, to, into);
    if (bytes === undefined) this.unindex(key);
    return bytes;
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
    // Landed files are indexed; a failed, short or unsynced write is never indexed and its files
    // are forgotten in memory too (a later batch past them would make them read as zeros): fetched again.
    this.pack.flush(({ landed, failed }) => {
      for (const key of landed) this.putEntry(key);
      for (const key of failed) this.unindex(key);
    });
    // A packed file still being written is indexed by its write, once its bytes are on disk.
    for (const key of this.dirty) if (!this.pack.isUnwritten(key)) this.putEntry(key);
    this.dirty.clear();
  }

  private putEntry(key: string): void {
    const e = this.entry(key);
    const packed = e.packed !== undefined ? { packed: e.packed, pack: this.pack.id, crc: e.crc } : {};
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
    await this.pack.close(); // after its writes have indexed their files
    await this.index.committed;
    for (const slot of this.files.values()) await (await slot.fh).close().catch(() => undefined);
    this.files.clear();
    await this.env.close();
    // Unsynced until now: the index and every data file written since the open reach the disk
    // before the mark that says the cache was closed cleanly goes.
    await this.ownership.release([join(this.dir, INDEX_NAME), ...[...this.written].map((key) => this.dataPath(key))]);
  }

  private entry(key: string): MemEntry {
    let e = this.entries.get(key);
    if (e) {
      this.entries.delete(key); // most recently used last
      this.entries.set(key, e);
      return e;
    }
    const stored = this.indexEmptyAtOpen && !this.dropped ? undefined : this.index.get(key);
    const lostPack = stored?.packed !== undefined && (stored.pack !== this.pack.id || stored.crc === undefined);
    e = lostPack
      ? { bitmap: BlockBitmap.decode(undefined), tail: null, packed: undefined, crc: undefined }
      : { bitmap: BlockBitmap.decode(stored?.bitmap), tail: stored?.tail ?? null, packed: stored?.packed, crc: stored?.crc };
    this.entries.set(key, e);
    if (this.entries.size > this.maxMemEntries) this.dropClean(key);
    return e;
  }

  /**
   * Drops least recently used entries that the index already holds as they are (see
   * MAX_MEM_ENTRIES), never `using`: its caller is about to change the entry it was just given.
   */
  private dropClean(using: string): void {
    let scanned = 0;
    for (const key of this.entries.keys()) {
      if (this.entries.size <= this.maxMemEntries || scanned++ >= EVICT_SCAN) break;
      if (key === using || this.dirty.has(key) || this.pack.isUnwritten(key) || this.writeQueues.has(key)) continue;
      this.entries.delete(key);
      this.dropped = true;
    }
  }

  /** Index entries held in memory now (bounded by MAX_MEM_ENTRIES). */
  get memEntries(): number {
    return this.entries.size;
  }

  private dataPath(key: string): string {
    return join(this.dir, 'blocks', createHash('sha1').update(key).digest('hex'));
  }

  /** Runs `fn` with the open data file of `key`; files are pooled and closed only when idle. */
  private async withFile<T>(key: string, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
    let slot = this.files.get(key);
    if (slot) {
      this.files.delete(key); // refresh LRU position
    } else {
      const path = this.dataPath(key);
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
