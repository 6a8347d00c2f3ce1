// Read-only TFTP server (RFC 1350 + RFC 2347/2348/2349, and RFC 7440 windowsize) over a boot directory. The listener socket
// takes requests; each accepted read gets its own UDP socket (a new server TID, RFC 1350 section 4)
// connected to the client, so the kernel keeps other peers' datagrams away from the transfer. That
// socket is the native addon's UdpConnection: a lock-step transfer is one datagram each way per
// block, and Node's dgram costs an allocation of 64 KiB, an rinfo object and a send request each.
// Write requests are refused; malformed datagrams on the listener are counted and dropped; a request
// in an unknown mode (or the obsolete "mail") gets ERROR 4. Transfer slots are bounded in total and
// per client address, taken as the request arrives, and reclaimed from clients that make no
// progress (transfer-slots.ts); only regular files are served, opened without blocking.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { realpath } from 'node:fs/promises';
import { systemClock, type Clock, type Timer } from '../../lib/clock.js';
import { bindToDevice } from '../server/bind-to-device.js';
import { UdpConnection } from '../native/udp-connection.js';
import { BootPathError, resolveBootPath } from './boot-path.js';
import { openFileSource, FileSourceError } from './file-source.js';
import { negotiate } from './tftp-options.js';
import { decodeTftp, encodeTftp, MAX_BLKSIZE_BYTES, TftpDecodeError, TftpErrorCode } from './tftp-packet.js';
import { TftpTransfer, type TransferResult } from './tftp-transfer.js';
import { TransferSlots, type TransferSlot } from './transfer-slots.js';

export const TFTP_PORT = 69;

export interface TftpServerOptions {
  /** Boot directory; everything served lies inside it. */
  root: string;
  /** Local address to listen on (the boot interface's address). */
  address: string;
  port?: number;
  /** Also tie the listener to this interface (SO_BINDTODEVICE). */
  interfaceName?: string;
  clock?: Clock;
  log?: (line: string) => void;
  /** Largest blksize granted; default 65464 (RFC 2348 maximum). */
  maxBlockBytes?: number;
  /** Retransmission timeout unless the client negotiates one; default 1000 ms. */
  defaultTimeoutMs?: number;
  /** Largest RFC 7440 window granted; default 64 blocks; 1 disables windowing. */
  maxWindowBlocks?: number;
  /** Retransmissions of one datagram before giving up; default 5. */
  maxRetries?: number;
  /** Concurrent transfers; past it a stalled one is reclaimed, else "server busy"; default 256. */
  maxTransfers?: number;
  /** Concurrent transfers from one client address; default 16 (a PXE client fetches one file at a time). */
  maxTransfersPerClient?: number;
  /** A transfer whose client made no progress for this long may be reclaimed for a new request; default 2 s. */
  evictAfterIdleMs?: number;
  /** A transfer whose client acknowledged nothing for this long after its start is reclaimed first; default 500 ms. */
  firstAckGraceMs?: number;
  /** A transfer whose client made no progress for this long ends, whatever timeout it negotiated; default 30 s. */
  maxIdleMs?: number;
  /** Called when a transfer ends (success or failure). */
  onTransferDone?: (info: TransferDoneInfo) => void;
}

export interface TransferDoneInfo extends TransferResult {
  filename: string;
  client: string;
  startedAt: number;
  endedAt: number;
}

export interface TftpServerCounters {
  requests: number;
  malformed: number;
  refusedTraversal: number;
  notFound: number;
  refusedWrite: number;
  refusedBusy: number;
  /** Requests for something that is not a regular file (FIFO, device, directory). */
  refusedNotRegular: number;
  /** Requests in an unknown mode (anything but octet and netascii). */
  refusedMode: number;
  /** Transfers ended to give their slot to a new request (their client made no progress). */
  reclaimed: number;
  /** Transfers ended because their client made no progress for maxIdleMs. */
  idleTimeouts: number;
  started: number;
  completed: number;
  failed: number;
  active: number;
  bytesSent: number;
  retransmits: number;
  /** Blocks the native socket's chain sent without JS (lock-step fast path). */
  nativeBlocks: number;
}

const DEFAULT_TIMEOUT_MS = 1000;
const DEFAULT_MAX_RETRIES = 5;
const DEFAULT_MAX_TRANSFERS = 256;
const DEFAULT_MAX_TRANSFERS_PER_CLIENT = 16;
const DEFAULT_EVICT_AFTER_IDLE_MS = 2_000;
/** A LAN round trip is well under a millisecond; half a second leaves room for a slow or loaded client. */
const DEFAULT_FIRST_ACK_GRACE_MS = 500;
const DEFAULT_MAX_IDLE_MS = 30_000;
/** The idle sweep runs every quarter of maxIdleMs, at most this often apart. */
const MAX_SWEEP_INTERVAL_MS = 5_000;
const DEFAULT_MAX_WINDOW_BLOCKS = 64;
/** Receive buffer of a transfer socket: ACKs are 4 bytes, ERRORs carry a short message. */
const RECEIVE_BUFFER_BYTES = 2048;

export class TftpServer {
  readonly counters: TftpServerCounters = {
    requests: 0, malformed: 0, refusedTraversal: 0, notFound: 0, refusedWrite: 0, refusedBusy: 0,
    refusedNotRegular: 0, refusedMode: 0, reclaimed: 0, idleTimeouts: 0, started: 0, completed: 0, failed: 0, active: 0, bytesSent: 0, retransmits: 0, nativeBlocks: 0,
  };
  private listener?: Socket;
  private realRoot = '';
  private readonly slots: TransferSlots;
  private readonly clock: Clock;
  private readonly maxIdleMs: number;
  private sweep?: Timer;
  private closed = false;

  constructor(private readonly opts: TftpServerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.maxIdleMs = opts.maxIdleMs ?? DEFAULT_MAX_IDLE_MS;
    this.slots = new TransferSlots({
      maxTotal: opts.maxTransfers ?? DEFAULT_MAX_TRANSFERS,
      maxPerClient: opts.maxTransfersPerClient ?? DEFAULT_MAX_TRANSFERS_PER_CLIENT,
      evictAfterIdleMs: opts.evictAfterIdleMs ?? DEFAULT_EVICT_AFTER_IDLE_MS,
      firstAckGraceMs: opts.firstAckGraceMs ?? DEFAULT_FIRST_ACK_GRACE_MS,
    });
  }

  /** The bound listener port (useful with port 0). */
  get port(): number {
    return this.listener?.address().port ?? 0;
  }

  async start(): Promise<void> {
    this.realRoot = await realpath(this.opts.root);
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.opts.port ?? TFTP_PORT, this.opts.address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    if (this.opts.interfaceName) {
      try {
        bindToDevice(socket, this.opts.interfaceName);
      } catch (err) {
        socket.close();
        throw err;
      }
    }
    socket.on('error', (err) => this.log(`tftp listener error: ${err.message}`));
    socket.on('message', (msg, rinfo) => {
      this.onRequest(msg, rinfo).catch((err: Error) => {
        // Last line of defence: a request must never take the server down.
        this.counters.malformed++;
        this.log(`tftp: dropped a request from ${rinfo.address}:${rinfo.port}: ${err.message}`);
      });
    });
    this.listener = socket;
    this.sweep = this.clock.setInterval(() => this.endIdleTransfers(), Math.min(MAX_SWEEP_INTERVAL_MS, this.maxIdleMs / 4));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.sweep?.cancel();
    for (const slot of this.slots.all()) slot.occupant?.evict('server shutting down');
    const s = this.listener;
    this.listener = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }

  /** Ends transfers whose client made no progress for maxIdleMs (a negotiated timeout of 255 s would hold a slot 25 min). */
  private endIdleTransfers(): void {
    for (const slot of this.slots.idleFor(this.maxIdleMs, this.clock.now())) {
      this.counters.idleTimeouts++;
      slot.occupant!.evict(`no progress from the client for ${this.maxIdleMs / 1000} s`);
    }
  }

  private async onRequest(msg: Buffer, rinfo: RemoteInfo): Promise<void> {
    let packet;
    try {
      packet = decodeTftp(msg);
    } catch (err) {
      if (!(err instanceof TftpDecodeError)) throw err;
      if (err.code === 'UNKNOWN_MODE') {
        // tftpd-hpa answers the same: EBADOP "Unknown mode".
        this.counters.refusedMode++;
        return this.sendError(rinfo, TftpErrorCode.ILLEGAL_OPERATION, 'unknown transfer mode (octet or netascii)');
      }
      this.counters.malformed++;
      return;
    }
    const client = `${rinfo.address}:${rinfo.port}`;
    if (packet.op === 'WRQ') {
      this.counters.refusedWrite++;
      return this.sendError(rinfo, TftpErrorCode.ACCESS_VIOLATION, 'read-only server');
    }
    if (packet.op !== 'RRQ') {
      // DATA/ACK/ERROR/OACK on the request port belong to no transfer: RFC 1350 unknown TID.
      this.counters.malformed++;
      return;
    }
    this.counters.requests++;
    // The slot is taken now, before any await: requests arriving while files open count against the bound.
    const reclaimedBefore = this.slots.evicted;
    const slot = this.slots.take(rinfo.address, this.clock.now());
    this.counters.reclaimed += this.slots.evicted - reclaimedBefore;
    if (!slot) {
      this.counters.refusedBusy++;
      return this.sendError(rinfo, TftpErrorCode.NOT_DEFINED, 'server busy');
    }
    this.counters.active = this.slots.size;
    let started = false;
    try {
      started = await this.serve(packet.filename, packet.mode, packet.options, rinfo, slot);
    } finally {
      if (!started) this.releaseSlot(slot);
    }
  }

  private releaseSlot(slot: TransferSlot): void {
    this.slots.release(slot);
    this.counters.active = this.slots.size;
  }

  /** Opens the file and starts its transfer in `slot`; false when refused (the caller releases the slot). */
  private async serve(filename: string, mode: string, options: Map<string, string>, rinfo: RemoteInfo, slot: TransferSlot): Promise<boolean> {
    const client = `${rinfo.address}:${rinfo.port}`;
    let path: string;
    try {
      path = await resolveBootPath(this.realRoot, filename);
    } catch (err) {
      if (!(err instanceof BootPathError)) throw err;
      if (err.code === 'traversal') {
        this.counters.refusedTraversal++;
        this.log(`tftp: refused '${filename}' from ${client}: ${err.message}`);
        this.sendError(rinfo, TftpErrorCode.ACCESS_VIOLATION, 'access violation');
        return false;
      }
      this.counters.notFound++;
      this.log(`tftp: '${filename}' from ${client}: not found`);
      this.sendError(rinfo, TftpErrorCode.FILE_NOT_FOUND, 'file not found');
      return false;
    }
    let source;
    try {
      source = await openFileSource(path, mode);
    } catch (err) {
      if (err instanceof FileSourceError && err.message === 'not a regular file') {
        this.counters.refusedNotRegular++;
        this.log(`tftp: refused '${filename}' from ${client}: not a regular file`);
        this.sendError(rinfo, TftpErrorCode.ACCESS_VIOLATION, 'not a regular file');
        return false;
      }
      this.counters.notFound++;
      const why = err instanceof FileSourceError ? err.message : 'cannot open file';
      this.sendError(rinfo, TftpErrorCode.FILE_NOT_FOUND, why);
      return false;
    }
    const negotiated = negotiate(options, source.size, {
      maxBlockBytes: this.opts.maxBlockBytes ?? MAX_BLKSIZE_BYTES,
      defaultTimeoutMs: this.opts.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxWindowBlocks: this.opts.maxWindowBlocks ?? DEFAULT_MAX_WINDOW_BLOCKS,
    });
    return this.startTransfer(filename, rinfo, source, negotiated, slot);
  }

  private startTransfer(
    filename: string,
    rinfo: RemoteInfo,
    source: Awaited<ReturnType<typeof openFileSource>>,
    negotiated: ReturnType<typeof negotiate>,
    slot: TransferSlot,
  ): boolean {
    const client = `${rinfo.address}:${rinfo.port}`;
    let socket: UdpConnection;
    try {
      socket = UdpConnection.open(this.opts.address, rinfo.address, rinfo.port);
    } catch (err) {
      this.counters.failed++;
      this.log(`tftp: cannot open a transfer socket for ${client}: ${(err as Error).message}`);
      void source.close().catch(() => undefined);
      return false;
    }
    if (this.closed) {
      socket.close();
      void source.close().catch(() => undefined);
      return false;
    }
    this.counters.started++;
    const startedAt = this.clock.now();
    const cleanup = () => {
      this.releaseSlot(slot);
      socket.close();
      void source.close().catch(() => undefined);
    };
    const opts = negotiated.oack ? ` options ${[...negotiated.oack].map(([k, v]) => `${k}=${v}`).join(' ')}` : '';
    this.log(`tftp: RRQ '${filename}' from ${client} (${source.size} bytes)${opts}`);
    const transfer = new TftpTransfer({
      socket,
      clock: this.clock,
      source,
      blockBytes: negotiated.blockBytes,
      windowBlocks: negotiated.windowBlocks,
      timeoutMs: negotiated.timeoutMs,
      maxRetries: this.opts.maxRetries ?? DEFAULT_MAX_RETRIES,
      oack: negotiated.oack,
      onDone: (result) => {
        cleanup();
        this.counters.bytesSent += result.bytes;
        this.counters.retransmits += result.retransmits;
        this.counters.nativeBlocks += result.nativeBlocks;
        const endedAt = this.clock.now();
        if (result.ok) this.counters.completed++;
        else this.counters.failed++;
        this.log(result.ok
          ? `tftp: sent '${filename}' to ${client}: ${result.bytes} bytes, ${result.blocks} blocks, ${Math.round(endedAt - startedAt)} ms, ` +
            `${result.retransmits} retransmits, last block ${Math.round(endedAt - (result.lastBlockSentAt ?? endedAt))} ms before the final ACK`
          : `tftp: transfer of '${filename}' to ${client} failed: ${result.error}`);
        this.opts.onTransferDone?.({ ...result, filename, client, startedAt, endedAt });
      },
    });
    slot.occupant = {
      lastProgressAt: () => transfer.lastClientProgressAt(),
      everProgressed: () => transfer.clientEverProgressed(),
      evict: (reason) => transfer.abort(reason),
    };
    // A client sends ACKs (4 bytes) and perhaps an ERROR; anything longer than this is not TFTP from a reader.
    socket.onDatagram(Buffer.allocUnsafe(RECEIVE_BUFFER_BYTES), (msg, truncated) => {
      if (truncated) transfer.abort('oversized datagram from client');
      else transfer.onDatagram(msg);
    });
    transfer.start();
    return true;
  }

  private sendError(rinfo: RemoteInfo, code: number, message: string): void {
    this.listener?.send(encodeTftp({ op: 'ERROR', code, message }), rinfo.port, rinfo.address);
  }
}
