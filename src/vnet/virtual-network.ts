// The virtual network on one node: lease a vIP from the DHT, bring up the TUN with it, forward IP
// packets between the TUN and the overlay. Entry point for `overlay up` (src/node.ts):
//
//   const vnet = await startVirtualNetwork(overlay, { network, subnet: '10.128.0.0/16', ownerKey });
//   // deliver packets from direct links' data channels: link.data -> vnet.receiveLinkData(p, link.remote)
//   ...; await vnet.stop();   // overlay down: TUN removed, lease released
//
// If the lease is lost (another node took the address while we were cut off), a new one is claimed
// and the device is recreated with it.
import type { Overlay } from '../../overlay/api.js';
import type { Link } from '../../overlay/link/link.js';
import type { RingAddress } from '../../overlay/ring/ring.js';
import { systemClock, type Clock, type Timer } from '../../lib/clock.js';
import { cryptoRandom } from '../../lib/random.js';
import type { Random } from '../../lib/clock.js';
import { Subnet } from '../../dhcp/vip/subnet.js';
import { VipLease } from '../../dhcp/vip/vip-lease.js';
import { VipDirectory } from '../../dhcp/vip/vip-directory.js';
import { Forwarder, type ForwarderOptions } from '../forwarder/forwarder.js';
import { intToIpv4, ipv4ToInt } from '../../lib/ipv4.js';
import { TunDevice, type TunOptions } from '../tun/tun-device.js';
import type { PacketDevice } from '../tun/packet-device.js';
import type { VipResolver } from '../../dhcp/vip/vip-resolver.js';

/**
 * Default TUN MTU in bytes. A whole IP packet (plus the 12-byte frame header) travels as one
 * datachannel message, which SCTP cuts into ~1,200-byte chunks itself, so path MTU is not the limit:
 * the per-packet cost in JS is. Measured with bench/vnet.ts (TUN <-> datachannel <-> TUN, iperf3 TCP,
 * docs/networking.md): 1,400 -> 9,000 roughly doubles throughput, 16,000 adds nothing. The price of a
 * large MTU is loss amplification (one lost chunk of ~8 loses the packet), acceptable on the paths
 * measured; lower it with --mtu on lossy paths.
 */
export const DEFAULT_VNET_MTU = 9000;
export const DEFAULT_IFNAME = 'ovl0';
/** Delay between attempts to claim a new address after the lease was lost. */
export const RECLAIM_RETRY_MS = 5_000;

export type VnetOverlay = Pick<Overlay, 'dht' | 'send' | 'onMessage' | 'directLink' | 'requestShortcut'>;

export interface VirtualNetworkOptions {
  /** Network name (DHT namespace "dhcp/<network>/..."). */
  network: string;
  /** Subnet in CIDR, e.g. "10.128.0.0/16". */
  subnet: string;
  /** This node's raw Ed25519 public key (owner of its lease record). */
  ownerKey: Uint8Array;
  ifname?: string;
  mtu?: number;
  /** Address to claim first, e.g. the last one held. */
  preferredVip?: string;
  leaseTtlMs?: number;
  /** Probation of a claimed address (VipLease confirmMs; default 1 s); the address is in use meanwhile. */
  leaseConfirmMs?: number;
  clock?: Clock;
  random?: Random;
  /** Opens the packet device; default the real TUN (tests pass a MemoryDevice factory). */
  openDevice?: (o: TunOptions) => PacketDevice;
  /** Diagnostic lines (lease claim and device timings). */
  log?: (line: string) => void;
  forwarder?: Pick<ForwarderOptions, 'shortcutThresholdPackets' | 'tickMs' | 'maxPendingPerDestination' | 'maxPendingDestinations' | 'maxBundleBytes'>;
}

export interface VirtualNetworkStatus {
  state: 'up' | 'reclaiming' | 'stopped';
  vip: string | undefined;
  subnet: string;
  ifname: string;
  mtu: number;
  lease: { expiresInMs: number; renewals: number; conflicts: number; attempts: number } | undefined;
  counters: Record<string, number>;
  resolver: { queries: number; hits: number; misses: number; errors: number };
  /** Nodes this one sent virtual-network packets to, with the path the last one took and why. */
  peers: VnetPeer[];
}

export interface VnetPeer {
  /** Ring address (hex). */
  address: string;
  /** Its virtual IP, once this node has resolved it (packets to or from it). */
  vip?: string;
  /**
   * The path the last packet took: 'direct' on a link straight to that node, 'relayed' on a link
   * that runs through a TURN server or an overlay neighbour (the link's own path, see why),
   * 'routed' hop by hop over the overlay when there is no link to it.
   */
  path: 'direct' | 'relayed' | 'routed';
  why: string;
  sends: number;
}

/** Owner -> vIP pairs remembered for status (most recent kept). */
export const MAX_KNOWN_PEER_VIPS = 1024;

/** Peers remembered for status (most recent kept). */
export const MAX_STATUS_PEERS = 64;

export interface VirtualNetwork {
  /** The current virtual IP (dotted quad). */
  readonly vip: string;
  /** A packet from a direct link's data channel (the node wires Link.data here). */
  receiveLinkData(packet: Uint8Array, from: RingAddress): void;
  /** The ring address of the node holding virtual IP `vip` (dotted quad), from the DHT; undefined if nobody does. */
  ownerOf(vip: string): Promise<RingAddress | undefined>;
  status(): VirtualNetworkStatus;
  /** Closes the TUN, stops forwarding, releases the lease. Idempotent. */
  stop(): Promise<void>;
}

export async function startVirtualNetwork(overlay: VnetOverlay, options: VirtualNetworkOptions): Promise<VirtualNetwork> {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? cryptoRandom;
  const subnet = Subnet.parse(options.subnet);
  const ifname = options.ifname ?? DEFAULT_IFNAME;
  const mtu = options.mtu ?? DEFAULT_VNET_MTU;
  const openDevice = options.openDevice ?? ((o: TunOptions) => TunDevice.open(o));
  const directory = new VipDirectory({ dht: overlay.dht, clock }, { network: options.network });
  const carried: Record<string, number> = {};
  // Per-packet bookkeeping for status stays cheap: the link is remembered and its path described
  // (link.info() asks the ICE agent, a native call) only when status is read.
  const peers = new Map<RingAddress, { path: 'link' | 'routed'; link?: Link; why?: string; sends: number }>();
  const notePeer = (owner: RingAddress, path: 'link' | 'routed', link: Link | undefined, why?: string) => {
    const prev = peers.get(owner);
    if (prev && prev.path === path && prev.link === link && prev.why === why) {
      prev.sends++;
      return;
    }
    peers.delete(owner);
    if (peers.size >= MAX_STATUS_PEERS) peers.delete(peers.keys().next().value!);
    peers.set(owner, { path, link, why, sends: (prev?.sends ?? 0) + 1 });
  };
  // Which vIP each owner holds, as the forwarder's look-ups answered (status shows peers by vIP).
  const vipOfOwner = new Map<RingAddress, number>();
  const noteOwner = (vipInt: number, owner: RingAddress | undefined) => {
    if (owner === undefined || vipOfOwner.get(owner) === vipInt) return owner;
    vipOfOwner.delete(owner);
    if (vipOfOwner.size >= MAX_KNOWN_PEER_VIPS) vipOfOwner.delete(vipOfOwner.keys().next().value!);
    vipOfOwner.set(owner, vipInt);
    return owner;
  };
  const resolver: VipResolver = {
    lookup: (v) => noteOwner(v, directory.lookup(v)),
    resolve: (v) => directory.resolve(v).then((owner) => noteOwner(v, owner)),
    refresh: (v) => directory.refresh(v),
  };
  const describePeers = (): VnetPeer[] =>
    [...peers].map(([owner, p]) => {
      let why = p.why ?? '';
      let path: VnetPeer['path'] = 'routed';
      if (p.link) {
        const info = p.link.info();
        path = info.path;
        why = `${info.transport} link, ${info.path}: ${info.detail}`;
      }
      const peerVip = vipOfOwner.get(owner);
      return { address: owner.toString(16).padStart(40, '0'), ...(peerVip !== undefined ? { vip: intToIpv4(peerVip) } : {}), path, why, sends: p.sends };
    });
  // The forwarder asks for a direct link first and falls back to routing: watch both to report paths.
  const watched: VnetOverlay = {
    dht: overlay.dht,
    onMessage: (tag, h) => overlay.onMessage(tag, h),
    requestShortcut: (dest) => overlay.requestShortcut(dest),
    directLink(dest) {
      const link = overlay.directLink(dest);
      if (link && !link.closed) notePeer(dest, 'link', link);
      return link;
    },
    send(dest, tag, payload, o) {
      const ok = overlay.send(dest, tag, payload, o);
      notePeer(dest, 'routed', undefined, ok ? 'no link to the node yet: routed hop by hop over the overlay' : 'no route');
      return ok;
    },
  };

  let state: VirtualNetworkStatus['state'] = 'up';
  let lease: VipLease;
  let device: PacketDevice | undefined;
  let forwarder: Forwarder | undefined;
  let vip = 0;
  let retryTimer: Timer | undefined;

  const newLease = (preferred?: number) => {
    const l = new VipLease({ dht: overlay.dht, clock, random, ownerKey: options.ownerKey, log: options.log }, { network: options.network, subnet, preferred, ttlMs: options.leaseTtlMs, confirmMs: options.leaseConfirmMs, useDuringProbation: true });
    l.onLost(() => void reclaim());
    return l;
  };

  const bringUp = (address: number) => {
    vip = address;
    const opening = clock.now();
    device = openDevice({ name: ifname, mtu, address: intToIpv4(address), prefixLength: subnet.prefixLength });
    options.log?.(`${ifname} open with ${intToIpv4(address)} in ${clock.now() - opening} ms`);
    forwarder = new Forwarder({ device, overlay: watched, resolver, clock }, { localVip: address, subnetBase: subnet.base, prefixLength: subnet.prefixLength, ...options.forwarder });
  };

  const tearDown = () => {
    if (forwarder) for (const [k, v] of Object.entries(forwarder.counters)) carried[k] = (carried[k] ?? 0) + v;
    forwarder?.stop();
    device?.close();
    forwarder = undefined;
    device = undefined;
  };

  const reclaim = async () => {
    if (state === 'stopped') return;
    state = 'reclaiming';
    tearDown();
    lease = newLease();
    try {
      const address = await lease.claim();
      if (state !== 'reclaiming') return void (await lease.release().catch(() => undefined));
      bringUp(address);
      state = 'up';
      carried.leaseReclaims = (carried.leaseReclaims ?? 0) + 1;
    } catch {
      // e.g. still cut off from the DHT: try again later, until stop().
      carried.leaseReclaimFailures = (carried.leaseReclaimFailures ?? 0) + 1;
      if (state === 'reclaiming') retryTimer = clock.setTimeout(() => void reclaim(), RECLAIM_RETRY_MS);
    }
  };

  lease = newLease(options.preferredVip !== undefined ? ipv4ToInt(options.preferredVip) : undefined);
  const claiming = clock.now();
  const address = await lease.claim();
  options.log?.(`lease ${intToIpv4(address)} claimed in ${clock.now() - claiming} ms (${lease.stats.attempts} attempts)`);
  try {
    bringUp(address);
  } catch (err) {
    await lease.release().catch(() => undefined);
    throw err;
  }

  return {
    get vip() {
      return intToIpv4(vip);
    },
    receiveLinkData(packet, from) {
      forwarder?.receiveFrame(packet, from, 'direct');
    },
    ownerOf(peerVip) {
      return resolver.resolve(ipv4ToInt(peerVip));
    },
    status() {
      const counters: Record<string, number> = { ...carried };
      if (forwarder) for (const [k, v] of Object.entries(forwarder.counters)) counters[k] = (counters[k] ?? 0) + v;
      return {
        state,
        vip: state === 'up' ? intToIpv4(vip) : undefined,
        subnet: subnet.toString(),
        ifname,
        mtu,
        lease: lease.vip !== undefined ? { expiresInMs: Math.max(0, lease.expiresAt - clock.now()), renewals: lease.stats.renewals, conflicts: lease.stats.conflicts, attempts: lease.stats.attempts } : undefined,
        counters,
        resolver: { ...directory.stats },
        peers: describePeers(),
      };
    },
    async stop() {
      if (state === 'stopped') return;
      state = 'stopped';
      retryTimer?.cancel();
      const closing = clock.now();
      tearDown();
      options.log?.(`${ifname} closed in ${clock.now() - closing} ms`);
      await lease.release();
    },
  };
}
