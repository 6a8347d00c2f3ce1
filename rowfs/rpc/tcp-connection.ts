// One TCP connection of the RPC server. Pipeline: socket reads -> record marking (RecordDecoder,
// large records assembled in pooled buffers) -> calls, at most maxInflight running and the rest
// waiting in order -> dispatch -> replies written in completion order within the connection's
// reply budget. Reading pauses while too many calls run, calls wait, or the connection holds its
// share of reply memory; it resumes when replies are taken by the kernel. A reply with file-range
// bodies is sent alone (by sendfile): the connection's later replies wait for it, in order.
import type net from 'node:net';
import { markRecordParts, RecordDecoder } from './record-marking.js';
import { batchedWriteParts } from './batched-write.js';
import type { BufferPool, Lease } from './buffer-pool.js';
import type { FileSender } from './file-sender.js';
import { isFileSlice, readFileSlice, type FileSlice } from '../xdr/file-slice.js';
import type { ConnectionTable, TrackedConnection } from './connection-table.js';
import { PairFifo, ReplyAccount, type ReplyBudget } from './reply-budget.js';
import { adoptWithOnread, sendWithFiles, socketFd } from './socket-internals.js';
import type { CallOrigin, RpcReply, RpcServerStats } from './dispatch.js';

/** File-range replies being sent at once, over all connections (each holds a libuv pool thread). */
export class FileSendSlots {
  private active = 0;
  constructor(readonly max: number) {}

  tryTake(): boolean {
    if (this.active >= this.max) return false;
    this.active++;
    return true;
  }

  release(): void {
    this.active--;
  }
}

/** What a connection uses of its server. */
export interface TcpConnectionHost {
  readonly stats: RpcServerStats;
  readonly connections: ConnectionTable;
  readonly budget: ReplyBudget;
  readonly fileSends: FileSendSlots;
  readonly maxRecordBytes: number;
  /** Calls run concurrently per connection before reading stops. */
  readonly maxInflight: number;
  /** Buffers for large incoming records (see RpcServerOptions.recordPool). */
  readonly recordPool: BufferPool | undefined;
  readonly fileSender: FileSender | undefined;
  now(): number;
  dispatch(msg: Uint8Array, origin: CallOrigin): Promise<RpcReply | undefined>;
}

/** Socket reads of anything but bulk record bodies go through one buffer of this size per connection
 * (small: what lands here of a bulk record is copied into it; many small calls still fit in one read). */
const READ_SCRATCH_BYTES = 16 * 1024;
/** Placeholder for a started record in the waiting list (the record itself is not kept). */
const EMPTY_RECORD = new Uint8Array(0);
/** Records at least this large are assembled in the record pool (when the server has one). */
const POOLED_RECORD_MIN_BYTES = 128 * 1024;
/**
 * Whole pooled records (1 MiB WRITEs) one connection may hold, running or waiting, before it stops
 * reading: further ones wait in the socket's receive buffer (the kernel's memory), not in ours. A
 * client keeping 8 WRITEs in flight had made the proxy hold 9 pool buffers (+8 MB resident set in
 * bench:rowfs's write phase), and could take the whole pool from every other client.
 */
export const MAX_POOLED_RECORDS_PER_CONNECTION = 2;

export class TcpConnection implements TrackedConnection {
  readonly address: string;
  lastProgressMs: number;
  recordStartMs = -1;
  recordBytes = 0;
  callsRunning = 0;

  private socket: net.Socket;
  private readonly decoder: RecordDecoder;
  /** The pooled buffer the record in progress is assembled in, if any. */
  private assembling: Lease | undefined;
  /** Whole records held in pooled buffers (running or waiting), until their replies are out. */
  private pooledRecords = 0;
  private readonly scratch = Buffer.allocUnsafe(READ_SCRATCH_BYTES);
  private readonly account = new ReplyAccount();
  /**
   * Replies handed to the socket, in order: bytes held, release hook. Write callbacks come in the
   * same order, so one callback per connection pops them (no closure per reply).
   */
  private readonly unsent = new PairFifo<(() => void) | undefined>();
  /** Records decoded but not started, in order (from firstWaiting on), with their pooled buffers. */
  private readonly waitingRecords: Uint8Array[] = [];
  private readonly waitingLeases: Array<Lease | undefined> = [];
  private firstWaiting = 0;
  /** Set when the socket's descriptor is reachable and the server has a file sender. */
  private fileSender: FileSender | undefined;
  private fd = -1;
  /** A reply with file ranges is being sent; `held` are the writes waiting for it, in order. */
  private sendingFile = false;
  private readonly held: Array<() => void> = [];
  /** What dispatch is told of this connection's calls (made at the first call, after start()). */
  private origin: CallOrigin | undefined;

  constructor(
    accepted: net.Socket,
    private readonly host: TcpConnectionHost,
  ) {
    this.socket = accepted;
    this.address = accepted.remoteAddress ?? '';
    this.lastProgressMs = host.now();
    const pool = host.recordPool;
    // Large records (WRITE arguments) are assembled in pooled buffers, freed once the reply is out.
    this.decoder = new RecordDecoder(
      host.maxRecordBytes,
      pool
        ? (length) => {
            if (length < POOLED_RECORD_MIN_BYTES || length > pool.bufferBytes) return undefined;
            this.assembling = pool.tryAcquire();
            return this.assembling?.buf;
          }
        : undefined,
    );
  }

  /** Closes the socket (the close handler then leaves the connection table). */
  close(): void {
    this.socket.destroy();
  }

  /** Starts reading; call once, after the connection table admitted the connection. */
  start(): void {
    const accepted = this.socket;
    const s = (this.socket = adoptWithOnread(accepted, {
      buffer: () => this.decoder.readTarget(this.scratch),
      callback: (n: number) => {
        let records: Uint8Array[];
        try {
          records = this.decoder.pushRead(n);
        } catch {
          // Broken framing: the stream cannot be resynchronised (RFC 5531 s11).
          this.host.stats.malformedFrames++;
          this.socket.destroy();
          return false;
        }
        this.noteRead(records.length);
        this.onRecords(records);
        return true;
      },
    }));
    s.setNoDelay(true);
    const fd = socketFd(s);
    if (this.host.fileSender && fd !== undefined) {
      this.fileSender = this.host.fileSender;
      this.fd = fd;
    }
    if (s === accepted) {
      s.on('data', (chunk: Buffer) => {
        let records: Uint8Array[];
        try {
          records = this.decoder.push(chunk);
        } catch {
          this.host.stats.malformedFrames++;
          s.destroy();
          return;
        }
        this.noteRead(records.length);
        this.onRecords(records);
      });
    }
    s.on('error', () => undefined);
    s.on('close', () => this.onClose());
  }

  /** Progress and the incomplete-record clock, per read (not per call). */
  private noteRead(completed: number): void {
    const t = this.host.now();
    this.lastProgressMs = t;
    if (!this.decoder.midRecord()) this.recordStartMs = -1;
    else if (completed > 0 || this.recordStartMs < 0) this.recordStartMs = t;
    const pending = this.decoder.pendingBytes();
    if (pending !== this.recordBytes) this.host.connections.noteRecordBytes(this, pending);
  }

  private onRecords(records: Uint8Array[]): void {
    for (const rec of records) {
      let recLease: Lease | undefined;
      if (this.assembling && rec.buffer === this.assembling.buf.buffer) {
        recLease = this.assembling;
        this.assembling = undefined;
        this.pooledRecords++;
      }
      if (this.callsRunning < this.host.maxInflight && this.firstWaiting === this.waitingRecords.length) this.startCall(rec, recLease);
      else {
        this.waitingRecords.push(rec);
        this.waitingLeases.push(recLease);
      }
    }
    if (this.callsRunning >= this.host.maxInflight || this.pooledRecords >= MAX_POOLED_RECORDS_PER_CONNECTION) this.socket.pause();
  }

  /** The kernel took the oldest unsent reply: its bytes and hook are released. */
  private readonly onWritten = (): void => {
    if (this.unsent.size === 0) return; // drained by close already
    const bytes = this.unsent.peek()!;
    const done = this.unsent.shift();
    this.host.budget.release(this.account, bytes);
    this.lastProgressMs = this.host.now();
    done?.();
    this.startWaiting();
    this.resumeIfRoom();
  };

  /** Reading stops while too many calls run or the connection holds its share of reply memory. */
  private resumeIfRoom(): void {
    const s = this.socket;
    if (
      this.callsRunning < this.host.maxInflight &&
      this.firstWaiting === this.waitingRecords.length &&
      this.account.held < this.host.budget.perConnectionBytes &&
      this.pooledRecords < MAX_POOLED_RECORDS_PER_CONNECTION &&
      s.isPaused() &&
      !s.destroyed
    ) {
      s.resume();
    }
  }

  /**
   * Starts waiting records: one read can bring hundreds of small calls, and at most maxInflight
   * run at once. A connection over its reply share starts nothing more until the kernel takes its
   * replies (onWritten calls back here): a started call would only wait for the budget, holding its record.
   */
  private startWaiting(): void {
    while (
      this.firstWaiting < this.waitingRecords.length &&
      this.callsRunning < this.host.maxInflight &&
      this.account.held < this.host.budget.perConnectionBytes &&
      !this.socket.destroyed
    ) {
      const rec = this.waitingRecords[this.firstWaiting]!;
      const lease = this.waitingLeases[this.firstWaiting];
      this.waitingRecords[this.firstWaiting] = EMPTY_RECORD;
      this.waitingLeases[this.firstWaiting] = undefined;
      this.firstWaiting++;
      this.startCall(rec, lease);
    }
    if (this.firstWaiting === this.waitingRecords.length) {
      this.waitingRecords.length = 0;
      this.waitingLeases.length = 0;
      this.firstWaiting = 0;
    }
  }

  private startCall(rec: Uint8Array, recLease: Lease | undefined): void {
    this.callsRunning++;
    // The same for every call of the connection (its peer, file sending and account do not change).
    const s = this.socket;
    const origin = (this.origin ??= {
      transport: 'tcp',
      remoteAddress: s.remoteAddress ?? '',
      remotePort: s.remotePort ?? 0,
      sendsFiles: this.fileSender !== undefined,
      account: this.account,
    });
    const reply = this.host.dispatch(rec, origin);
    if (recLease === undefined) void reply.then(this.onPlainReply);
    else void reply.then((r) => this.onReply(r, recLease));
  }

  /** onReply of a call whose record is not pooled: one function for all of them (no closure per call). */
  private readonly onPlainReply = (reply: RpcReply | undefined): void => this.onReply(reply, undefined);

  private onReply(reply: RpcReply | undefined, recLease: Lease | undefined): void {
    this.callsRunning--;
    let done = reply?.afterSent;
    if (recLease) {
      // The record (arguments) is free once the reply is out: handlers keep no views of it.
      const after = done;
      done = () => {
        after?.();
        recLease.release();
        this.pooledRecords--;
      };
    }
    const s = this.socket;
    if (reply && !s.destroyed) {
      try {
        const w = reply.writer;
        const parts = markRecordParts<Uint8Array | FileSlice>(w.hasFileBodies && this.fileSender ? w.framedPartsWithFiles() : w.framedParts());
        const bytes = bufferBytes(parts);
        this.host.budget.take(this.account, bytes);
        this.writeParts(parts, bytes, done);
        done = undefined;
        if (this.account.held >= this.host.budget.perConnectionBytes) s.pause();
      } catch {
        /* connection gone while the call ran */
      }
    }
    done?.(); // not handed to the socket
    this.startWaiting();
    this.resumeIfRoom();
  }

  /** Hands a reply to the socket. `bytes`: what its buffers hold (counted already); `done`: its release hook. */
  private writeParts(parts: Array<Uint8Array | FileSlice>, bytes: number, done: (() => void) | undefined): void {
    if (this.sendingFile) {
      this.held.push(() => this.writeParts(parts, bytes, done));
      return;
    }
    const hasFiles = parts.some(isFileSlice);
    // A sender thread blocks while its client does not read: at most maxFileSends at once, so
    // clients that never read cannot take every pool thread; past that, ranges are read here.
    if (!hasFiles || !this.fileSender || !this.host.fileSends.tryTake()) {
      let wire = parts as Uint8Array[];
      if (hasFiles) {
        wire = parts.map((p) => (isFileSlice(p) ? readFileSlice(p) : p));
        const read = bufferBytes(wire) - bytes;
        this.host.budget.take(this.account, read);
        bytes += read;
      }
      this.unsent.push(bytes, done);
      batchedWriteParts(this.socket, wire, this.onWritten);
      return;
    }
    this.sendingFile = true;
    this.host.stats.fileReplies++;
    this.unsent.push(bytes, done);
    const s = this.socket;
    sendWithFiles(s, this.fd, this.fileSender, parts)
      .catch(() => s.destroy()) // a reply cut in the middle: the stream cannot continue
      .finally(() => {
        this.host.fileSends.release();
        this.sendingFile = false;
        this.onWritten();
        while (!this.sendingFile && this.held.length > 0) this.held.shift()!();
      });
  }

  private onClose(): void {
    this.host.connections.remove(this);
    this.host.budget.close(this.account);
    // A record being assembled in a pooled buffer: the socket writes no more into it.
    this.assembling?.release();
    this.assembling = undefined;
    // Records never started: their pooled buffers go back.
    for (let i = this.firstWaiting; i < this.waitingLeases.length; i++) this.waitingLeases[i]?.release();
    this.waitingRecords.length = 0;
    this.waitingLeases.length = 0;
    this.firstWaiting = 0;
    // The kernel holds none of our buffers once the socket is closed.
    while (this.unsent.size > 0) this.onWritten();
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
