// In-memory overlay double for forwarder tests: `send` delivers to the registered handler of the
// destination node (if reachable); direct links deliver data packets to a sink the test wires up.
import type { RoutedMessage } from '../../overlay/api.js';
import type { Link, LinkInfo } from '../../overlay/link/link.js';
import type { RingAddress } from '../../overlay/ring/ring.js';
import type { ForwarderOverlay } from '../../src/forwarder/index.js';

export class FakeNet {
  readonly nodes = new Map<RingAddress, FakeOverlay>();
  node(address: RingAddress): FakeOverlay {
    const n = new FakeOverlay(this, address);
    this.nodes.set(address, n);
    return n;
  }
}

export class FakeLink implements Link {
  readonly id: string;
  readonly remoteKey = new Uint8Array(32);
  closed = false;
  sent = 0;
  constructor(
    readonly local: FakeOverlay,
    readonly remote: RingAddress,
  ) {
    this.id = `fake-${local.address}-${remote}`;
  }
  setHandlers(): void {}
  sendControl(): boolean {
    return !this.closed;
  }
  sendData(packet: Uint8Array): boolean {
    if (this.closed) return false;
    this.sent++;
    const peer = this.local.net.nodes.get(this.remote);
    peer?.dataSink?.(new Uint8Array(packet), this.local.address);
    return true;
  }
  close(): void {
    this.closed = true;
  }
  info(): LinkInfo {
    return { transport: 'fake', path: 'direct', detail: 'memory' };
  }
}

export class FakeOverlay implements ForwarderOverlay {
  private readonly handlers = new Map<number, (m: RoutedMessage) => void>();
  readonly links = new Map<RingAddress, FakeLink>();
  readonly shortcutRequests: RingAddress[] = [];
  routedSent = 0;
  unreachable = new Set<RingAddress>();
  /** Where packets from direct links go (the node wires its forwarder's receiveFrame here). */
  dataSink?: (packet: Uint8Array, from: RingAddress) => void;

  constructor(
    readonly net: FakeNet,
    readonly address: RingAddress,
  ) {}

  send(dest: RingAddress, app: number, payload: Uint8Array): boolean {
    const peer = this.net.nodes.get(dest);
    if (!peer || this.unreachable.has(dest)) return false;
    this.routedSent++;
    peer.handlers.get(app)?.({ from: this.address, payload: new Uint8Array(payload), hops: 2 });
    return true;
  }
  onMessage(app: number, handler: (m: RoutedMessage) => void): void {
    this.handlers.set(app, handler);
  }
  directLink(dest: RingAddress): Link | undefined {
    return this.links.get(dest);
  }
  requestShortcut(dest: RingAddress): void {
    this.shortcutRequests.push(dest);
  }
  connectDirect(other: FakeOverlay): void {
    this.links.set(other.address, new FakeLink(this, other.address));
    other.links.set(this.address, new FakeLink(other, this.address));
  }
}
