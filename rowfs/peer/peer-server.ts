// Serves a mount's verified main blocks to other mounts of the same image version (peer-codec.ts),
// on the node's virtual IP. Only the block cache is read: it holds nothing but main blocks that
// matched the manifest, never the shadow, so a user's writes stay private.
//
// Bounds: connections per peer address and in total (when full, the least recently active one
// makes room), requests and bytes per second per peer and in total (UploadBudget: over it the
// answer is BUSY at once; a get's bytes are reserved when it is admitted), a get's reply no bigger
// than a peer may receive (maxBlocksPerGet), replies waiting in a socket's buffer (past a soft
// bound new gets are answered BUSY and no more are read until they drain, past a hard one the
// connection ends), a write deadline (queued
// replies that make no progress for writeStallMs end the connection: a peer that sends gets and
// never reads its replies) and an idle deadline. A malformed or oversized frame ends that
// connection and is counted; nothing is thrown upward.
import { createServer, type Server, type Socket } from 'node:net';
import { systemClock, type Clock, type Timer } from '../../lib/clock.js';
import { frame, readFrames } from './frames.js';
import { FILE_ID_BYTES, maxBlocksPerGet, PeerStatus, type PeerGet } from './peer-codec.js';
import { DEFAULT_UPLOAD_LIMITS, UploadBudget, type UploadLimits } from './upload-budget.js';

/** Where served blocks come from: the mount's verified block cache. */
export interface PeerBlockStore {
  readonly blockSize: number;
  /** Block `index` of the file with path id `file`, or undefined when not held. */
  read(file: Uint8Array, index: number): Promise<Uint8Array | undefined>;
}

export interface PeerServerOptions {
  store: PeerBlockStore;
  host: string;
  /** 0 = any free port. */
  port: number;
  limits?: Partial<UploadLimits>;
  clock?: Clock;
  /** Reply bytes a connection may have queued before new gets are answered BUSY (default 8 MiB). */
  maxQueuedReplyBytes?: number;
  /** Queued reply bytes past which the connection ends (default 4 x maxQueuedReplyBytes). */
  maxQueuedReplyBytesHard?: number;
  /** Queued replies that make no progress this long end the connection (default 10,000 ms). */
  writeStallMs?: number;
  /** Connections in total (default 64); when full, the least recently active one is closed for a new one. */
  maxConnections?: number;
}

/** Connections from one peer address (default). */
const MAX_CONNECTIONS_PER_PEER = 4;
const MAX_CONNECTIONS = 64;
/** A connection with no traffic either way this long is closed. */
const IDLE_MS = 15_000;
/** Reply bytes a connection may have waiting in its socket before new requests are answered BUSY. */
const MAX_QUEUED_REPLY_BYTES = 8 << 20;
const WRITE_STALL_MS = 10_000;
/** How often the write deadlines are checked (one tick for all connections). */
const WRITE_CHECK_MS = 500;
/** Requests are tiny: a bigger frame is not a request. */
const MAX_REQUEST_FRAME_BYTES = 64;

export interface PeerServerStats {
  connections: number;
  requests: number;
  servedBlocks: number;
  servedBytes: number;
  /** Requests answered BUSY (over the upload budget). */
  busy: number;
  /** Connections refused (per-address bound) or closed to make room for a new one. */
  refusedConnections: number;
  /** Malformed frames, replies sent as requests, gets of more than a reply may carry. */
  badFrames: number;
  /** Connections ended for queued replies over the hard bound or not draining. */
  stalledReaders: number;
}

interface Conn {
  peer: string;
  /** Last request received or reply bytes flushed (for the write deadline and eviction). */
  activeAt: number;
  /** Last time the queued replies moved (or the queue was empty). */
  flushedAt: number;
}

export class PeerServer {
  readonly stats: PeerServerStats = { connections: 0, requests: 0, servedBlocks: 0, servedBytes: 0, busy: 0, refusedConnections: 0, badFrames: 0, stalledReaders: 0 };
  private readonly sockets = new Map<Socket, Conn>();
  private readonly perPeer = new Map<string, number>();
  private readonly budget: UploadBudget;
  private readonly clock: Clock;
  private readonly maxBlocks: number;
  private readonly softQueue: number;
  private readonly hardQueue: number;
  private readonly writeCheck: Timer;

  private constructor(
    private readonly o: PeerServerOptions,
    private readonly server: Server,
    readonly port: number,
  ) {
    this.clock = o.clock ?? systemClock;
    this.budget = new UploadBudget({ ...DEFAULT_UPLOAD_LIMITS, ...o.limits }, this.clock);
    this.maxBlocks = maxBlocksPerGet(o.store.blockSize);
    this.softQueue = o.maxQueuedReplyBytes ?? MAX_QUEUED_REPLY_BYTES;
    this.hardQueue = o.maxQueuedReplyBytesHard ?? 4 * this.softQueue;
    this.writeCheck = this.clock.setInterval(() => this.checkWrites(), WRITE_CHECK_MS);
  }

  static async start(o: PeerServerOptions): Promise<PeerServer> {
    const server = createServer();
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => resolve((server.address() as { port: number }).port));
    });
    const s = new PeerServer(o, server, port);
    server.on('connection', (socket) => s.accept(socket));
    server.on('error', () => undefined);
    return s;
  }

  get limits(): UploadLimits {
    return this.budget.limits;
  }

  private accept(socket: Socket): void {
    const peer = socket.remoteAddress ?? '?';
    const mine = this.perPeer.get(peer) ?? 0;
    if (mine >= MAX_CONNECTIONS_PER_PEER) {
      this.stats.refusedConnections++;
      socket.destroy();
      return;
    }
    if (this.sockets.size >= (this.o.maxConnections ?? MAX_CONNECTIONS)) this.evictLeastActive();
    const now = this.clock.now();
    const conn: Conn = { peer, activeAt: now, flushedAt: now };
    this.perPeer.set(peer, mine + 1);
    this.sockets.set(socket, conn);
    this.stats.connections++;
    socket.setNoDelay(true);
    socket.setTimeout(IDLE_MS, () => socket.destroy());
    socket.on('error', () => undefined);
    socket.on('close', () => this.forget(socket));
    readFrames(
      socket,
      MAX_REQUEST_FRAME_BYTES,
      (m) => {
        if (m.type !== 'get' || m.count > this.maxBlocks) {
          this.stats.badFrames++;
          socket.destroy();
          return;
        }
        conn.activeAt = this.clock.now();
        void this.answer(socket, conn, m);
      },
      () => {
        this.stats.badFrames++;
        socket.destroy();
      },
    );
  }

  /** Queues a reply; past the hard bound the connection ends instead (its peer is not reading). */
  private send(socket: Socket, conn: Conn, bytes: Buffer): void {
    if (socket.destroyed) return;
    if (socket.writableLength + bytes.length > this.hardQueue) {
      this.stats.stalledReaders++;
      socket.destroy();
      return;
    }
    if (socket.writableLength === 0) conn.flushedAt = this.clock.now();
    socket.write(bytes, () => (conn.flushedAt = conn.activeAt = this.clock.now()));
    // Past the soft bound no more gets are read until the replies drain: they wait in TCP, not here.
    if (socket.writableLength > this.softQueue && !socket.isPaused()) {
      socket.pause();
      socket.once('drain', () => socket.resume());
    }
  }

  private async answer(socket: Socket, conn: Conn, m: PeerGet): Promise<void> {
    this.stats.requests++;
    const bytes = m.count * this.o.store.blockSize;
    const slot = socket.writableLength > this.softQueue ? undefined : this.budget.admit(conn.peer, bytes);
    if (!slot) {
      this.stats.busy++;
      return this.send(socket, conn, frame({ type: 'blocks', id: m.id, status: PeerStatus.BUSY, first: m.first, blocks: new Array(m.count).fill(undefined) }));
    }
    let sent = 0;
    try {
      // The cache reads go to the thread pool together (a reply waits for the slowest, not the sum).
      const blocks = await Promise.all(
        Array.from({ length: m.count }, (_, i) => (m.file.length === FILE_ID_BYTES && m.first + i <= 0xffffffff ? this.o.store.read(m.file, m.first + i).catch(() => undefined) : undefined)),
      );
      for (const b of blocks) {
        if (!b) continue;
        sent += b.length;
        this.stats.servedBlocks++;
      }
      this.stats.servedBytes += sent;
      this.send(socket, conn, frame({ type: 'blocks', id: m.id, status: PeerStatus.OK, first: m.first, blocks }));
    } finally {
      slot.done(sent);
    }
  }

  /** Ends connections whose queued replies have not moved for writeStallMs. */
  private checkWrites(): void {
    const now = this.clock.now();
    const limit = this.o.writeStallMs ?? WRITE_STALL_MS;
    for (const [socket, c] of this.sockets) {
      if (socket.writableLength === 0) c.flushedAt = now;
      else if (now - c.flushedAt > limit) {
        this.stats.stalledReaders++;
        socket.destroy();
      }
    }
  }

  private evictLeastActive(): void {
    let oldest: [Socket, Conn] | undefined;
    for (const e of this.sockets) if (!oldest || e[1].activeAt < oldest[1].activeAt) oldest = e;
    if (!oldest) return;
    this.stats.refusedConnections++;
    oldest[0].destroy();
    this.forget(oldest[0]);
  }

  private forget(socket: Socket): void {
    const c = this.sockets.get(socket);
    if (!c) return;
    this.sockets.delete(socket);
    const n = (this.perPeer.get(c.peer) ?? 1) - 1;
    if (n <= 0) this.perPeer.delete(c.peer);
    else this.perPeer.set(c.peer, n);
  }

  /** Stops accepting and closes every connection. Idempotent. */
  async close(): Promise<void> {
    this.writeCheck.cancel();
    for (const s of this.sockets.keys()) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
