// File data through the proxy. A file that was never written is read from main (through the block
// cache). Once written, a file has a sparse shadow file of the same logical size and a presence
// bitmap: block i comes from the shadow if its bit is set or i >= mainBlocks, else from main.
// Writes go to the shadow in place; a write covering only part of a block not yet in the shadow
// first fills the rest of that block from main, so a set bit always means "the whole block is in
// the shadow". Ordering: shadow data first, then the bitmap commit, then the reply.
import type { Random } from '../../lib/clock.js';
import { Ftype3, Nfs3Status, StableHow, type Fattr3, type WccData } from '../nfs3/types.js';
import type { OpaqueAuth } from '../rpc/message.js';
import { unpooled, type HeldBytes } from '../rpc/buffer-pool.js';
import type { NodeRecord } from '../state/store.js';
import { nodeRecord } from '../state/node-record.js';
import type { ProxyCore } from './core.js';
import type { LockHold } from './namespace-lock.js';
import type { MainReader } from './main-reader.js';
import { RangeLocks } from './locks.js';
import { StatusError } from './errors.js';
import { virtualAttrs } from './attrs.js';
import type { FileSlice } from '../xdr/file-slice.js';
import type { SmallFileAhead } from './small-file-ahead.js';

const WHOLE_FILE_LAST_BLOCK = Number.MAX_SAFE_INTEGER;

export interface ReadResult {
  data: Buffer;
  eof: boolean;
  attrs: Fattr3;
  /** When set, the data is this range of a cache file (`data` is empty): for transports that send files. */
  file?: FileSlice;
  /** Call once `data` is no longer used (it may be a view of a pooled buffer). */
  release(): void;
}

export interface WriteResult {
  wcc: WccData;
  committed: StableHow;
  verf: Uint8Array;
}

export class FileIo {
  private readonly locks = new RangeLocks();
  /** Changes on every proxy start; mixed with the shadow's verifier (RFC 1813 s3.3.7). */
  private readonly bootVerf: Uint8Array;
  private shadowVerf: Uint8Array = new Uint8Array(8);

  constructor(
    private readonly core: ProxyCore,
    private readonly mainReader: MainReader,
    /** Largest READ/WRITE the proxy sends to the shadow. */
    private readonly shadowIoBytes: number,
    random: Random,
    /** Told of reads that start main-only files (fetches a directory's next small files ahead). */
    private readonly ahead?: SmallFileAhead,
  ) {
    this.bootVerf = random.bytes(8);
  }

  /**
   * The write verifier clients see: different after a proxy restart (unstable data may be lost
   * with the process) and whenever the shadow server's verifier changes (it restarted).
   */
  writeVerf(): Uint8Array {
    const v = new Uint8Array(8);
    for (let i = 0; i < 8; i++) v[i] = this.bootVerf[i]! ^ this.shadowVerf[i]!;
    return v;
  }

  private get bs(): number {
    return this.core.blockSize;
  }

  /** `asFile`: the caller can send a cache-file range (ReadResult.file) instead of bytes. */
  async read(n: NodeRecord, offset: number, count: number, asFile = false): Promise<ReadResult> {
    checkRegular(n);
    if (!n.shadow) {
      const attrs = await this.core.mainAttrs(n);
      const size = Number(attrs.size);
      if (offset >= size || count === 0) return { data: Buffer.alloc(0), eof: offset >= size, attrs, release: noop };
      const end = Math.min(offset + count, size);
      const reading = this.mainReader.range(n.main!, offset, end - offset, size, asFile);
      // After this READ is on its way to main: files fetched ahead queue behind it, not before.
      if (offset === 0) this.ahead?.noteRead(n.parent, n.vid);
      const got = await reading;
      if (got.file) return { data: got.data, file: got.file, eof: end >= size, attrs, release: got.release };
      const held = padHeld(got, end - offset);
      return { data: held.data, eof: end >= size, attrs, release: held.release };
    }
    const attrs = virtualAttrs((await this.core.shadow.ok('GETATTR', { object: n.shadow })).objAttributes, n.vid);
    const size = Number(attrs.size);
    if (offset >= size || count === 0) return { data: Buffer.alloc(0), eof: offset >= size, attrs, release: noop };
    const end = Math.min(offset + count, size);
    const bm = this.core.store.bitmap(n.vid);
    const first = Math.floor(offset / this.bs);
    const last = Math.floor((end - 1) / this.bs);
    const parts: Array<Promise<HeldBytes>> = [];
    // Runs of consecutive blocks with the same source, each fetched with one request.
    let runStart = first;
    const fromMain = (b: number) => !bm.has(b) && b < n.mainBlocks;
    for (let b = first; b <= last; b++) {
      if (b < last && fromMain(b + 1) === fromMain(b)) continue;
      const lo = Math.max(offset, runStart * this.bs);
      const hi = Math.min(end, (b + 1) * this.bs);
      if (fromMain(runStart)) {
        parts.push(this.mainReader.range(n.main!, lo, hi - lo).then((held) => padHeld(held, hi - lo)));
      } else {
        parts.push(this.readShadow(n, lo, hi - lo).then(unpooled));
      }
      runStart = b + 1;
    }
    const settled = await Promise.allSettled(parts);
    const held = settled.flatMap((p) => (p.status === 'fulfilled' ? [p.value] : []));
    const failed = settled.find((p) => p.status === 'rejected');
    if (failed) {
      for (const h of held) h.release();
      throw (failed as PromiseRejectedResult).reason;
    }
    if (held.length === 1) return { data: held[0]!.data, eof: end >= size, attrs, release: held[0]!.release };
    // Several sources: one copy, and the pieces are free at once.
    const data = Buffer.concat(held.map((h) => h.data));
    for (const h of held) h.release();
    return { data, eof: end >= size, attrs, release: noop };
  }

  private async readShadow(n: NodeRecord, offset: number, length: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let got = 0;
    while (got < length) {
      const res = await this.core.shadow.ok('READ', { file: n.shadow!, offset: BigInt(offset + got), count: Math.min(this.shadowIoBytes, length - got) });
      if (res.data.length === 0) break;
      chunks.push(Buffer.from(res.data.buffer, res.data.byteOffset, res.data.byteLength));
      got += res.data.length;
      if (res.eof) break;
    }
    return padTo(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), length);
  }

  async write(node: NodeRecord, offset: number, data: Uint8Array, stable: StableHow, cred?: OpaqueAuth): Promise<WriteResult> {
    checkRegular(node);
    const n0 = await this.core.ensureShadow(node);
    const end = offset + data.length;
    const first = Math.floor(offset / this.bs);
    const last = data.length === 0 ? first : Math.floor((end - 1) / this.bs);
    return this.locks.run(n0.vid, first, last, async () => {
      const n = this.core.node(n0.vid);
      const bm = this.core.store.bitmap(n.vid);
      const needsFill = (b: number) => !bm.has(b) && b < n.mainBlocks;
      let head: Buffer = Buffer.alloc(0);
      let tail: Buffer = Buffer.alloc(0);
      // The fill bytes are copied out of the fetched block (which may be a pooled buffer).
      if (data.length > 0 && offset % this.bs !== 0 && needsFill(first)) {
        const mb = await this.mainReader.blocks(n.main!, first, first);
        head = padTo(Buffer.from(mb.data.subarray(0, offset % this.bs)), offset % this.bs);
        mb.release();
      }
      if (data.length > 0 && end % this.bs !== 0 && needsFill(last)) {
        const mb = await this.mainReader.blocks(n.main!, last, last);
        tail = Buffer.from(mb.data.subarray(Math.min(mb.data.length, end % this.bs)));
        mb.release();
      }
      const payload = head.length || tail.length ? Buffer.concat([head, data, tail]) : data;
      const start = offset - head.length;
      let committed = stable;
      let wcc: WccData = {};
      let done = 0;
      do {
        const len = Math.min(this.shadowIoBytes, payload.length - done);
        const res = await this.core.shadow.call(
          'WRITE',
          { file: n.shadow!, offset: BigInt(start + done), count: len, stable, data: payload.subarray(done, done + len) },
          cred,
        );
        if (res.status !== Nfs3Status.OK) throw new StatusError(res.status, 'shadow WRITE');
        if (res.count === 0 && len > 0) throw new StatusError(Nfs3Status.IO, 'shadow wrote nothing');
        done += res.count;
        committed = Math.min(committed, res.committed) as StableHow;
        this.noteShadowVerf(res.verf);
        wcc = res.fileWcc;
      } while (done < payload.length);
      // Bits matter only below mainBlocks (beyond it every block comes from the shadow anyway), so
      // files created through the proxy and appends never touch the state store.
      const lastBit = Math.min(last, n.mainBlocks - 1);
      if (data.length > 0 && first <= lastBit && !bm.hasAll(first, lastBit)) {
        bm.setRange(first, lastBit);
        await this.core.store.commit((tx) => tx.putBitmap(n.vid, bm), stable === StableHow.UNSTABLE ? 'process' : 'disk');
      }
      // A stable write promises the file's metadata too (RFC 1813 3.3.7): its name, or its copy-up,
      // may still wait in a 'soon' group commit.
      if (committed !== StableHow.UNSTABLE) await this.core.store.flushed();
      return { wcc, committed, verf: this.writeVerf() };
    });
  }

  /** COMMIT: the shadow's data and the proxy's bitmaps on disk, then the verifier. */
  async commit(n: NodeRecord, offset: bigint, count: number): Promise<{ wcc: WccData; verf: Uint8Array }> {
    let wcc: WccData = {};
    if (n.shadow && n.type === Ftype3.REG) {
      const res = await this.core.shadow.ok('COMMIT', { file: n.shadow, offset, count });
      this.noteShadowVerf(res.verf);
      wcc = res.fileWcc;
    }
    await this.core.store.flushed();
    return { wcc, verf: this.writeVerf() };
  }

  /**
   * Truncation to `size` (before the SETATTR is forwarded): a block cut in the middle is first
   * completed from main, and main data past the cut can never come back (mainBlocks shrinks).
   */
  async truncate(node: NodeRecord, size: number, hold?: LockHold): Promise<NodeRecord> {
    const n0 = await this.core.ensureShadow(node, hold);
    return this.locks.run(n0.vid, 0, WHOLE_FILE_LAST_BLOCK, async () => {
      const n = this.core.node(n0.vid);
      const cur = Number((await this.core.shadow.ok('GETATTR', { object: n.shadow! })).objAttributes.size);
      if (size >= cur) return n;
      const bm = this.core.store.bitmap(n.vid);
      const cut = Math.floor(size / this.bs);
      if (size % this.bs !== 0 && !bm.has(cut) && cut < n.mainBlocks) {
        const mb = await this.mainReader.blocks(n.main!, cut, cut);
        try {
          const part = mb.data.subarray(0, Math.min(mb.data.length, size % this.bs));
          if (part.length > 0) {
            await this.core.shadow.ok('WRITE', { file: n.shadow!, offset: BigInt(cut * this.bs), count: part.length, stable: StableHow.FILE_SYNC, data: part });
          }
        } finally {
          mb.release(); // the WRITE has settled: its data is no longer referenced
        }
        bm.set(cut);
      }
      const keep = Math.ceil(size / this.bs);
      bm.clearFrom(keep);
      const next: NodeRecord = nodeRecord({ ...n, mainBlocks: Math.min(n.mainBlocks, keep) });
      await this.core.store.commit((tx) => {
        tx.putNode(next);
        tx.putBitmap(n.vid, bm);
      }, 'soon');
      return next;
    });
  }

  private noteShadowVerf(v: Uint8Array): void {
    if (v.length === 8) this.shadowVerf = v;
  }
}

function checkRegular(n: NodeRecord): void {
  if (n.type === Ftype3.DIR) throw new StatusError(Nfs3Status.ISDIR, 'is a directory');
  if (n.type !== Ftype3.REG) throw new StatusError(Nfs3Status.INVAL, 'not a regular file');
}

const noop = () => undefined;

/** `held` cut or extended with zeros to `length` (an extension is a copy: the original is released). */
function padHeld(held: HeldBytes, length: number): HeldBytes {
  if (held.data.length >= length) return held.data.length === length ? held : { data: held.data.subarray(0, length), release: held.release };
  const out = padTo(held.data, length);
  held.release();
  return unpooled(out);
}

/** `buf` extended with zeros to `length` (a main file shorter than the logical size reads as zeros). */
function padTo(buf: Buffer, length: number): Buffer {
  if (buf.length >= length) return buf.length === length ? buf : buf.subarray(0, length);
  const out = Buffer.alloc(length);
  buf.copy(out);
  return out;
}
