// The block cache's small-files pack: one append-only file (`small-files.pack`) holding whole
// files of one short block (at most PACK_MAX_BYTES), one after another, instead of a data file each
// (creating a file per small main file cost ~0.35 ms of a pool thread).
// Pipeline: store() copies a file to the pending batch (readable at once, from memory) -> flush()
// writes the batch in one writev (the files' own buffers: no batch-sized copy) and one fdatasync ->
// the report says which keys landed (the cache indexes them) or failed (the cache forgets them).
// Ordering rule: the pack is fdatasynced before its files are reported landed (one sync per flush),
// each file's CRC-32 is checked on every read, and appends go past every entry ever saved: a pack
// that lost its tail (power loss, a truncation) makes its files absent, never another file's bytes.
import { closeSync, constants, fdatasync, fstatSync, openSync, readSync, writev } from 'node:fs';
import { crc32 } from 'node:zlib';

/** A main file this short (one block at most) is cached in the pack file, not a data file of its own. */
export const PACK_MAX_BYTES = 16 * 1024;
export const PACK_FILE = 'small-files.pack';

/** The pack file's writes: Node's fs, or a double that injects failures. */
export interface PackIo {
  /** Writes `pieces` one after another at `position` of `fd`; resolves with the bytes written (fewer on a short write). */
  write(fd: number, pieces: Buffer[], position: number): Promise<number>;
  /** Makes the written bytes durable (fdatasync). */
  datasync(fd: number): Promise<void>;
}

export const FS_PACK_IO: PackIo = {
  write: (fd, pieces, position) => new Promise((resolve, reject) => writev(fd, pieces, position, (e, n) => (e ? reject(e) : resolve(n)))),
  datasync: (fd) => new Promise((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve()))),
};

/** The pack's append position (end of everything ever stored), for the pack file `id`. */
export interface PackEnd {
  id: string;
  end: number;
}

/** Where the append position is kept across reopens (the cache index's meta database). */
export interface PackEndStore {
  /** The last position saved, undefined when none. */
  load(): PackEnd | undefined;
  /** Saves the position (not awaited: a lost save is caught by the pack's size or a new pack id). */
  save(end: PackEnd): void;
}

/** Which keys of a flushed batch are on disk (synced), and which were not written. */
export interface PackFlushResult {
  landed: string[];
  failed: string[];
}

export class SmallFilePack {
  /** The pack file's descriptor (opened on first use) and where its next file goes. */
  private file: { fd: number; end: number; id: string } | undefined;
  /** Packed files not written yet, in pack order (contiguous); reads see them meanwhile. */
  private pending: Array<{ key: string; offset: number; bytes: Buffer }> = [];
  private pendingByteCount = 0;
  /** Packed files not yet on disk (pending or being written), by key. */
  private readonly unwritten = new Map<string, { offset: number; bytes: Buffer }>();
  private readonly writes = new Set<Promise<void>>();

  constructor(
    private readonly path: string,
    private readonly savedEnd: PackEndStore,
    private readonly io: PackIo = FS_PACK_IO,
  ) {}

  /** Identifies this pack file: a pack file deleted and made anew never serves old entries. */
  get id(): string {
    return this.open().id;
  }

  /** Bytes stored but not yet handed to a flush. */
  get pendingBytes(): number {
    return this.pendingByteCount;
  }

  /** True while the file stored for `key` is not on disk yet (pending or being written). */
  isUnwritten(key: string): boolean {
    return this.unwritten.has(key);
  }

  /**
   * Appends a whole file (copied: `data` may be a pooled buffer) and returns its offset in the pack.
   * Readable at once; written by the next flush().
   */
  store(key: string, data: Uint8Array): number {
    const file = this.open();
    const bytes = Buffer.from(data);
    const offset = file.end;
    file.end += bytes.length;
    this.pending.push({ key, offset, bytes });
    this.pendingByteCount += bytes.length;
    this.unwritten.set(key, { offset, bytes });
    return offset;
  }

  /**
   * Bytes [from, to) of the file of `length` bytes stored for `key` at `offset`, into `into`. The
   * whole file is read and its CRC-32 checked against `crc`: bytes missing from or changed in the
   * pack give undefined (the caller forgets the file, so it is fetched from main again).
   */
  read(key: string, offset: number, length: number, crc: number | undefined, from: number, to: number, into: Buffer): Buffer | undefined {
    const out = into.subarray(0, to - from);
    const unwritten = this.unwritten.get(key);
    if (unwritten && unwritten.offset === offset) {
      unwritten.bytes.copy(out, 0, from, to);
      return out;
    }
    if (to > length) return undefined;
    // Page-cache reads of at most PACK_MAX_BYTES: inline, like small data-file reads.
    const whole = from === 0 && to === length ? out : Buffer.allocUnsafe(length);
    if (readSync(this.open().fd, whole, 0, length, offset) !== length || crc32(whole) !== crc) return undefined;
    if (whole !== out) whole.copy(out, 0, from, to);
    return out;
  }

  /**
   * Writes the pending files (contiguous in the pack) in one writev and one fdatasync, then saves
   * the append position and calls `report` with the keys that landed (index them: an index entry
   * never outlives its bytes, even across a power loss) or failed. A failed, short or unsynced
   * write lands nothing. Keys stored again since are left out: their newer copy is still unwritten.
   */
  flush(report: (result: PackFlushResult) => void): void {
    const batch = this.pending;
    if (batch.length === 0) return;
    const bytes = this.pendingByteCount;
    this.pending = [];
    this.pendingByteCount = 0;
    const file = this.open();
    // The files' own buffers, not one concatenation: a batch is up to PACK_PENDING_MAX_BYTES, and
    // copying it was 2 % of the proxy's CPU samples in bench:rowfs's small-files phase.
    // (libuv writes more than IOV_MAX pieces in several writevs, going on after a short one.)
    const done = this.io
      .write(file.fd, batch.map((p) => p.bytes), batch[0]!.offset)
      .then(async (n) => {
        if (n !== bytes) return false;
        await this.io.datasync(file.fd);
        return true;
      })
      .catch(() => false)
      .then((ok) => {
        if (ok) this.savedEnd.save({ id: file.id, end: file.end });
        const result: PackFlushResult = { landed: [], failed: [] };
        for (const p of batch) {
          const now = this.unwritten.get(p.key);
          if (now?.offset !== p.offset) continue; // stored again since
          this.unwritten.delete(p.key);
          (ok ? result.landed : result.failed).push(p.key);
        }
        report(result);
      });
    this.writes.add(done);
    void done.then(() => this.writes.delete(done));
  }

  /** Waits for the flushes under way (and their reports), then closes the file; a later use reopens it. */
  async close(): Promise<void> {
    await Promise.all([...this.writes]);
    if (this.file) closeSync(this.file.fd);
    this.file = undefined;
  }

  private open(): { fd: number; end: number; id: string } {
    if (!this.file) {
      const fd = openSync(this.path, constants.O_RDWR | constants.O_CREAT, 0o644);
      const st = fstatSync(fd, { bigint: true });
      const id = `${st.ino}:${st.birthtimeNs}`;
      // Past every entry ever indexed, even when the pack lost its tail: a new file never lands
      // where an old entry points.
      const saved = this.savedEnd.load();
      const end = saved?.id === id ? saved.end : 0;
      this.file = { fd, end: Math.max(Number(st.size), end), id };
    }
    return this.file;
  }
}
