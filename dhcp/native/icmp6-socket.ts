// A raw ICMPv6 socket tied to one interface (see icmp6-socket.c): hop limits 255 as Neighbor
// Discovery requires, a kernel filter passing only the wanted message types, multicast groups
// joined. Messages longer than the receive buffer are dropped and counted, never delivered cut short.
// Addon errors surface as NativeNetError.
import { loadBootNetAddon, type Icmp6Handle } from './boot-net-addon.js';
import { asNativeNetError, NativeNetError } from './native-net-error.js';

export const ICMP6_ROUTER_SOLICITATION = 133;
export const ICMP6_ROUTER_ADVERTISEMENT = 134;

export interface Icmp6SocketOptions {
  interfaceName: string;
  /** ICMPv6 types delivered to onMessage; everything else is filtered in the kernel. */
  acceptTypes: number[];
  /** Multicast groups to join on the interface (e.g. ff02::2, where Router Solicitations go). */
  groups?: string[];
  /**
   * Receive buffer size (default and at most MAX_ICMP6_MESSAGE_BYTES, so nothing is cut short). A longer
   * message is dropped and counted in `truncatedMessages`, never delivered truncated.
   */
  maxMessageBytes?: number;
}

/** RFC 8200 3: the IPv6 payload length is 16 bits, so no ICMPv6 message outside a jumbogram is longer. */
export const MAX_ICMP6_MESSAGE_BYTES = 65_535;

export class Icmp6Socket {
  private handle?: Icmp6Handle;
  private truncatedAtClose = 0;

  private constructor(handle: Icmp6Handle) {
    this.handle = handle;
  }

  static open(o: Icmp6SocketOptions): Icmp6Socket {
    const addon = loadBootNetAddon();
    try {
      return new Icmp6Socket(addon.icmp6Open(o.interfaceName, o.acceptTypes, o.groups ?? [], o.maxMessageBytes ?? MAX_ICMP6_MESSAGE_BYTES));
    } catch (err) {
      throw asNativeNetError(err);
    }
  }

  /** Messages dropped as longer than maxMessageBytes. */
  get truncatedMessages(): number {
    return this.handle ? loadBootNetAddon().icmp6Truncated(this.handle) : this.truncatedAtClose;
  }

  get isOpen(): boolean {
    return this.handle !== undefined;
  }

  /** Sends one ICMPv6 message to an address on the interface's link. */
  send(message: Uint8Array, destination: string): void {
    if (!this.handle) throw new NativeNetError('NET_EBADF', 'icmp6 socket is closed');
    try {
      loadBootNetAddon().icmp6Send(this.handle, message, destination);
    } catch (err) {
      throw asNativeNetError(err);
    }
  }

  onMessage(cb: (message: Buffer, source: string) => void): void {
    if (!this.handle) throw new NativeNetError('NET_EBADF', 'icmp6 socket is closed');
    try {
      loadBootNetAddon().icmp6StartReceiving(this.handle, cb);
    } catch (err) {
      throw asNativeNetError(err);
    }
  }

  close(): void {
    const h = this.handle;
    if (!h) return;
    this.truncatedAtClose = this.truncatedMessages;
    this.handle = undefined;
    loadBootNetAddon().icmp6Close(h);
  }
}
