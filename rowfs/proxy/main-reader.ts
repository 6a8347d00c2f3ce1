// Reads blocks of main-server files through the local block cache. A block is fetched from main at
// most once per cache: concurrent readers of a block share one fetch, and fetched blocks are stored
// before they are returned. Runs of missing blocks become one READ (or a few, at most `maxReadBytes`
// each), so a cold sequential read costs about what a direct read costs.
import type { BlockCache } from '../cache/block-cache.js';
import type { Counters } from '../counters.js';
import type { FileHandle } from '../nfs3/types.js';
import { hex } from '../state/store.js';
import type { Backend } from './backend.js';
import { StatusError } from './errors.js';
import { Nfs3Status } from '../nfs3/types.js';

const EMPTY = Buffer.alloc(0);

export class MainReader {
  private readonly inflight = new Map<string, Promise<Buffer>>();

  constructor(
    private readonly main: Backend,
    private readonly cache: BlockCache | undefined,
    private readonly counters: Counters,
    readonly blockSize: number,
    private readonly maxReadBytes: number,
  ) {}

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
      const run = this.fetchRun(fh, key, runStart, e);
      for (let i = runStart; i <= e; i++) {
        const id = `${key}:${i}`;
        const p = run.then((bufs) => bufs[i - runStart]!);
        this.inflight.set(id, p);
        void p.then(
          () => this.inflight.delete(id),
          () => this.inflight.delete(id),
        );
        parts.push(p);
      }
      b = e + 1;
    }
    const bufs = await Promise.all(parts);
    // Stop at the first short block: that is the end of the main file.
    let n = 0;
    for (; n < bufs.length; n++) if (bufs[n]!.length < this.blockSize) break;
    return Buffer.concat(bufs.slice(0, Math.min(n + 1, bufs.length)));
  }

  private async fromCache(key: string, block: number): Promise<Buffer> {
    const buf = await this.cache!.read(key, block);
    if (!buf) throw new StatusError(Nfs3Status.IO, 'cache lost a block');
    this.counters.cacheHitBlocks++;
    this.counters.cacheHitBytes += buf.length;
    return buf;
  }

  /** Fetches blocks [first, last] from main; one buffer per block (empty past end of file). */
  private async fetchRun(fh: FileHandle, key: string, first: number, last: number): Promise<Buffer[]> {
    const start = first * this.blockSize;
    const want = (last - first + 1) * this.blockSize;
    const chunks: Buffer[] = [];
    let got = 0;
    let eof = false;
    while (got < want && !eof) {
      const count = Math.min(this.maxReadBytes, want - got);
      const res = await this.main.ok('READ', { file: fh, offset: BigInt(start + got), count });
      const data = Buffer.from(res.data.buffer, res.data.byteOffset, res.data.byteLength);
      chunks.push(data);
      got += data.length;
      eof = res.eof || data.length === 0;
    }
    const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    const out: Buffer[] = [];
    for (let i = first; i <= last; i++) {
      const off = (i - first) * this.blockSize;
      const block = off < all.length ? all.subarray(off, Math.min(off + this.blockSize, all.length)) : EMPTY;
      out.push(block);
      this.counters.cacheMissBlocks++;
      // Blocks past the end of file are not cached (an empty tail would hide the real last block).
      if (this.cache && block.length > 0) await this.cache.write(key, i, block);
    }
    return out;
  }
}
