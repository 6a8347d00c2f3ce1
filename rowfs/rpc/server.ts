// RPC server over TCP (record marking) and UDP: listens, keeps the TCP connections within their
// bounds (connection-table.ts, reply-budget.ts) and hands every message to the dispatcher
// (dispatch.ts). Each TCP connection is a TcpConnection (tcp-connection.ts); Node socket internals
// are in socket-internals.ts. Malformed input is counted and dropped (framing errors close the TCP
// connection); nothing here throws upward.
import net from 'node:net';
import dgram from 'node:dgram';
import { DEFAULT_MAX_RECORD_BYTES } from './record-marking.js';
import type { BufferPool } from './buffer-pool.js';
import type { FileSender } from './file-sender.js';
import { DEFAULT_DUPLICATE_CACHE_ENTRIES } from './duplicate-cache.js';
import {
  ConnectionTable,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_INCOMPLETE_RECORD_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_INCOMPLETE_RECORD_BYTES,
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
  type ConnectionTableStats,
} from './connection-table.js';
import { ReplyBudget } from './reply-budget.js';
import { RpcDispatcher, type RpcCallContext, type RpcProgram, type RpcServerStats } from './dispatch.js';
import { FileSendSlots, TcpConnection, type TcpConnectionHost } from './tcp-connection.js';

export type { RpcCallContext, RpcProcedure, RpcProgram, RpcServerStats } from './dispatch.js';

export interface RpcServerOptions {
  maxRecordBytes?: number;
  /** Calls run concurrently per TCP connection before we stop reading from it. */
  maxInflightPerConnection?: number;
  /**
   * TCP connections kept at once (default DEFAULT_MAX_CONNECTIONS). At the cap, the stalest
   * connection with no call running is closed for a newcomer (see connection-table.ts).
   */
  maxConnections?: number;
  /** TCP connections kept per source address (default DEFAULT_MAX_CONNECTIONS_PER_ADDRESS), same eviction. */
  maxConnectionsPerAddress?: number;
  /** A connection in the middle of a record for this long is closed (default DEFAULT_INCOMPLETE_RECORD_TIMEOUT_MS). */
  incompleteRecordTimeoutMs?: number;
  /** A connection with no call running and no progress for this long is closed (default DEFAULT_IDLE_TIMEOUT_MS). */
  idleTimeoutMs?: number;
  /**
   * Bytes of records still arriving, over all connections (default
   * DEFAULT_MAX_INCOMPLETE_RECORD_BYTES); past it the connection whose record began longest ago is closed.
   */
  maxIncompleteRecordBytes?: number;
  /** Monotonic ms clock for the timeouts (default performance.now). */
  now?: () => number;
  /** Told about procedure failures answered with SYSTEM_ERR. */
  onError?: (err: unknown, ctx: RpcCallContext) => void;
  /** Replies kept for retransmitted non-idempotent calls (0 disables the cache). */
  duplicateCacheEntries?: number;
  /**
   * Buffers for large incoming records (WRITE arguments): such a record is assembled in one and
   * the buffer returns once its reply has been written. Procedures must not keep views of their
   * arguments past their reply (copy what they keep). Without it, each is a new heap buffer.
   */
  recordPool?: BufferPool;
  /**
   * Reply bytes one TCP connection may hold (running calls' reservations, see
   * RpcProcedure.replyBytesBound, and replies the kernel has not taken yet; default
   * DEFAULT_MAX_QUEUED_REPLY_BYTES): past it the connection's calls wait and its socket is not
   * read until its client reads replies. A connection holding nothing may always run one call.
   */
  maxQueuedReplyBytes?: number;
  /** The same bound over all TCP connections together (default DEFAULT_MAX_TOTAL_REPLY_BYTES). */
  maxTotalReplyBytes?: number;
  /**
   * File-range replies being sent at once (default: half the libuv pool, at least 1). Each holds a
   * pool thread while its client is slow to read; more would starve file system calls.
   */
  maxFileSends?: number;
  /**
   * Sends reply bodies that are file ranges (TCP). Without it procedures are told not to make
   * such replies (ctx.sendsFiles is false), and any that do are read into memory.
   */
  fileSender?: FileSender;
}

/**
 * Reply bytes one connection may hold: 16 READs of 1 MiB, more than a Linux client keeps in
 * flight on one connection (read-ahead of 15 x rsize), so a well-behaved client never waits.
 */
export const DEFAULT_MAX_QUEUED_REPLY_BYTES = 16 * 1024 * 1024;
/** Reply bytes all connections may hold together: keeps the proxy within its memory budget (docs/security.md). */
export const DEFAULT_MAX_TOTAL_REPLY_BYTES = 64 * 1024 * 1024;
/** Calls run concurrently per TCP connection by default. */
const DEFAULT_MAX_INFLIGHT_PER_CONNECTION = 64;

export class RpcServer {
  readonly stats: RpcServerStats = {
    calls: 0,
    malformedFrames: 0,
    garbageArgs: 0,
    progUnavail: 0,
    progMismatch: 0,
    procUnavail: 0,
    authErrors: 0,
    systemErrors: 0,
    rpcMismatch: 0,
    connections: 0,
    duplicateReplays: 0,
    fileReplies: 0,
  };
  private readonly dispatcher: RpcDispatcher;
  private readonly tcpServers: net.Server[] = [];
  private readonly udpSockets: dgram.Socket[] = [];
  private readonly connections: ConnectionTable;
  private readonly budget: ReplyBudget;
  /** What each TCP connection uses of the server. */
  private readonly tcpHost: TcpConnectionHost;

  constructor(opts: RpcServerOptions = {}) {
    const now = opts.now ?? (() => performance.now());
    this.connections = new ConnectionTable(
      {
        maxConnections: opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
        maxConnectionsPerAddress: opts.maxConnectionsPerAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
        incompleteRecordTimeoutMs: opts.incompleteRecordTimeoutMs ?? DEFAULT_INCOMPLETE_RECORD_TIMEOUT_MS,
        idleTimeoutMs: opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
        maxIncompleteRecordBytes: opts.maxIncompleteRecordBytes ?? DEFAULT_MAX_INCOMPLETE_RECORD_BYTES,
      },
      now,
    );
    this.budget = new ReplyBudget(opts.maxQueuedReplyBytes ?? DEFAULT_MAX_QUEUED_REPLY_BYTES, opts.maxTotalReplyBytes ?? DEFAULT_MAX_TOTAL_REPLY_BYTES);
    const dispatcher = new RpcDispatcher(
      { duplicateCacheEntries: opts.duplicateCacheEntries ?? DEFAULT_DUPLICATE_CACHE_ENTRIES, ...(opts.onError ? { onError: opts.onError } : {}) },
      this.stats,
      this.budget,
    );
    this.dispatcher = dispatcher;
    this.tcpHost = {
      stats: this.stats,
      connections: this.connections,
      budget: this.budget,
      fileSends: new FileSendSlots(opts.maxFileSends ?? Math.max(1, Math.floor((Number(process.env['UV_THREADPOOL_SIZE']) || 4) / 2))),
      maxRecordBytes: opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES,
      maxInflight: opts.maxInflightPerConnection ?? DEFAULT_MAX_INFLIGHT_PER_CONNECTION,
      recordPool: opts.recordPool,
      fileSender: opts.fileSender,
      now,
      dispatch: (msg, origin) => dispatcher.dispatch(msg, origin),
    };
  }

  /** Evictions, refusals and timeouts of TCP connections. */
  get connectionStats(): Readonly<ConnectionTableStats> {
    return this.connections.stats;
  }

  /** Reply bytes held right now: running calls' reservations and replies the kernel has not taken. */
  get heldReplyBytes(): number {
    return this.budget.held;
  }

  /** Bytes of records still arriving, over all TCP connections. */
  get incompleteRecordBytes(): number {
    return this.connections.incompleteRecordBytes;
  }

  /** TCP connections open now. */
  get openConnections(): number {
    return this.connections.size;
  }

  addProgram(p: RpcProgram): this {
    this.dispatcher.addProgram(p);
    return this;
  }

  /** Listens on TCP; resolves with the bound port (pass 0 for any). */
  listenTcp(port: number, host = '0.0.0.0'): Promise<number> {
    const server = net.createServer((s) => this.onConnection(s));
    this.tcpServers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  }

  listenUdp(port: number, host = '0.0.0.0'): Promise<number> {
    const sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    this.udpSockets.push(sock);
    sock.on('message', (msg, rinfo) => {
      void this.dispatcher.dispatch(msg, { transport: 'udp', remoteAddress: rinfo.address, remotePort: rinfo.port, sendsFiles: false }).then((reply) => {
        try {
          // bytes() is a contiguous copy when bodies were by reference: they are free after it.
          if (reply) sock.send(reply.writer.bytes(), rinfo.port, rinfo.address);
        } catch {
          /* socket closed while the call ran */
        }
        reply?.afterSent?.();
      });
    });
    sock.on('error', () => undefined);
    return new Promise((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(port, host, () => {
        sock.off('error', reject);
        resolve(sock.address().port);
      });
    });
  }

  private onConnection(accepted: net.Socket): void {
    const conn = new TcpConnection(accepted, this.tcpHost);
    if (!this.connections.admit(conn)) {
      accepted.destroy();
      return;
    }
    this.stats.connections++;
    conn.start();
  }

  /** Stops listening and drops every connection. */
  async close(): Promise<void> {
    this.connections.closeAll();
    await Promise.all(this.tcpServers.map((srv) => new Promise<void>((res) => srv.close(() => res()))));
    for (const u of this.udpSockets) {
      try {
        u.close();
      } catch {
        /* already closed */
      }
    }
    this.tcpServers.length = 0;
    this.udpSockets.length = 0;
  }
}
