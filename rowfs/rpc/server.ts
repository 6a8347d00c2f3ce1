// RPC server over TCP (record marking) and UDP. Each message: decode the call header, check the
// credential flavor, find program -> version -> procedure, decode the arguments completely, run the
// procedure, encode the reply. Refusals follow RFC 5531 s9 (PROG_UNAVAIL, PROG_MISMATCH with the
// supported range, PROC_UNAVAIL, GARBAGE_ARGS, SYSTEM_ERR, RPC_MISMATCH, AUTH_ERROR). Malformed
// input is counted and dropped (framing errors close the TCP connection); nothing here throws upward.
import net from 'node:net';
import dgram from 'node:dgram';
import { XdrError } from '../xdr/errors.js';
import { XdrReader } from '../xdr/reader.js';
import { XdrWriter } from '../xdr/writer.js';
import { DEFAULT_MAX_RECORD_BYTES, RecordDecoder, markRecordParts } from './record-marking.js';
import { batchedWriteParts } from './batched-write.js';
import type { BufferPool, Lease } from './buffer-pool.js';
import type { FileSender } from './file-sender.js';
import { isFileSlice, readFileSlice, type FileSlice } from '../xdr/file-slice.js';
import { DEFAULT_DUPLICATE_CACHE_ENTRIES, DuplicateCache, duplicateKey } from './duplicate-cache.js';
import {
  ConnectionTable,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_INCOMPLETE_RECORD_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_INCOMPLETE_RECORD_BYTES,
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
  type ConnectionTableStats,
  type TrackedConnection,
} from './connection-table.js';
import { PairFifo, ReplyAccount, ReplyBudget } from './reply-budget.js';
import {
  AcceptStat,
  AUTH_NONE,
  AuthFlavor,
  AuthStat,
  decodeAuthSys,
  decodeCallHeader,
  encodeReplyHeader,
  RejectStat,
  ReplyStat,
  RpcVersionMismatch,
  RPC_VERSION,
  type AuthSysParams,
  type OpaqueAuth,
  type ReplyHeader,
} from './message.js';

export interface RpcCallContext {
  xid: number;
  prog: number;
  vers: number;
  proc: number;
  cred: OpaqueAuth;
  /** Present when the caller used AUTH_SYS. */
  authSys?: AuthSysParams;
  transport: 'tcp' | 'udp';
  remoteAddress: string;
  remotePort: number;
  /**
   * Runs `fn` once this call's reply has been handed to the kernel, or dropped (connection gone,
   * no reply): a handler whose result references pooled memory releases it there.
   */
  afterReply?: (fn: () => void) => void;
  /** The reply may carry file-range bodies (XdrWriter.opaqueFile): this TCP connection sends them with sendfile. */
  sendsFiles?: boolean;
}

/** One procedure: argument decoder, the work, result encoder. */
export interface RpcProcedure<A = any, R = any> {
  decodeArgs(r: XdrReader): A;
  run(args: A, ctx: RpcCallContext): R | Promise<R>;
  encodeResult(w: XdrWriter, res: R): void;
  /**
   * Bytes the encoded result will take in the reply buffer (bodies sent by reference excluded), so
   * the buffer is allocated once instead of grown by doubling. An estimate: too small only costs a copy.
   */
  resultSizeHint?(args: A, res: R): number;
  /**
   * The most bytes this call's reply may hold in memory (READ: its count), reserved from the
   * connection's reply budget before it runs; without it, a small reply is assumed.
   */
  replyBytesBound?(args: A): number;
}

export interface RpcProgram {
  prog: number;
  vers: number;
  procedures: ReadonlyMap<number, RpcProcedure>;
  /** Procedures whose replies are kept in the duplicate request cache (not idempotent). */
  nonIdempotent?: ReadonlySet<number>;
}

export interface RpcServerStats {
  calls: number;
  /** Frames that broke record marking or whose header did not decode. */
  malformedFrames: number;
  garbageArgs: number;
  progUnavail: number;
  progMismatch: number;
  procUnavail: number;
  authErrors: number;
  systemErrors: number;
  rpcMismatch: number;
  connections: number;
  /** Retransmitted non-idempotent calls answered from the duplicate request cache. */
  duplicateReplays: number;
  /** Replies whose bodies went out by sendfile (file ranges). */
  fileReplies: number;
}

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
/** Reservation of a call whose procedure gives no bound (its real size is counted once encoded). */
const SMALL_REPLY_BYTES = 1024;
/** No reservation is larger than the largest reply a procedure makes (READ data is capped at 4 MiB). */
const MAX_REPLY_RESERVATION_BYTES = 4 * 1024 * 1024;
/** Reply header (xid, REPLY, MSG_ACCEPTED, AUTH_NONE verifier, SUCCESS) plus the record mark. */
const REPLY_HEADER_BYTES = 4 + 24;
/** Reply buffer for results whose procedure gives no size hint. */
const DEFAULT_RESULT_BYTES = 512;

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
  private readonly drc: DuplicateCache;
  private readonly programs = new Map<number, Map<number, RpcProgram>>();
  private readonly tcpServers: net.Server[] = [];
  private readonly udpSockets: dgram.Socket[] = [];
  private readonly connections: ConnectionTable;
  private readonly budget: ReplyBudget;
  private readonly now: () => number;
  private readonly maxFileSends: number;
  private fileSends = 0;

  constructor(private readonly opts: RpcServerOptions = {}) {
    this.maxFileSends = opts.maxFileSends ?? Math.max(1, Math.floor((Number(process.env['UV_THREADPOOL_SIZE']) || 4) / 2));
    this.drc = new DuplicateCache(opts.duplicateCacheEntries ?? DEFAULT_DUPLICATE_CACHE_ENTRIES);
    this.now = opts.now ?? (() => performance.now());
    this.connections = new ConnectionTable(
      {
        maxConnections: opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
        maxConnectionsPerAddress: opts.maxConnectionsPerAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
        incompleteRecordTimeoutMs: opts.incompleteRecordTimeoutMs ?? DEFAULT_INCOMPLETE_RECORD_TIMEOUT_MS,
        idleTimeoutMs: opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
        maxIncompleteRecordBytes: opts.maxIncompleteRecordBytes ?? DEFAULT_MAX_INCOMPLETE_RECORD_BYTES,
      },
      this.now,
    );
    this.budget = new ReplyBudget(opts.maxQueuedReplyBytes ?? DEFAULT_MAX_QUEUED_REPLY_BYTES, opts.maxTotalReplyBytes ?? DEFAULT_MAX_TOTAL_REPLY_BYTES);
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
    let versions = this.programs.get(p.prog);
    if (!versions) this.programs.set(p.prog, (versions = new Map()));
    versions.set(p.vers, p);
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
      void this.handle(msg, 'udp', rinfo.address, rinfo.port).then((reply) => {
        try {
          // bytes() is a contiguous copy when bodies were by reference: they are free after it.
          if (reply) sock.send(reply.bytes(), rinfo.port, rinfo.address);
        } catch {
          /* socket closed while the call ran */
        }
        if (reply) takeHooks(reply)?.();
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
    let s = accepted;
    const conn: TrackedConnection = {
      address: accepted.remoteAddress ?? '',
      lastProgressMs: this.now(),
      recordStartMs: -1,
      recordBytes: 0,
      callsRunning: 0,
      close: () => s.destroy(),
    };
    if (!this.connections.admit(conn)) {
      accepted.destroy();
      return;
    }
    this.stats.connections++;
    // Large records (WRITE arguments) are assembled in pooled buffers, freed once the reply is out.
    const pool = this.opts.recordPool;
    let assembling: Lease | undefined;
    const decoder = new RecordDecoder(
      this.opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES,
      pool
        ? (length) => {
            if (length < POOLED_RECORD_MIN_BYTES || length > pool.bufferBytes) return undefined;
            assembling = pool.tryAcquire();
            return assembling?.buf;
          }
        : undefined,
    );
    const scratch = Buffer.allocUnsafe(READ_SCRATCH_BYTES);
    let onRecords: (records: Uint8Array[]) => void = () => undefined;
    // Progress and the incomplete-record clock, per read (not per call).
    const noteRead = (completed: number) => {
      const t = this.now();
      conn.lastProgressMs = t;
      if (!decoder.midRecord()) conn.recordStartMs = -1;
      else if (completed > 0 || conn.recordStartMs < 0) conn.recordStartMs = t;
      const pending = decoder.pendingBytes();
      if (pending !== conn.recordBytes) this.connections.noteRecordBytes(conn, pending);
    };
    s = adoptWithOnread(accepted, {
      buffer: () => decoder.readTarget(scratch),
      callback: (n: number) => {
        let records: Uint8Array[];
        try {
          records = decoder.pushRead(n);
        } catch {
          // Broken framing: the stream cannot be resynchronised (RFC 5531 s11).
          this.stats.malformedFrames++;
          s.destroy();
          return false;
        }
        noteRead(records.length);
        onRecords(records);
        return true;
      },
    });
    s.setNoDelay(true);
    const maxInflight = this.opts.maxInflightPerConnection ?? 64;
    const budget = this.budget;
    const account = new ReplyAccount();
    // Replies handed to the socket, in order: bytes held, release hook. Write callbacks come in
    // the same order, so one callback per connection pops them (no closure per reply).
    const unsent = new PairFifo<(() => void) | undefined>();
    const onWritten = () => {
      if (unsent.size === 0) return; // drained by close already
      const bytes = unsent.peek()!;
      const done = unsent.shift();
      budget.release(account, bytes);
      conn.lastProgressMs = this.now();
      done?.();
      startWaiting();
      resumeIfRoom();
    };
    // Reading stops while too many calls run or the connection holds its share of reply memory.
    const resumeIfRoom = () => {
      if (conn.callsRunning < maxInflight && firstWaiting === waitingRecords.length && account.held < budget.perConnectionBytes && s.isPaused() && !s.destroyed) {
        s.resume();
      }
    };
    const waitingRecords: Uint8Array[] = [];
    const waitingLeases: Array<Lease | undefined> = [];
    let firstWaiting = 0;
    // Replies with file-range bodies: their bytes must not interleave with other replies, so while
    // one is being sent (its buffers through the socket, its file ranges by sendfile once the socket
    // has taken everything before them) the connection's other replies wait, in order.
    const socketFd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
    const fileSender = this.opts.fileSender && typeof socketFd === 'number' && socketFd >= 0 ? this.opts.fileSender : undefined;
    let sendingFile = false;
    const held: Array<() => void> = [];
    // `bytes`: what the reply's buffers hold (counted already); `done`: its release hook.
    const writeParts = (parts: Array<Uint8Array | FileSlice>, bytes: number, done: (() => void) | undefined) => {
      if (sendingFile) {
        held.push(() => writeParts(parts, bytes, done));
        return;
      }
      const hasFiles = parts.some(isFileSlice);
      // A sender thread blocks while its client does not read: at most maxFileSends at once, so
      // clients that never read cannot take every pool thread; past that, ranges are read here.
      if (!hasFiles || !fileSender || this.fileSends >= this.maxFileSends) {
        let wire = parts as Uint8Array[];
        if (hasFiles) {
          wire = parts.map((p) => (isFileSlice(p) ? readFileSlice(p) : p));
          const read = bufferBytes(wire) - bytes;
          budget.take(account, read);
          bytes += read;
        }
        unsent.push(bytes, done);
        batchedWriteParts(s, wire, onWritten);
        return;
      }
      sendingFile = true;
      this.fileSends++;
      this.stats.fileReplies++;
      unsent.push(bytes, done);
      sendWithFiles(s, socketFd!, fileSender, parts)
        .catch(() => s.destroy()) // a reply cut in the middle: the stream cannot continue
        .finally(() => {
          this.fileSends--;
          sendingFile = false;
          onWritten();
          while (!sendingFile && held.length > 0) held.shift()!();
        });
    };
    const startCall = (rec: Uint8Array, recLease: Lease | undefined) => {
      conn.callsRunning++;
      void this.handle(rec, 'tcp', s.remoteAddress ?? '', s.remotePort ?? 0, fileSender !== undefined, account).then((reply) => {
        conn.callsRunning--;
        let done = reply ? takeHooks(reply) : undefined;
        if (recLease) {
          // The record (arguments) is free once the reply is out: handlers keep no views of it.
          const after = done;
          done = () => {
            after?.();
            recLease.release();
          };
        }
        if (reply && !s.destroyed) {
          try {
            const parts = markRecordParts<Uint8Array | FileSlice>(reply.hasFileBodies && fileSender ? reply.framedPartsWithFiles() : reply.framedParts());
            const bytes = bufferBytes(parts);
            budget.take(account, bytes);
            writeParts(parts, bytes, done);
            done = undefined;
            if (account.held >= budget.perConnectionBytes) s.pause();
          } catch {
            /* connection gone while the call ran */
          }
        }
        done?.(); // not handed to the socket
        startWaiting();
        resumeIfRoom();
      });
    };
    // Records decoded but not started: one read can bring hundreds of small calls, and at most
    // maxInflight run at once; the rest wait here (in order) and the socket is not read meanwhile.
    const startWaiting = () => {
      // A connection over its reply share starts nothing more until the kernel takes its replies
      // (onWritten calls back here): a started call would only wait for the budget, holding its record.
      while (firstWaiting < waitingRecords.length && conn.callsRunning < maxInflight && account.held < budget.perConnectionBytes && !s.destroyed) {
        const rec = waitingRecords[firstWaiting]!;
        const lease = waitingLeases[firstWaiting];
        waitingRecords[firstWaiting] = EMPTY_RECORD;
        waitingLeases[firstWaiting] = undefined;
        firstWaiting++;
        startCall(rec, lease);
      }
      if (firstWaiting === waitingRecords.length) {
        waitingRecords.length = 0;
        waitingLeases.length = 0;
        firstWaiting = 0;
      }
    };
    onRecords = (records) => {
      for (const rec of records) {
        let recLease: Lease | undefined;
        if (assembling && rec.buffer === assembling.buf.buffer) {
          recLease = assembling;
          assembling = undefined;
        }
        if (conn.callsRunning < maxInflight && firstWaiting === waitingRecords.length) startCall(rec, recLease);
        else {
          waitingRecords.push(rec);
          waitingLeases.push(recLease);
        }
      }
      if (conn.callsRunning >= maxInflight) s.pause();
    };
    if (s === accepted) s.on('data', (chunk: Buffer) => {
      let records: Uint8Array[];
      try {
        records = decoder.push(chunk);
      } catch {
        this.stats.malformedFrames++;
        s.destroy();
        return;
      }
      noteRead(records.length);
      onRecords(records);
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      this.connections.remove(conn);
      budget.close(account);
      // A record being assembled in a pooled buffer: the socket writes no more into it.
      assembling?.release();
      assembling = undefined;
      // Records never started: their pooled buffers go back.
      for (let i = firstWaiting; i < waitingLeases.length; i++) waitingLeases[i]?.release();
      waitingRecords.length = 0;
      waitingLeases.length = 0;
      firstWaiting = 0;
      // The kernel holds none of our buffers once the socket is closed.
      while (unsent.size > 0) onWritten();
    });
  }

  /** Handles one RPC message; resolves with the reply writer, or undefined to drop it. Never rejects. */
  async handle(
    msg: Uint8Array,
    transport: 'tcp' | 'udp',
    remoteAddress: string,
    remotePort: number,
    sendsFiles = false,
    account?: ReplyAccount,
  ): Promise<XdrWriter | undefined> {
    const r = new XdrReader(msg);
    let header;
    try {
      header = decodeCallHeader(r);
    } catch (e) {
      if (e instanceof RpcVersionMismatch) {
        this.stats.rpcMismatch++;
        return reply({ xid: e.xid, stat: ReplyStat.MSG_DENIED, reject: RejectStat.RPC_MISMATCH, low: RPC_VERSION, high: RPC_VERSION });
      }
      this.stats.malformedFrames++;
      return undefined;
    }
    this.stats.calls++;
    const { xid } = header;
    const hooks: Array<() => void> = [];
    const ctx: RpcCallContext = { ...header, transport, remoteAddress, remotePort, afterReply: (fn) => void hooks.push(fn), sendsFiles };
    if (header.cred.flavor === AuthFlavor.AUTH_SYS) {
      try {
        ctx.authSys = decodeAuthSys(header.cred.body);
      } catch {
        this.stats.authErrors++;
        return reply({ xid, stat: ReplyStat.MSG_DENIED, reject: RejectStat.AUTH_ERROR, authStat: AuthStat.AUTH_BADCRED });
      }
    } else if (header.cred.flavor !== AuthFlavor.AUTH_NONE) {
      this.stats.authErrors++;
      return reply({ xid, stat: ReplyStat.MSG_DENIED, reject: RejectStat.AUTH_ERROR, authStat: AuthStat.AUTH_BADCRED });
    }
    const accepted = (accept: AcceptStat.PROG_UNAVAIL | AcceptStat.PROC_UNAVAIL | AcceptStat.GARBAGE_ARGS | AcceptStat.SYSTEM_ERR) =>
      reply({ xid, stat: ReplyStat.MSG_ACCEPTED, verf: AUTH_NONE, accept });
    const versions = this.programs.get(header.prog);
    if (!versions) {
      this.stats.progUnavail++;
      return accepted(AcceptStat.PROG_UNAVAIL);
    }
    const program = versions.get(header.vers);
    if (!program) {
      this.stats.progMismatch++;
      const vs = [...versions.keys()];
      return reply({
        xid,
        stat: ReplyStat.MSG_ACCEPTED,
        verf: AUTH_NONE,
        accept: AcceptStat.PROG_MISMATCH,
        low: Math.min(...vs),
        high: Math.max(...vs),
      });
    }
    const proc = program.procedures.get(header.proc);
    if (!proc) {
      this.stats.procUnavail++;
      return accepted(AcceptStat.PROC_UNAVAIL);
    }
    let drcKey: string | undefined;
    if (program.nonIdempotent?.has(header.proc) && (this.opts.duplicateCacheEntries ?? 1) > 0) {
      drcKey = duplicateKey({ ...ctx, args: msg.subarray(r.pos) });
      const earlier = this.drc.lookup(drcKey);
      const bytes = earlier && (await earlier);
      if (bytes) {
        this.stats.duplicateReplays++;
        const w = new XdrWriter(bytes.length + 8, 4);
        w.raw(bytes);
        return w;
      }
      // No earlier reply, or the earlier attempt failed (SYSTEM_ERR): run it (again).
    }
    const result = this.execute(proc, r, ctx, account).then((w) => {
      if (hooks.length === 0) return w;
      if (w) afterSend.set(w, hooks);
      else runAll(hooks);
      return w;
    });
    if (drcKey) this.drc.store(drcKey, result.then((w) => (w && !systemErrorReplies.has(w) ? w.bytes().slice() : undefined)));
    return result;
  }

  private async execute(proc: RpcProcedure, r: XdrReader, ctx: RpcCallContext, account?: ReplyAccount): Promise<XdrWriter | undefined> {
    const xid = ctx.xid;
    const accepted = (accept: AcceptStat.PROC_UNAVAIL | AcceptStat.GARBAGE_ARGS | AcceptStat.SYSTEM_ERR) =>
      reply({ xid, stat: ReplyStat.MSG_ACCEPTED, verf: AUTH_NONE, accept });
    let args;
    try {
      args = proc.decodeArgs(r);
      r.expectEnd();
    } catch (e) {
      if (!(e instanceof XdrError)) this.opts.onError?.(e, ctx);
      this.stats.garbageArgs++;
      return accepted(AcceptStat.GARBAGE_ARGS);
    }
    // Room for the reply before the work (whose result may be a large buffer); the encoded reply
    // is counted again when it is queued.
    let reserved = 0;
    if (account) {
      reserved = Math.min(proc.replyBytesBound?.(args) ?? SMALL_REPLY_BYTES, MAX_REPLY_RESERVATION_BYTES);
      const wait = this.budget.reserve(account, reserved);
      if (wait) await wait;
    }
    try {
      const res = await proc.run(args, ctx);
      const w = new XdrWriter(REPLY_HEADER_BYTES + (proc.resultSizeHint?.(args, res) ?? DEFAULT_RESULT_BYTES), 4);
      encodeReplyHeader(w, { xid, stat: ReplyStat.MSG_ACCEPTED, verf: AUTH_NONE, accept: AcceptStat.SUCCESS });
      proc.encodeResult(w, res);
      return w;
    } catch (e) {
      this.stats.systemErrors++;
      this.opts.onError?.(e, ctx);
      const w = accepted(AcceptStat.SYSTEM_ERR);
      systemErrorReplies.add(w);
      return w;
    } finally {
      if (account) this.budget.release(account, reserved);
    }
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

/** Socket reads of anything but bulk record bodies go through one buffer of this size per connection
 * (small: what lands here of a bulk record is copied into it; many small calls still fit in one read). */
const READ_SCRATCH_BYTES = 16 * 1024;
/** Placeholder for a started record in the waiting list (the record itself is not kept). */
const EMPTY_RECORD = new Uint8Array(0);
/** Records at least this large are assembled in the record pool (when the server has one). */
const POOLED_RECORD_MIN_BYTES = 128 * 1024;

type Onread = { buffer: () => Uint8Array; callback: (n: number) => boolean };

/**
 * The accepted socket re-created around its handle with `onread` (net.Server has no such option):
 * the kernel then writes straight into the record being assembled or into the connection's scratch
 * buffer, instead of into a new chunk per read. Falls back to the socket itself (and 'data' events)
 * when the handle is not reachable.
 */
function adoptWithOnread(accepted: net.Socket, onread: Onread): net.Socket {
  const internal = accepted as unknown as { _handle: unknown };
  const handle = internal._handle;
  if (!handle || accepted.destroyed) return accepted;
  try {
    internal._handle = null;
    const s = new net.Socket({ handle, onread, readable: true, writable: true } as net.SocketConstructorOpts);
    accepted.destroy();
    return s;
  } catch {
    internal._handle = handle;
    return accepted;
  }
}

/** Bytes of a reply's buffers (file ranges hold no memory). */
function bufferBytes(parts: ReadonlyArray<Uint8Array | FileSlice>): number {
  let n = 0;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (!isFileSlice(p)) n += p.length;
  }
  return n;
}

/** Bytes before a file range that the file sender sends along with it (see sendWithFiles). */
const FILE_HEAD_MAX_BYTES = 4096;

/**
 * Writes one record whose parts include file ranges: buffers through the socket, each file range
 * by sendfile once the socket has taken every byte before it (a small run of buffers right before a
 * range goes with it, in the sender's call). Nothing else writes meanwhile.
 */
async function sendWithFiles(s: net.Socket, fd: number, sender: FileSender, parts: Array<Uint8Array | FileSlice>): Promise<void> {
  let i = 0;
  while (i < parts.length) {
    const bufs: Uint8Array[] = [];
    let bytes = 0;
    while (i < parts.length && !isFileSlice(parts[i]!)) {
      bytes += (parts[i] as Uint8Array).length;
      bufs.push(parts[i++] as Uint8Array);
    }
    if (i === parts.length) {
      if (bufs.length > 0) await writeAll(s, bufs);
      break;
    }
    // Small bytes before a range (the reply's header) go out with it in the sender's one call, when
    // nothing is queued in the socket's stream (else they would overtake it): no stream write and
    // no segment of their own.
    const withRange = sender.sendsHead === true && bytes <= FILE_HEAD_MAX_BYTES && s.writableLength === 0;
    if (bufs.length > 0 && !withRange) await writeAll(s, bufs);
    if (s.destroyed) throw new Error('connection closed');
    await sender.send(fd, parts[i++] as FileSlice, withRange && bufs.length > 0 ? bufs : undefined);
  }
}

/** Resolves once the kernel has taken `bufs` (and, the writes being ordered, all before them). */
function writeAll(s: net.Socket, bufs: Uint8Array[]): Promise<void> {
  return new Promise((resolve, reject) => {
    for (let j = 0; j < bufs.length; j++) {
      const last = j === bufs.length - 1;
      s.write(bufs[j]!, last ? (err) => (err ? reject(err) : s.writableLength === 0 ? resolve() : reject(new Error('socket still has queued bytes'))) : undefined);
    }
  });
}

/** Release hooks of replies (see RpcCallContext.afterReply), run once the reply is sent or dropped. */
const afterSend = new WeakMap<XdrWriter, Array<() => void>>();

/** The reply's hooks as one function (undefined when it has none); they are taken once. */
function takeHooks(w: XdrWriter): (() => void) | undefined {
  const hooks = afterSend.get(w);
  if (!hooks) return undefined;
  afterSend.delete(w);
  return () => runAll(hooks);
}

function runAll(hooks: Array<() => void>): void {
  for (const fn of hooks) {
    try {
      fn();
    } catch {
      /* a release hook must not break the connection */
    }
  }
}

/** SYSTEM_ERR replies are not replayed from the duplicate request cache: a retry may succeed. */
const systemErrorReplies = new WeakSet<XdrWriter>();

function reply(h: ReplyHeader): XdrWriter {
  const w = new XdrWriter(64, 4);
  encodeReplyHeader(w, h);
  return w;
}
