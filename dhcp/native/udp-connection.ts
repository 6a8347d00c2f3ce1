// A connected IPv4 UDP socket without per-datagram allocations (see udp-socket.c): datagrams are
// received into one Buffer the owner reuses, sends are one synchronous send(2), and a lock-step
// TFTP chain can be served natively. For hot
// request/response paths such as a lock-step TFTP transfer, where Node's dgram allocates a 64 KiB
// buffer, an rinfo object and a send request per datagram.
import { loadBootNetAddon } from './boot-net-addon.js';
import { asNativeNetError, NativeNetError } from './native-net-error.js';

/** Opaque handle of a native UDP socket. */
export interface UdpHandle {
  readonly localPort: number;
}

export class UdpConnection {
  private handle?: UdpHandle;

  private constructor(handle: UdpHandle) {
    this.handle = handle;
  }

  /** Binds to localAddress on an ephemeral port and connects to the peer. */
  static open(localAddress: string, remoteAddress: string, remotePort: number): UdpConnection {
    const addon = loadBootNetAddon();
    try {
      return new UdpConnection(addon.udpOpen(localAddress, remoteAddress, remotePort));
    } catch (err) {
      throw asNativeNetError(err);
    }
  }

  get localPort(): number {
    return this.handle?.localPort ?? 0;
  }

  /** Sends one datagram; returns 0 or the errno of a failed send (e.g. EAGAIN, ECONNREFUSED). */
  send(bytes: Uint8Array): number {
    if (!this.handle) return EBADF;
    return loadBootNetAddon().udpSend(this.handle, bytes);
  }

  /**
   * Delivers each datagram as a view of `buffer`, valid only during the call (the next datagram
   * overwrites it). A datagram longer than the buffer arrives truncated, with `truncated` set.
   * Datagrams a chain (serveChain) answers never reach cb.
   */
  onDatagram(buffer: Buffer, cb: (datagram: Buffer, truncated: boolean) => void): void {
    if (!this.handle) throw new NativeNetError('NET_EBADF', 'udp socket is closed');
    try {
      loadBootNetAddon().udpStartReceiving(this.handle, buffer, (length) => {
        cb(buffer.subarray(0, Math.min(length, buffer.length)), length > buffer.length);
      });
    } catch (err) {
      throw asNativeNetError(err);
    }
  }

  /**
   * Lock-step TFTP served natively (see udp-socket.c): while nextBlock <= stopBlock, an ACK of
   * nextBlock-1 is answered with DATA nextBlock from `chunk` (the file from block chunkFirstBlock
   * on, chunkLength bytes valid) without calling back. `chunk` must not change until the chain
   * stops (stopChain, a new serveChain, or close).
   */
  serveChain(chunk: Buffer, chunkFirstBlock: number, blockBytes: number, chunkLength: number, nextBlock: number, stopBlock: number): void {
    if (!this.handle) return;
    try {
      loadBootNetAddon().udpServeChain(this.handle, chunk, chunkFirstBlock, blockBytes, chunkLength, nextBlock, stopBlock);
    } catch (err) {
      throw asNativeNetError(err);
    }
  }

  stopChain(): void {
    if (this.handle) loadBootNetAddon().udpServeChain(this.handle);
  }

  /** Blocks the chain sent since the last call. */
  takeServed(): number {
    return this.handle ? loadBootNetAddon().udpTakeServed(this.handle) : 0;
  }

  close(): void {
    const h = this.handle;
    this.handle = undefined;
    if (h) loadBootNetAddon().udpClose(h);
  }
}

const EBADF = 9;
