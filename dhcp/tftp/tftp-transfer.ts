// One read transfer. Lock-step by default (RFC 1350: send a block, wait for its ACK); with the
// RFC 7440 windowsize option, up to `windowBlocks` blocks are sent before waiting, and an ACK of
// block k means "all up to k arrived, send from k+1". The file is read ahead in chunks of whole
// blocks; each block is copied behind its 4-byte header into a per-window-slot buffer, which
// stays untouched until the block is acknowledged (so a queued send never sees it change, and a
// retransmission re-sends it as is).
// Block numbers are absolute internally and go on the wire modulo 2^16, so files over 65535
// blocks roll over to block 0 (the convention of tftp-hpa and atftp).
// In lock-step over a sink with a native chain, the sink answers ACK n-1 with DATA n by itself for
// the rest of the read-ahead chunk (no JS on the round trip); the transfer catches up with what it
// sent (takeServed) whenever it runs: on any other datagram, on the final ACK of the chunk, on its
// timer. Retransmissions re-copy the block from the chunk, which stays put while the chain runs.
// One deadline timer drives retransmission: after `timeoutMs` without progress the unacknowledged
// datagrams are sent again, up to maxRetries times. Duplicate ACKs are ignored (never answered
// with a resend), avoiding the Sorcerer's Apprentice syndrome (RFC 1123 4.2.3.1).
import type { Clock, Timer } from '../../lib/clock.js';
import type { FileSource } from './file-source.js';
import { ackBlockOf, DATA_HEADER_BYTES, decodeTftp, encodeTftp, TftpErrorCode, writeDataHeader } from './tftp-packet.js';

/** Read-ahead size; rounded down to whole blocks. */
const CHUNK_TARGET_BYTES = 1024 * 1024;
const BLOCK_MODULO = 65536;

export interface TransferResult {
  ok: boolean;
  bytes: number;
  blocks: number;
  retransmits: number;
  /** Blocks the sink's native chain sent (lock-step fast path). */
  nativeBlocks: number;
  /** Clock time when the last DATA block was first sent. */
  lastBlockSentAt?: number;
  error?: string;
}

/** Where a transfer's datagrams go: a socket connected to the client (errors are left to the retransmission timer). */
export interface DatagramSink {
  send(bytes: Uint8Array): unknown;
  /**
   * Optional lock-step chain (UdpConnection): the sink itself answers ACK n-1 with DATA n for
   * n = nextBlock..stopBlock out of `chunk`, and takeServed() reports how many it sent.
   */
  serveChain?(chunk: Buffer, chunkFirstBlock: number, blockBytes: number, chunkLength: number, nextBlock: number, stopBlock: number): void;
  stopChain?(): void;
  takeServed?(): number;
}

export interface TransferOptions {
  socket: DatagramSink;
  clock: Clock;
  source: FileSource;
  blockBytes: number;
  /** RFC 7440 window; 1 = lock-step. */
  windowBlocks: number;
  timeoutMs: number;
  maxRetries: number;
  oack?: Map<string, string>;
  onDone: (result: TransferResult) => void;
}

export class TftpTransfer {
  /** Highest block the client acknowledged (0 = OACK or nothing yet). */
  private acked = 0;
  /** Highest block sent so far. */
  private sent = 0;
  private readonly lastBlock: number;
  private readonly slots: Buffer[];
  /** What is sent from each slot: the whole buffer, or a shorter view for the final block. */
  private readonly slotViews: Buffer[];
  private readonly chunk: Buffer;
  private chunkStart = -1;
  private chunkLength = 0;
  private oackDatagram?: Buffer;
  private lastProgressAt = 0;
  /** Last ACK that moved the transfer on (or the start): the client's progress, apart from our retransmissions. */
  private clientProgressAt = 0;
  private clientProgressed = false;
  private retries = 0;
  private retransmits = 0;
  private nativeBlocks = 0;
  private bytesSent = 0;
  private lastBlockSentAt?: number;
  private timer?: Timer;
  private finished = false;
  private loading = false;
  private readonly chaining: boolean;
  private readonly windowBlocks: number;

  constructor(private readonly o: TransferOptions) {
    this.lastBlock = Math.floor(o.source.size / o.blockBytes) + 1;
    const chunkBlocks = Math.max(1, Math.floor(CHUNK_TARGET_BYTES / o.blockBytes));
    this.chunk = Buffer.allocUnsafe(chunkBlocks * o.blockBytes);
    const window = Math.max(1, o.windowBlocks);
    this.windowBlocks = window;
    this.chaining = window === 1 && typeof o.socket.serveChain === 'function' && typeof o.socket.takeServed === 'function';
    this.slots = Array.from({ length: window }, () => Buffer.allocUnsafe(DATA_HEADER_BYTES + o.blockBytes));
    this.slotViews = [...this.slots];
  }

  start(): void {
    this.lastProgressAt = this.o.clock.now();
    this.clientProgressAt = this.lastProgressAt;
    this.armTimer(this.o.timeoutMs);
    if (this.o.oack) {
      this.oackDatagram = Buffer.from(encodeTftp({ op: 'OACK', options: this.o.oack }));
      this.o.socket.send(this.oackDatagram);
    } else {
      this.fillWindow();
    }
  }

  /** A datagram from the client (the socket is connected to it, so the TID already matches). */
  onDatagram(msg: Buffer): void {
    if (this.finished) return;
    this.catchUpWithChain();
    const block = ackBlockOf(msg);
    if (block < 0) {
      let packet;
      try {
        packet = decodeTftp(msg);
      } catch {
        return this.fail('malformed packet from client', TftpErrorCode.ILLEGAL_OPERATION);
      }
      if (packet.op === 'ERROR') return this.finish({ error: `client error ${packet.code}: ${packet.message}` });
      return this.fail(`unexpected ${packet.op}`, TftpErrorCode.ILLEGAL_OPERATION);
    }
    if (this.oackDatagram) {
      // RFC 2347: the client acknowledges the OACK with ACK 0; data starts only then.
      if (block !== 0) return;
      this.oackDatagram = undefined;
      this.retries = 0;
      this.lastProgressAt = this.o.clock.now();
      this.clientMadeProgress();
      this.fillWindow();
      return;
    }
    // Map the 16-bit number onto the unacknowledged range (acked, sent]; anything else is stale.
    const ahead = (block - (this.acked % BLOCK_MODULO) + BLOCK_MODULO) % BLOCK_MODULO;
    if (ahead === 0 || this.acked + ahead > this.sent) return;
    this.acked += ahead;
    this.retries = 0;
    this.lastProgressAt = this.o.clock.now();
    this.clientMadeProgress();
    if (this.acked === this.lastBlock) return this.finish({});
    if (!this.loading) this.fillWindow();
  }

  /** When the client last acknowledged something new (the transfer's start if never): for reclaiming stalled slots. */
  lastClientProgressAt(): number {
    if (!this.finished) this.catchUpWithChain();
    return this.clientProgressAt;
  }

  /** Whether the client ever acknowledged the OACK or a block. */
  clientEverProgressed(): boolean {
    if (!this.finished) this.catchUpWithChain();
    return this.clientProgressed;
  }

  private clientMadeProgress(): void {
    this.clientProgressAt = this.lastProgressAt;
    this.clientProgressed = true;
  }

  /** Stops the transfer (server shutdown, slot reclaimed); reports failure. */
  abort(reason: string): void {
    this.fail(reason, TftpErrorCode.NOT_DEFINED);
  }

  /**
   * Sends blocks until the window is full or the file is done. Synchronous while the read-ahead
   * chunk holds the blocks (the per-ACK hot path allocates nothing); reads the next chunk otherwise.
   */
  private fillWindow(): void {
    const limit = Math.min(this.acked + this.windowBlocks, this.lastBlock);
    while (this.sent < limit && !this.finished) {
      const n = this.sent + 1;
      const offset = (n - 1) * this.o.blockBytes;
      if (!this.inChunk(offset)) {
        void this.loadChunk(offset);
        return;
      }
      this.emitBlock(n);
    }
    if (this.chaining) this.startChain();
  }

  /** Lock-step, block `sent` out and unacknowledged: let the sink serve the rest of the chunk. */
  private startChain(): void {
    const n = this.sent + 1;
    if (this.finished || this.sent !== this.acked + 1 || n > this.lastBlock || !this.inChunk((n - 1) * this.o.blockBytes)) return;
    const chunkFirstBlock = this.chunkStart / this.o.blockBytes + 1;
    const stop = Math.min(this.lastBlock, chunkFirstBlock + this.chunk.length / this.o.blockBytes - 1);
    this.o.socket.serveChain!(this.chunk, chunkFirstBlock, this.o.blockBytes, this.chunkLength, n, stop);
  }

  /** Accounts for the blocks the sink's chain sent: each also means the block before it was acknowledged. */
  private catchUpWithChain(): void {
    if (!this.chaining) return;
    const served = this.o.socket.takeServed!();
    if (served === 0) return;
    for (let i = 0; i < served; i++) {
      this.acked = this.sent;
      this.markSent(this.sent + 1);
    }
    this.nativeBlocks += served;
    this.retries = 0;
    this.lastProgressAt = this.o.clock.now();
    this.clientMadeProgress();
  }

  private async loadChunk(offset: number): Promise<void> {
    this.loading = true;
    try {
      this.chunkStart = offset;
      this.chunkLength = await this.o.source.read(this.chunk, this.chunk.length, offset);
    } catch (err) {
      this.loading = false;
      return this.fail(`read failed: ${(err as Error).message}`, TftpErrorCode.NOT_DEFINED);
    }
    this.loading = false;
    // ACKs that arrived during the read moved `acked`: fillWindow recomputes the window.
    if (!this.finished) this.fillWindow();
  }

  private inChunk(offset: number): boolean {
    return this.chunkStart >= 0 && offset >= this.chunkStart && offset < this.chunkStart + this.chunk.length;
  }

  /** Copies block n from the read-ahead chunk into its slot and sends it. */
  private emitBlock(n: number): void {
    this.sendSlot(this.prepareBlock(n));
    this.markSent(n);
  }

  /** Copies block n from the read-ahead chunk behind its header in its slot; returns the slot. */
  private prepareBlock(n: number): number {
    const start = (n - 1) * this.o.blockBytes - this.chunkStart;
    const length = Math.max(0, Math.min(start + this.o.blockBytes, this.chunkLength) - start);
    const slot = n % this.slots.length;
    const packet = this.slots[slot]!;
    writeDataHeader(packet, n);
    if (length > 0) this.chunk.copy(packet, DATA_HEADER_BYTES, start, start + length);
    this.slotViews[slot] = length < this.o.blockBytes ? packet.subarray(0, DATA_HEADER_BYTES + length) : packet;
    return slot;
  }

  /** Block n went out (sent here, or by the sink's chain). */
  private markSent(n: number): void {
    this.sent = n;
    this.bytesSent += Math.max(0, Math.min(this.o.blockBytes, this.o.source.size - (n - 1) * this.o.blockBytes));
    if (n === this.lastBlock) this.lastBlockSentAt = this.o.clock.now();
  }

  private sendSlot(slot: number): void {
    // No callback: Node then tries a synchronous send; errors surface as socket 'error' events and
    // a lost datagram is recovered by the retransmission timer.
    this.o.socket.send(this.slotViews[slot]!);
  }

  private armTimer(ms: number): void {
    this.timer = this.o.clock.setTimeout(() => this.onTimer(), ms);
  }

  private onTimer(): void {
    this.timer = undefined;
    if (this.finished) return;
    this.catchUpWithChain();
    const waited = this.o.clock.now() - this.lastProgressAt;
    if (waited < this.o.timeoutMs || this.loading) return this.armTimer(Math.max(1, this.o.timeoutMs - waited));
    if (this.retries >= this.o.maxRetries) return this.fail(`timed out after ${this.retries} retransmissions`, undefined);
    this.retries++;
    this.retransmits++;
    if (this.oackDatagram) this.o.socket.send(this.oackDatagram);
    // Chained blocks are in no slot; in lock-step the unacknowledged block is still in the chunk.
    for (let n = this.acked + 1; n <= this.sent; n++) this.sendSlot(this.chaining ? this.prepareBlock(n) : n % this.slots.length);
    this.lastProgressAt = this.o.clock.now();
    this.armTimer(this.o.timeoutMs);
  }

  private fail(error: string, code: number | undefined): void {
    if (this.finished) return;
    if (code !== undefined) {
      try {
        this.o.socket.send(encodeTftp({ op: 'ERROR', code, message: error }));
      } catch {
        // socket already closed
      }
    }
    this.finish({ error });
  }

  private finish(r: { error?: string }): void {
    if (this.finished) return;
    this.finished = true;
    if (this.chaining) this.o.socket.stopChain?.();
    this.timer?.cancel();
    this.timer = undefined;
    this.o.onDone({
      ok: r.error === undefined,
      bytes: this.bytesSent,
      blocks: this.acked,
      retransmits: this.retransmits,
      nativeBlocks: this.nativeBlocks,
      lastBlockSentAt: this.lastBlockSentAt,
      error: r.error,
    });
  }
}
