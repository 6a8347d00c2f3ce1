// Which TCP connections an RPC server keeps (issue 11, item 2). Caps per source address and in
// total; at a cap the stalest connection that has no call running (idle, or stuck halfway through
// a record, or not reading its replies) is closed to make room, so stalled clients cannot lock
// out a new one; only when every connection has calls running is the newcomer refused. One
// periodic sweep closes connections stuck in the middle of a record for longer than the
// incomplete-record timeout, and connections with no call running and no progress (bytes in,
// or replies taken by the kernel) for longer than the idle timeout. The bytes of records still
// arriving are bounded over all connections: past the bound the connection whose record began
// longest ago is closed (a record of 4 MiB x 1,024 connections would otherwise be 4 GiB).

export interface ConnectionLimits {
  maxConnections: number;
  maxConnectionsPerAddress: number;
  incompleteRecordTimeoutMs: number;
  idleTimeoutMs: number;
  maxIncompleteRecordBytes: number;
}

/** Cap on TCP connections to one server (each holds a 16 KiB read buffer and up to one record). */
export const DEFAULT_MAX_CONNECTIONS = 1024;
/**
 * Cap per source address: far above what NFS clients open (Linux: 1, nconnect at most 16), and a
 * proxy with its splice connections stays below it; one address cannot take the whole table.
 */
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 64;
/** A record must arrive whole within this (a 4 MiB record at 140 KB/s): half-sent records are a stall. */
export const DEFAULT_INCOMPLETE_RECORD_TIMEOUT_MS = 30_000;
/** Connections with nothing running and no progress are closed after this (knfsd: 6 minutes). */
export const DEFAULT_IDLE_TIMEOUT_MS = 6 * 60_000;
/** Bytes of records still arriving, all connections together: 64 writers of 1 MiB WRITEs at once. */
export const DEFAULT_MAX_INCOMPLETE_RECORD_BYTES = 64 * 1024 * 1024;

/** What the table knows of a connection; the server updates the times and counts. */
export interface TrackedConnection {
  readonly address: string;
  /** Monotonic ms of the last progress: bytes received, or a reply taken by the kernel. */
  lastProgressMs: number;
  /** Monotonic ms when the incomplete record began; -1 when no record is incomplete. */
  recordStartMs: number;
  /** Bytes of the incomplete record received so far (kept by the table: see noteRecordBytes). */
  recordBytes: number;
  /** Calls decoded and not yet answered (running or waiting for reply memory). */
  callsRunning: number;
  /** Closes the socket (the server's close handler then calls ConnectionTable.remove). */
  close(): void;
}

export interface ConnectionTableStats {
  /** Connections closed to make room for a new one. */
  evicted: number;
  /** New connections refused (every connection at the cap had calls running). */
  refused: number;
  /** Connections closed by the incomplete-record or idle timeout. */
  timedOut: number;
  /** Connections closed because records still arriving held too many bytes. */
  evictedForRecordBytes: number;
}

export class ConnectionTable {
  readonly stats: ConnectionTableStats = { evicted: 0, refused: 0, timedOut: 0, evictedForRecordBytes: 0 };
  /** Bytes of incomplete records over all connections. */
  incompleteRecordBytes = 0;
  private readonly all = new Set<TrackedConnection>();
  private readonly byAddress = new Map<string, Set<TrackedConnection>>();
  private sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(
    readonly limits: ConnectionLimits,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.all.size;
  }

  /** Adds `c`, closing the stalest idle connection at a cap; false (refuse `c`) when none can go. */
  admit(c: TrackedConnection): boolean {
    const same = this.byAddress.get(c.address);
    if (same && same.size >= this.limits.maxConnectionsPerAddress && !this.evictStalest(same)) return this.refuse();
    if (this.all.size >= this.limits.maxConnections && !this.evictStalest(this.all)) return this.refuse();
    this.all.add(c);
    if (same) same.add(c);
    else this.byAddress.set(c.address, new Set([c]));
    this.startSweeper();
    return true;
  }

  /**
   * `c` now holds `bytes` of an incomplete record (0 when none). Past the bound, the connections
   * whose record began longest ago are closed (`c` last: it is the one making progress).
   */
  noteRecordBytes(c: TrackedConnection, bytes: number): void {
    this.incompleteRecordBytes += bytes - c.recordBytes;
    c.recordBytes = bytes;
    for (let i = 0; i < this.all.size && this.incompleteRecordBytes > this.limits.maxIncompleteRecordBytes; i++) {
      let victim: TrackedConnection | undefined;
      for (const o of this.all) if (o.recordBytes > 0 && o !== c && (!victim || o.recordStartMs < victim.recordStartMs)) victim = o;
      victim ??= c;
      this.stats.evictedForRecordBytes++;
      this.drop(victim);
      if (victim === c) break;
    }
  }

  /** Forgets `c` (idempotent). */
  remove(c: TrackedConnection): void {
    if (!this.all.delete(c)) return;
    this.incompleteRecordBytes -= c.recordBytes;
    c.recordBytes = 0;
    const same = this.byAddress.get(c.address);
    same?.delete(c);
    if (same?.size === 0) this.byAddress.delete(c.address);
    if (this.all.size === 0) this.stopSweeper();
  }

  /** Closes connections past the incomplete-record or idle timeout. */
  sweep(): void {
    const now = this.now();
    const { incompleteRecordTimeoutMs, idleTimeoutMs } = this.limits;
    for (const c of this.all) {
      const stuck = c.recordStartMs >= 0 && now - c.recordStartMs > incompleteRecordTimeoutMs;
      const idle = c.callsRunning === 0 && now - c.lastProgressMs > idleTimeoutMs;
      if (stuck || idle) {
        this.stats.timedOut++;
        this.drop(c);
      }
    }
  }

  /** Closes every connection and stops the sweep. */
  closeAll(): void {
    for (const c of [...this.all]) this.drop(c);
    this.stopSweeper();
  }

  private refuse(): false {
    this.stats.refused++;
    return false;
  }

  /** Closes the connection without running calls that made progress longest ago; false when none. */
  private evictStalest(set: Set<TrackedConnection>): boolean {
    let victim: TrackedConnection | undefined;
    let oldest = Infinity;
    for (const c of set) {
      if (c.callsRunning > 0) continue;
      // A record in progress is as stale as its start (a trickle of bytes does not freshen it).
      const since = c.recordStartMs >= 0 ? Math.min(c.recordStartMs, c.lastProgressMs) : c.lastProgressMs;
      if (since < oldest) {
        oldest = since;
        victim = c;
      }
    }
    if (!victim) return false;
    this.stats.evicted++;
    this.drop(victim);
    return true;
  }

  private drop(c: TrackedConnection): void {
    this.remove(c);
    c.close();
  }

  private startSweeper(): void {
    if (this.sweeper) return;
    const { incompleteRecordTimeoutMs, idleTimeoutMs } = this.limits;
    // A quarter of the shorter timeout (at most 5 s): a connection is closed that much late at most.
    const everyMs = Math.max(10, Math.min(5_000, Math.min(incompleteRecordTimeoutMs, idleTimeoutMs) / 4));
    this.sweeper = setInterval(() => this.sweep(), everyMs);
    this.sweeper.unref();
  }

  private stopSweeper(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}
