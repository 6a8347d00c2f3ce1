// RPC clients over TCP (record marking) and UDP (one message per datagram). A call is encoded once
// into a buffer that leaves room for the record mark, registered under its xid with a deadline, and
// sent; replies are matched by xid, so many calls may be in flight on one connection. When a TCP
// connection drops, calls already sent are retransmitted with the same xid on a new connection
// (the server's duplicate-request handling, or idempotence, makes that safe), until their deadline.
import net from 'node:net';
import dgram from 'node:dgram';
import { systemClock, type Clock, type Random, type Timer } from '../../lib/clock.js';
import { cryptoRandom } from '../../lib/random.js';
import { XdrError } from '../xdr/errors.js';
import { XdrReader } from '../xdr/reader.js';
import { XdrWriter } from '../xdr/writer.js';
import { RecordDecoder, markRecordParts, DEFAULT_MAX_RECORD_BYTES } from './record-marking.js';
import { batchedWriteParts } from './batched-write.js';
import { RpcReplyError, RpcTransportError } from './errors.js';
import {
  AcceptStat,
  AUTH_NONE,
  decodeReplyHeader,
  encodeCallHeader,
  RejectStat,
  ReplyStat,
  type OpaqueAuth,
} from './message.js';

/** Default deadline for one call, retransmissions included. */
export const DEFAULT_CALL_TIMEOUT_MS = 15_000;

export interface RpcCallOptions {
  /** Deadline for this call (ms); default the client's `timeoutMs`. */
  timeoutMs?: number;
  /** Credential for this call; default the client's `cred`. */
  cred?: OpaqueAuth;
  /**
   * TCP only: a buffer the reply record is assembled in when it arrives as one fragment of at most
   * this length (bulk READ replies), so its data is a view of memory the caller owns (a pooled
   * buffer). Once the call has settled, the client never writes into it again.
   */
  replyInto?: Uint8Array;
}

export interface RpcClient {
  /**
   * Calls `prog`/`vers`/`proc` with arguments written by `encodeArgs`. Resolves with a reader
   * positioned at the start of the results (SUCCESS only). Rejects with RpcReplyError when the
   * server refuses the call, RpcTransportError on timeout/connection trouble or after close().
   */
  call(prog: number, vers: number, proc: number, encodeArgs: (w: XdrWriter) => void, opts?: RpcCallOptions): Promise<XdrReader>;
  /** Fails every pending call with CLIENT_CLOSED and releases the socket. Idempotent. */
  close(): void;
}

export interface RpcClientOptions {
  host: string;
  port: number;
  timeoutMs?: number;
  cred?: OpaqueAuth;
  clock?: Clock;
  /** Picks the first xid (default cryptoRandom): a restarted client does not reuse its predecessor's xids. */
  random?: Random;
  /** TCP only: cap on one reply record. */
  maxRecordBytes?: number;
  /** TCP only: also retry connecting for calls never sent yet (default false: they fail fast with CONNECT_FAILED). */
  waitForServer?: boolean;
  /** UDP only: retransmit interval (ms). */
  retransmitMs?: number;
}

/** Socket reads of anything but bulk record bodies go through one buffer of this size (small: what
 * lands here of a bulk reply is copied into its record; many small replies still fit in one read). */
const READ_SCRATCH_BYTES = 16 * 1024;

interface Pending {
  /** The framed call: 4 bytes for the record mark, then the message (bulk bodies by reference). */
  parts: Uint8Array[];
  resolve: (r: XdrReader) => void;
  reject: (e: Error) => void;
  timer: Timer;
  sent: boolean;
  replyInto?: Uint8Array;
}

abstract class BaseRpcClient implements RpcClient {
  protected readonly pending = new Map<number, Pending>();
  protected readonly clock: Clock;
  protected closed = false;
  private nextXid: number;
  /** Replies that matched no pending call or did not decode (for tests and counters). */
  strayReplies = 0;

  constructor(protected readonly opts: RpcClientOptions) {
    this.clock = opts.clock ?? systemClock;
    this.nextXid = (opts.random ?? cryptoRandom).int(0x7fffffff);
  }

  call(prog: number, vers: number, proc: number, encodeArgs: (w: XdrWriter) => void, o: RpcCallOptions = {}): Promise<XdrReader> {
    if (this.closed) return Promise.reject(new RpcTransportError('CLIENT_CLOSED', 'client closed'));
    const xid = this.nextXid;
    this.nextXid = (this.nextXid + 1) >>> 0;
    const w = new XdrWriter(256, 4);
    encodeCallHeader(w, { xid, prog, vers, proc, cred: o.cred ?? this.opts.cred ?? AUTH_NONE, verf: AUTH_NONE });
    encodeArgs(w);
    const parts = w.framedParts();
    const timeoutMs = o.timeoutMs ?? this.opts.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    return new Promise<XdrReader>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        const p = this.pending.get(xid);
        this.pending.delete(xid);
        if (p?.sent) this.abandonSent();
        if (o.replyInto) this.detachReplyBuffer(o.replyInto);
        reject(new RpcTransportError('TIMEOUT', `no reply to prog ${prog} v${vers} proc ${proc} from ${this.opts.host}:${this.opts.port} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(xid, { parts, resolve, reject, timer, sent: false, ...(o.replyInto ? { replyInto: o.replyInto } : {}) });
      this.send(xid);
    });
  }

  protected abstract send(xid: number): void;

  /**
   * A sent call gave up: bodies it sent by reference (WRITE data) may be the caller's to reuse
   * from now on, so none of its bytes may still go out later.
   */
  protected abandonSent(): void {}

  /** A call gave up on its reply: its replyInto buffer must not be written any more. */
  protected detachReplyBuffer(_buf: Uint8Array): void {}

  /** The caller's buffer for the reply to `xid` when it fits (see RpcCallOptions.replyInto). */
  protected replyTarget(length: number, head: Uint8Array): Uint8Array | undefined {
    if (head.length < 4) return undefined;
    const xid = ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0;
    const into = this.pending.get(xid)?.replyInto;
    return into !== undefined && into.length >= length ? into : undefined;
  }

  /** Matches a reply message to its pending call. */
  protected onReply(msg: Uint8Array): void {
    let r: XdrReader;
    let h;
    try {
      r = new XdrReader(msg);
      h = decodeReplyHeader(r);
    } catch {
      this.strayReplies++;
      return;
    }
    const p = this.pending.get(h.xid);
    if (!p) {
      this.strayReplies++;
      return;
    }
    this.pending.delete(h.xid);
    p.timer.cancel();
    if (h.stat === ReplyStat.MSG_ACCEPTED) {
      if (h.accept === AcceptStat.SUCCESS) return p.resolve(r);
      if (h.accept === AcceptStat.PROG_MISMATCH) {
        return p.reject(new RpcReplyError('PROG_MISMATCH', `server supports versions ${h.low}..${h.high}`, { low: h.low, high: h.high }));
      }
      return p.reject(new RpcReplyError(AcceptStat[h.accept] as 'PROG_UNAVAIL', `server answered ${AcceptStat[h.accept]}`));
    }
    if (h.reject === RejectStat.RPC_MISMATCH) {
      return p.reject(new RpcReplyError('RPC_MISMATCH', `server supports RPC ${h.low}..${h.high}`, { low: h.low, high: h.high }));
    }
    p.reject(new RpcReplyError('AUTH_ERROR', `auth_stat ${h.authStat}`, { authStat: h.authStat }));
  }

  protected failAll(filter: (p: Pending) => boolean, err: Error): void {
    for (const [xid, p] of this.pending) {
      if (!filter(p)) continue;
      this.pending.delete(xid);
      p.timer.cancel();
      if (p.replyInto) this.detachReplyBuffer(p.replyInto);
      p.reject(err);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.failAll(() => true, new RpcTransportError('CLIENT_CLOSED', 'client closed'));
  }
}

/** Backoff between reconnect attempts while sent calls wait (ms). */
const RECONNECT_BACKOFF_MS = [50, 100, 250, 500, 1000];

export class TcpRpcClient extends BaseRpcClient {
  private socket: net.Socket | undefined;
  private connected = false;
  private attempts = 0;
  private reconnectTimer: Timer | undefined;
  private decoder: RecordDecoder | undefined;

  constructor(opts: RpcClientOptions) {
    super(opts);
  }

  /**
   * The socket may already have been given the rest of `buf` as its next read target, so the only
   * way to keep it from writing there is to close the connection (the other sent calls go out
   * again on a new one). Reads happen on this thread: after destroy() there is none.
   */
  /** Bytes still queued in user space would go out after the call gave up: drop the connection. */
  protected override abandonSent(): void {
    if (this.socket && this.socket.writableLength > 0) this.socket.destroy();
  }

  protected override detachReplyBuffer(buf: Uint8Array): void {
    if (this.decoder?.assemblingInto(buf)) {
      this.decoder = undefined;
      this.socket?.destroy();
    }
  }

  /** Connects now (calls connect lazily anyway); rejects with CONNECT_FAILED. */
  connect(): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const s = this.open();
      const onErr = (e: Error) => reject(new RpcTransportError('CONNECT_FAILED', `${this.opts.host}:${this.opts.port}: ${e.message}`));
      s.once('error', onErr);
      s.once('connect', () => {
        s.off('error', onErr);
        resolve();
      });
    });
  }

  private open(): net.Socket {
    if (this.socket) return this.socket;
    const decoder = new RecordDecoder(this.opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES, (length, head) => this.replyTarget(length, head));
    this.decoder = decoder;
    const scratch = Buffer.allocUnsafe(READ_SCRATCH_BYTES);
    // Reads land in the record being assembled (bulk READ replies) or in one reused scratch buffer:
    // no chunk is allocated per read, and reply data is not copied after the kernel wrote it.
    const s = net.connect({
      host: this.opts.host,
      port: this.opts.port,
      onread: {
        buffer: () => decoder.readTarget(scratch),
        callback: (n: number) => {
          let records: Uint8Array[];
          try {
            records = decoder.pushRead(n);
          } catch (e) {
            // A reply larger than we accept (or broken framing): the stream cannot continue, and we
            // cannot tell which call it answers. Fail the calls sent on this connection instead of
            // retransmitting them into the same wall; unsent calls go out on a new connection.
            this.strayReplies++;
            this.failAll((p) => p.sent, new RpcTransportError('TOO_LARGE', `reply stream from ${this.opts.host}:${this.opts.port} refused: ${(e as Error).message}`));
            s.destroy();
            return false;
          }
          for (const rec of records) this.onReply(rec);
          return true;
        },
      },
    });
    s.setNoDelay(true);
    this.socket = s;
    s.on('connect', () => {
      this.connected = true;
      this.attempts = 0;
      for (const [xid, p] of this.pending) this.write(xid, p);
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      const wasConnected = this.connected;
      this.connected = false;
      if (this.socket === s) this.socket = undefined;
      if (this.decoder === decoder) this.decoder = undefined;
      if (this.closed) return;
      if (!wasConnected) {
        // Connection attempt failed: new calls fail fast unless told to wait for the server.
        if (!this.opts.waitForServer) {
          this.failAll((p) => !p.sent, new RpcTransportError('CONNECT_FAILED', `cannot connect to ${this.opts.host}:${this.opts.port}`));
        }
      }
      // Calls still pending (sent ones, or all when waiting for the server) go out again on reconnect.
      if (this.pending.size > 0) this.scheduleReconnect();
    });
    return s;
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.closed) return;
    const delay = RECONNECT_BACKOFF_MS[Math.min(this.attempts, RECONNECT_BACKOFF_MS.length - 1)]!;
    this.attempts++;
    this.reconnectTimer = this.clock.setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.closed && this.pending.size > 0) this.open();
    }, delay);
  }

  private write(xid: number, p: Pending): void {
    if (!this.socket || !this.connected) return;
    p.sent = true;
    batchedWriteParts(this.socket, markRecordParts(p.parts));
    void xid;
  }

  protected send(xid: number): void {
    const p = this.pending.get(xid)!;
    if (this.connected) this.write(xid, p);
    else if (!this.reconnectTimer) this.open();
  }

  override close(): void {
    super.close();
    this.reconnectTimer?.cancel();
    this.socket?.destroy();
    this.socket = undefined;
  }
}

export class UdpRpcClient extends BaseRpcClient {
  private readonly socket: dgram.Socket;
  private readonly retransmitTimers = new Map<number, Timer>();

  constructor(opts: RpcClientOptions) {
    super(opts);
    const family = net.isIPv6(opts.host) ? 'udp6' : 'udp4';
    this.socket = dgram.createSocket(family);
    this.socket.on('message', (msg, rinfo) => {
      if (rinfo.port !== this.opts.port) return;
      this.onReply(msg);
      for (const [xid, t] of this.retransmitTimers) {
        if (!this.pending.has(xid)) {
          t.cancel();
          this.retransmitTimers.delete(xid);
        }
      }
    });
    this.socket.on('error', () => undefined);
  }

  protected send(xid: number): void {
    const p = this.pending.get(xid);
    if (!p || this.closed) {
      this.retransmitTimers.get(xid)?.cancel();
      this.retransmitTimers.delete(xid);
      return;
    }
    p.sent = true;
    this.socket.send(p.parts.length === 1 ? p.parts[0]!.subarray(4) : Buffer.concat(p.parts).subarray(4), this.opts.port, this.opts.host);
    this.retransmitTimers.set(
      xid,
      this.clock.setTimeout(() => this.send(xid), this.opts.retransmitMs ?? 1000),
    );
  }

  override close(): void {
    super.close();
    for (const t of this.retransmitTimers.values()) t.cancel();
    this.retransmitTimers.clear();
    try {
      this.socket.close();
    } catch {
      /* already closed */
    }
  }
}

/** Re-exported so callers can tell decoding trouble in results apart. */
export { XdrError };
