// Serves a mount's verified main blocks to other mounts of the same image version (peer-codec.ts),
// on the node's virtual IP. Only the block cache is read: it holds nothing but main blocks that
// matched the manifest, never the shadow, so a user's writes stay private.
//
// Bounds: connections per peer address and in total, requests and bytes per second per peer and in
// total (UploadBudget: over it the answer is BUSY at once), replies waiting in a socket's buffer,
// and an idle deadline (a peer that stops reading its replies loses its connection). A malformed
// or oversized frame ends that connection and is counted; nothing is thrown upward.
import { createServer, type Server, type Socket } from 'node:net';
import { systemClock, type Clock } from '../../lib/clock.js';
import { frame, readFrames } from './frames.js';
import { FILE_ID_BYTES, PeerStatus, type PeerGet } from './peer-codec.js';
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
}

/** Connections from one peer address (default). */
const MAX_CONNECTIONS_PER_PEER = 4;
const MAX_CONNECTIONS = 64;
/** A connection with no traffic either way this long is closed (also one whose peer stopped reading). */
const IDLE_MS = 15_000;
/** Reply bytes a connection may have waiting in its socket before new requests are answered BUSY. */
const MAX_QUEUED_REPLY_BYTES = 8 << 20;
/** Requests are tiny: a bigger frame is not a request. */
const MAX_REQUEST_FRAME_BYTES = 64;

export interface PeerServerStats {
  connections: number;
  requests: number;
  servedBlocks: number;
  servedBytes: number;
  /** Requests answered BUSY (over the upload budget). */
  busy: number;
  /** Connections ended for a malformed frame or over the connection bounds. */
  refusedConnections: number;
  badFrames: number;
}

export class PeerServer {
  readonly stats: PeerServerStats = { connections: 0, requests: 0, servedBlocks: 0, servedBytes: 0, busy: 0, refusedConnections: 0, badFrames: 0 };
  private readonly sockets = new Set<Socket>();
  private readonly perPeer = new Map<string, number>();
  private readonly budget: UploadBudget;

  private constructor(
    private readonly o: PeerServerOptions,
    private readonly server: Server,
    readonly port: number,
  ) {
    this.budget = new UploadBudget({ ...DEFAULT_UPLOAD_LIMITS, ...o.limits }, o.clock ?? systemClock);
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
    if (this.sockets.size >= MAX_CONNECTIONS || mine >= MAX_CONNECTIONS_PER_PEER) {
      this.stats.refusedConnections++;
      socket.destroy();
      return;
    }
    this.perPeer.set(peer, mine + 1);
    this.sockets.add(socket);
    this.stats.connections++;
    socket.setNoDelay(true);
    socket.setTimeout(IDLE_MS, () => socket.destroy());
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.sockets.delete(socket);
      const n = (this.perPeer.get(peer) ?? 1) - 1;
      if (n <= 0) this.perPeer.delete(peer);
      else this.perPeer.set(peer, n);
    });
    readFrames(
      socket,
      MAX_REQUEST_FRAME_BYTES,
      (m) => {
        if (m.type !== 'get') {
          this.stats.badFrames++;
          socket.destroy();
          return;
        }
        void this.answer(socket, peer, m);
      },
      () => {
        this.stats.badFrames++;
        socket.destroy();
      },
    );
  }

  private async answer(socket: Socket, peer: string, m: PeerGet): Promise<void> {
    this.stats.requests++;
    const busy = () => {
      this.stats.busy++;
      if (!socket.destroyed) socket.write(frame({ type: 'blocks', id: m.id, status: PeerStatus.BUSY, first: m.first, blocks: new Array(m.count).fill(undefined) }));
    };
    const slot = socket.writableLength > MAX_QUEUED_REPLY_BYTES ? undefined : this.budget.admit(peer, m.count * this.o.store.blockSize);
    if (!slot) return busy();
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
      if (!socket.destroyed) socket.write(frame({ type: 'blocks', id: m.id, status: PeerStatus.OK, first: m.first, blocks }));
    } finally {
      slot.done(sent);
    }
  }

  /** Stops accepting and closes every connection. Idempotent. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
