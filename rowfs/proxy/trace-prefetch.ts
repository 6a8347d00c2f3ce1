// Prefetch of a boot trace at a new mount: the trace's files are resolved (their names then answer
// from the proxy's state, no main LOOKUP) and their blocks fetched into the block cache in the
// trace's order (through main: peers, then the server), ahead of the client.
//
// Bounds: `concurrency` pieces of at most PIECE_BLOCKS blocks in flight (memory: those pieces'
// buffers until they are in the cache), and at most `maxAheadBytes` beyond the furthest trace
// block the client has read. Pieces are cut from the runs as they are fetched, not up front (a
// run may name a million blocks; what a trace may hold in total is the caller's bound). It stops, for good, when the client turns out to read something else
// (`divergeBlocks` first reads of blocks outside the trace, more than it read inside), when the
// client stops following it (the window full and no client progress for `idleStopMs`), on stop(),
// or at the trace's end. Counters: blocks traced, fetched ahead, hits (fetched ahead, then read by
// the client) and waste (fetched ahead, not read by the client so far).
import { systemClock, type Clock, type Timer } from '../../lib/clock.js';
import type { Counters } from '../counters.js';
import type { FileHandle } from '../nfs3/types.js';

/** A run of the trace, by path (relative to the export, '/'-separated). */
export interface TracePathRun {
  path: string;
  first: number;
  count: number;
}

export interface TracePrefetchOptions {
  runs: TracePathRun[];
  /** The main handle of a path (resolving it registers its names), or undefined when it is not a main file. */
  resolve(path: string): Promise<FileHandle | undefined>;
  /** Fetches blocks into the cache; resolves with the blocks it fetched (cached ones are skipped). */
  fetch(fh: FileHandle, first: number, last: number): Promise<number[]>;
  /** The block cache's key of a main handle. */
  keyOf(fh: FileHandle): string;
  counters: Counters;
  clock?: Clock;
  concurrency?: number;
  /** The blocks' size (the window is in bytes). */
  blockSize: number;
  /** Bytes fetched beyond the client's furthest trace block (default 64 MiB). */
  maxAheadBytes?: number;
  idleStopMs?: number;
  divergeBlocks?: number;
}

/** Blocks fetched as one piece (one or a few main READs). */
const PIECE_BLOCKS = 16;

interface Piece {
  path: string;
  first: number;
  last: number;
  /** Position of the piece's first block in the trace (blocks before it). */
  seq: number;
}

/** Distinct outside blocks remembered; past this, repeats count again (erring toward stopping the prefetch). */
const MAX_OUTSIDE_TRACKED = 32_768;

export class TracePrefetcher {
  /** The next piece is cut from runs[run] at its block `at`; `seq` blocks of the trace came before. */
  private cursor = { run: 0, at: 0, seq: 0 };
  /** Trace position of each traced block, by `key:block` (keys known once a path is resolved). */
  private readonly position = new Map<string, number>();
  private readonly prefetched = new Set<string>();
  /** Traced blocks the client has read. */
  private readonly clientSeen = new Set<string>();
  /** Distinct blocks outside the trace the client read before the prefetch stopped. */
  private readonly outsideSeen = new Set<string>();
  private clientAt = -1;
  private clientProgressAt: number;
  private outside = 0;
  private inside = 0;
  private stopped: string | undefined;
  private waiters: Array<() => void> = [];
  private readonly ticker: Timer;
  private readonly clock: Clock;
  /** Settles when every worker has finished. */
  readonly done: Promise<void>;

  constructor(private readonly o: TracePrefetchOptions) {
    this.clock = o.clock ?? systemClock;
    this.clientProgressAt = this.clock.now();
    const traced = o.runs.reduce((n, r) => n + r.count, 0);
    o.counters.prefetch = { tracedBlocks: traced, fetchedBlocks: 0, hitBlocks: 0, wasteBlocks: 0, stopped: null };
    // Wakes waiting workers now and then, so the idle rule is checked without a client read.
    this.ticker = this.clock.setInterval(() => this.poke(), 250);
    const workers = Array.from({ length: Math.max(1, o.concurrency ?? 4) }, () => this.work());
    this.done = Promise.all(workers).then(() => {
      this.ticker.cancel();
      this.finish(this.stopped ?? 'trace done');
    });
  }

  /** A client read blocks [first, last] of the file with cache key `key` (from MainReader). */
  clientRead(key: string, first: number, last: number): void {
    const c = this.o.counters.prefetch!;
    for (let b = first; b <= last; b++) {
      const id = `${key}:${b}`;
      const at = this.position.get(id);
      if (at === undefined) {
        // Blocks outside the trace only matter while deciding whether to stop; once stopped (or at the
        // trace's end) they are not remembered (a long-lived mount reads far more than its boot set).
        if (c.stopped !== null || this.outsideSeen.has(id)) continue;
        if (this.outsideSeen.size < MAX_OUTSIDE_TRACKED) this.outsideSeen.add(id);
        this.outside++;
        continue;
      }
      // Traced blocks: bounded by the trace's length.
      if (this.clientSeen.has(id)) continue;
      this.clientSeen.add(id);
      this.inside++;
      if (at > this.clientAt) {
        this.clientAt = at;
        this.clientProgressAt = this.clock.now();
      }
      if (this.prefetched.has(id)) {
        c.hitBlocks++;
        c.wasteBlocks = c.fetchedBlocks - c.hitBlocks;
      }
    }
    const diverge = this.o.divergeBlocks ?? 256;
    if (!this.stopped && this.outside >= diverge && this.outside > this.inside) this.stop('the client reads other blocks than the trace');
    this.poke();
  }

  /** Stops prefetching (pieces under way finish). Idempotent. */
  stop(why: string): void {
    if (this.stopped) return;
    this.stopped = why;
    this.finish(why);
    this.poke();
  }

  private poke(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private finish(why: string): void {
    const c = this.o.counters.prefetch!;
    c.stopped = why;
    c.wasteBlocks = c.fetchedBlocks - c.hitBlocks;
  }

  /** The piece the cursor is at, or undefined at the trace's end. */
  private peek(): Piece | undefined {
    const c = this.cursor;
    const r = this.o.runs[c.run];
    if (!r) return undefined;
    const first = r.first + c.at;
    return { path: r.path, first, last: Math.min(r.first + r.count - 1, first + PIECE_BLOCKS - 1), seq: c.seq };
  }

  private advance(p: Piece): void {
    const c = this.cursor;
    const n = p.last - p.first + 1;
    c.at += n;
    c.seq += n;
    if (c.at >= this.o.runs[c.run]!.count) {
      c.run++;
      c.at = 0;
    }
  }

  private async work(): Promise<void> {
    const aheadBlocks = Math.max(PIECE_BLOCKS, Math.floor((this.o.maxAheadBytes ?? 64 << 20) / this.o.blockSize));
    for (let p = this.peek(); !this.stopped && p; p = this.peek()) {
      if (p.seq - this.clientAt > aheadBlocks) {
        // Far enough ahead: wait for the client (or give up when it stopped following the trace).
        if (this.clock.now() - this.clientProgressAt > (this.o.idleStopMs ?? 10_000)) {
          this.stop('the client stopped following the trace');
          break;
        }
        await new Promise<void>((r) => this.waiters.push(r));
        continue;
      }
      this.advance(p);
      try {
        const fh = await this.o.resolve(p.path);
        if (!fh) continue;
        const key = this.o.keyOf(fh);
        for (let b = p.first; b <= p.last; b++) if (this.position.size < 1 << 20) this.position.set(`${key}:${b}`, p.seq + b - p.first);
        const got = await this.o.fetch(fh, p.first, p.last);
        const c = this.o.counters.prefetch!;
        for (const b of got) {
          const id = `${key}:${b}`;
          // Counted only if the client had not asked for it by the time it arrived (it then waited for this fetch).
          if (!this.clientSeen.has(id) && !this.prefetched.has(id)) {
            this.prefetched.add(id);
            c.fetchedBlocks++;
          }
        }
        c.wasteBlocks = c.fetchedBlocks - c.hitBlocks;
      } catch {
        // A piece that failed (main trouble) is the client's to fetch when it needs it.
      }
    }
  }
}
