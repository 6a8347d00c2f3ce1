// The IP forwarder: TUN <-> overlay.
//   out: device batch -> per packet: check IPv4, find the owner of the destination vIP (cache, else
//        one DHT resolve with a small bounded queue); packets of one batch for one destination are
//        bundled (up to maxBundleBytes) -> frame (12-byte header) -> the owner's direct
//        link data channel if there is one, else routed over the overlay (APP_TAG_IP_PACKET, exact).
//        Routed traffic is counted per destination; crossing the threshold within one tick asks the
//        overlay for a shortcut (direct link). Unknown destinations get ICMP host unreachable.
//   in:  frame from a link or from routing -> checks (ours, well-formed, source vIP owned by the
//        sender when known) -> written to the device, batched per microtask.
// Every drop is counted under a named counter; nothing on the data path throws.
import type { Overlay } from '../../overlay/api.js';
import type { RingAddress } from '../../overlay/ring/ring.js';
import type { Clock, Timer } from '../../lib/clock.js';
import type { PacketDevice } from '../tun/packet-device.js';
import type { VipResolver } from '../../dhcp/vip/vip-resolver.js';
import { decodeFrame, encodeFrame, frameEncodingLength, FrameError, FrameKind, BUNDLE_ENTRY_HEADER_BYTES } from './frame.js';
import { icmpUnreachable, ipv4Destination, ipv4Source, isIpv4Packet } from './ipv4.js';

/** Overlay application tag for framed IP packets (tags below 16 are reserved for the overlay itself). */
export const APP_TAG_IP_PACKET = 16;

export const DEFAULT_MAX_BUNDLE_BYTES = 16 * 1024;

/** RFC 792 destination-unreachable codes used here. */
const ICMP_CODE_NET_UNREACHABLE = 0;
const ICMP_CODE_HOST_UNREACHABLE = 1;

export interface ForwarderOptions {
  /** This node's virtual IPv4 (unsigned 32-bit). */
  localVip: number;
  /** The virtual network: base address (unsigned 32-bit) and prefix length. */
  subnetBase: number;
  prefixLength: number;
  /** Routed packets to one destination within one tick that trigger a shortcut request. Default 32. */
  shortcutThresholdPackets?: number;
  /** Counter window in ms. Default 1000. */
  tickMs?: number;
  /** Packets held per destination while its owner is being resolved (more are dropped). Default 32. */
  maxPendingPerDestination?: number;
  /** Destinations being resolved at once (more are dropped). Default 256. */
  maxPendingDestinations?: number;
  /**
   * Largest bundle of packets for one destination sent as one message, in bytes. Default 16 KiB:
   * bundling saves the channel's per-message cost; the cap bounds loss amplification (one lost SCTP
   * chunk loses the whole message). 0 disables bundling.
   */
  maxBundleBytes?: number;
}

export type ForwarderOverlay = Pick<Overlay, 'send' | 'onMessage' | 'directLink' | 'requestShortcut'>;

export interface ForwarderComponents {
  device: PacketDevice;
  overlay: ForwarderOverlay;
  resolver: VipResolver;
  clock: Clock;
}

export const FORWARDER_COUNTERS = [
  'txPackets', // packets from the device handed to a link or to routing
  'txFrames', // messages sent (a bundle is one)
  'txBundles',
  'txDirect',
  'txRouted',
  'txBytes',
  'rxPackets', // packets written to the device
  'rxBundles',
  'rxDirect',
  'rxRouted',
  'rxBytes',
  'shortcutRequests',
  'dropMalformedPacket',
  'dropIpv6', // the virtual network is IPv4-only
  'dropOffSubnet',
  'dropBroadcast',
  'dropUnknownDestination',
  'dropNoRoute',
  'dropLinkFull',
  'dropPendingFull',
  'dropMalformedFrame',
  'dropNotForUs',
  'dropHeaderMismatch',
  'dropSpoofed',
  'dropDeviceFull',
  'icmpUnreachableSent',
] as const;
export type ForwarderCounter = (typeof FORWARDER_COUNTERS)[number];

export class Forwarder {
  readonly counters: Record<ForwarderCounter, number> = Object.fromEntries(FORWARDER_COUNTERS.map((c) => [c, 0])) as Record<ForwarderCounter, number>;
  private readonly subnetMask: number;
  private readonly broadcast: number;
  private readonly threshold: number;
  private readonly maxPendingPerDest: number;
  private readonly maxPendingDests: number;
  private readonly maxBundleBytes: number;
  private readonly pending = new Map<number, Uint8Array[]>();
  private readonly routedThisTick = new Map<RingAddress, number>();
  private readonly tick: Timer;
  private outQueue: Uint8Array[] = [];
  private flushScheduled = false;
  private stopped = false;

  constructor(
    private readonly c: ForwarderComponents,
    private readonly o: ForwarderOptions,
  ) {
    this.subnetMask = o.prefixLength === 0 ? 0 : (0xffffffff << (32 - o.prefixLength)) >>> 0;
    this.broadcast = ((o.subnetBase & this.subnetMask) | (~this.subnetMask >>> 0)) >>> 0;
    this.threshold = o.shortcutThresholdPackets ?? 32;
    this.maxPendingPerDest = o.maxPendingPerDestination ?? 32;
    this.maxPendingDests = o.maxPendingDestinations ?? 256;
    this.maxBundleBytes = o.maxBundleBytes ?? DEFAULT_MAX_BUNDLE_BYTES;
    c.device.onPackets((batch) => this.fromDevice(batch));
    c.overlay.onMessage(APP_TAG_IP_PACKET, (msg) => this.receiveFrame(msg.payload, msg.from, 'routed'));
    this.tick = c.clock.setInterval(() => this.routedThisTick.clear(), o.tickMs ?? 1000);
  }

  /** A frame arrived (from a direct link's data channel, or routed). Malformed or foreign frames are counted and dropped. */
  receiveFrame(bytes: Uint8Array, from: RingAddress, via: 'direct' | 'routed'): void {
    if (this.stopped) return;
    let frame;
    try {
      frame = decodeFrame(bytes);
    } catch (err) {
      if (err instanceof FrameError) return void this.counters.dropMalformedFrame++;
      throw err;
    }
    if (frame.destVip !== this.o.localVip) return void (this.counters.dropNotForUs += frame.packets.length);
    const owner = this.c.resolver.lookup(frame.sourceVip);
    if (owner === undefined) void this.c.resolver.resolve(frame.sourceVip).catch(() => undefined); // warm the cache for replies
    else if (owner !== from) {
      // Either a spoof, or the address changed hands since we cached it: drop, and re-check the DHT.
      this.c.resolver.refresh(frame.sourceVip);
      return void (this.counters.dropSpoofed += frame.packets.length);
    }
    if (frame.packets.length > 1) this.counters.rxBundles++;
    for (const packet of frame.packets) {
      if (!isIpv4Packet(packet)) {
        this.counters.dropMalformedPacket++;
        continue;
      }
      if (ipv4Destination(packet) !== frame.destVip || ipv4Source(packet) !== frame.sourceVip) {
        this.counters.dropHeaderMismatch++;
        continue;
      }
      this.counters.rxPackets++;
      this.counters.rxBytes += packet.length;
      if (via === 'direct') this.counters.rxDirect++;
      else this.counters.rxRouted++;
      this.toDevice(packet);
    }
  }

  /** Stops forwarding; queued packets are dropped. Does not close the device. Idempotent. */
  stop(): void {
    this.stopped = true;
    this.tick.cancel();
    this.pending.clear();
    this.outQueue = [];
  }

  private fromDevice(batch: Buffer[]): void {
    if (this.stopped) return;
    // Packets of one read batch with the same (known) owner travel together, in bundles.
    const groups = new Map<number, { owner: RingAddress; packets: Uint8Array[] }>();
    for (const packet of batch) {
      const route = this.classify(packet);
      if (!route) continue;
      let g = groups.get(route.dest);
      if (!g) groups.set(route.dest, (g = { owner: route.owner, packets: [] }));
      g.packets.push(packet);
    }
    for (const [dest, g] of groups) this.sendBundled(g.owner, dest, g.packets);
  }

  /** Owner of the packet's destination if cached; otherwise handles the packet (drop, ICMP, or wait for a resolve). */
  private classify(packet: Uint8Array): { owner: RingAddress; dest: number } | undefined {
    if (!isIpv4Packet(packet)) {
      if (packet.length > 0 && packet[0]! >> 4 === 6) this.counters.dropIpv6++;
      else this.counters.dropMalformedPacket++;
      return undefined;
    }
    const dest = ipv4Destination(packet);
    if (dest === this.broadcast || dest >>> 28 === 0xe) return void this.counters.dropBroadcast++; // no broadcast/multicast on the overlay
    if ((dest & this.subnetMask) !== (this.o.subnetBase & this.subnetMask)) {
      this.counters.dropOffSubnet++;
      return void this.unreachable(packet, ICMP_CODE_NET_UNREACHABLE);
    }
    const owner = this.c.resolver.lookup(dest);
    if (owner !== undefined) return { owner, dest };
    let queue = this.pending.get(dest);
    if (queue) {
      if (queue.length >= this.maxPendingPerDest) return void this.counters.dropPendingFull++;
      queue.push(new Uint8Array(packet));
      return undefined;
    }
    if (this.pending.size >= this.maxPendingDests) return void this.counters.dropPendingFull++;
    queue = [new Uint8Array(packet)];
    this.pending.set(dest, queue);
    this.c.resolver.resolve(dest).then(
      (resolved) => this.resolved(dest, resolved),
      () => this.resolved(dest, undefined),
    );
    return undefined;
  }

  private resolved(dest: number, owner: RingAddress | undefined): void {
    const queue = this.pending.get(dest);
    this.pending.delete(dest);
    if (this.stopped || !queue) return;
    if (owner !== undefined) return this.sendBundled(owner, dest, queue);
    for (const packet of queue) {
      this.counters.dropUnknownDestination++;
      this.unreachable(packet, ICMP_CODE_HOST_UNREACHABLE);
    }
  }

  /** Cuts `packets` into frames of at most maxBundleBytes (a bigger packet travels alone). */
  private sendBundled(owner: RingAddress, dest: number, packets: Uint8Array[]): void {
    let start = 0;
    let bytes = 0;
    for (let i = 0; i < packets.length; i++) {
      const size = packets[i]!.length + BUNDLE_ENTRY_HEADER_BYTES;
      if (i > start && bytes + size > this.maxBundleBytes) {
        this.sendFrame(owner, dest, packets.slice(start, i));
        start = i;
        bytes = 0;
      }
      bytes += size;
    }
    if (start < packets.length) this.sendFrame(owner, dest, start === 0 ? packets : packets.slice(start));
  }

  private sendFrame(owner: RingAddress, dest: number, packets: Uint8Array[]): void {
    const kind = packets.length === 1 ? FrameKind.Ipv4 : FrameKind.Ipv4Bundle;
    const f = { kind, sourceVip: this.o.localVip, destVip: dest, packets };
    const frame = encodeFrame(f, new Uint8Array(frameEncodingLength(f)));
    const n = packets.length;
    const link = this.c.overlay.directLink(owner);
    if (link && !link.closed) {
      // A full data channel drops the packets (TCP backs off); rerouting would reorder the flow.
      if (!link.sendData(frame)) return void (this.counters.dropLinkFull += n);
      this.counters.txDirect += n;
    } else if (this.c.overlay.send(owner, APP_TAG_IP_PACKET, frame, { exact: true })) {
      this.counters.txRouted += n;
      const before = this.routedThisTick.get(owner) ?? 0;
      this.routedThisTick.set(owner, before + n);
      if (before < this.threshold && before + n >= this.threshold) {
        this.counters.shortcutRequests++;
        this.c.overlay.requestShortcut(owner);
      }
    } else {
      this.c.resolver.refresh(dest); // the owner may have left and the address moved on
      return void (this.counters.dropNoRoute += n);
    }
    this.counters.txPackets += n;
    this.counters.txFrames++;
    if (n > 1) this.counters.txBundles++;
    for (const p of packets) this.counters.txBytes += p.length;
  }

  private unreachable(packet: Uint8Array, code: number): void {
    const reply = icmpUnreachable(packet, this.o.localVip, code);
    if (!reply) return;
    this.counters.icmpUnreachableSent++;
    this.toDevice(reply);
  }

  /** Device writes are batched per microtask: one native call for all packets of one event. */
  private toDevice(packet: Uint8Array): void {
    this.outQueue.push(packet);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      const batch = this.outQueue;
      this.outQueue = [];
      if (this.stopped || batch.length === 0) return;
      const written = this.c.device.write(batch);
      this.counters.dropDeviceFull += batch.length - written;
    });
  }
}
