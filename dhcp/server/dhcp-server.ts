// DHCP server protocol logic (RFC 2131 section 4.3), without sockets: `handle` takes a decoded
// request and returns the reply and where to send it (or nothing). Addresses come from an
// injected AddressPool; the socket edge lives in dhcp-listener.ts.
import type { AddressPool } from '../address-pool.js';
import { bootFileFor, classifyClient, type BootFiles } from './boot-file.js';
import {
  DhcpMessageType, DhcpOption, IPXE_NO_PXEDHCP, MESSAGE_TYPE_NAMES,
  ipsValue, readIp, stringValue, u32Value,
} from './dhcp-options.js';
import { BOOTREPLY, BOOTREQUEST, FLAG_BROADCAST, formatHardwareAddress, type DhcpPacket } from './dhcp-packet.js';
import { ipv4ToInt, isIpv4Address } from '../../lib/ipv4.js';

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
const ZERO = '0.0.0.0';
const LIMITED_BROADCAST = '255.255.255.255';
/** RFC 2131 4.4.5 defaults: T1 = 0.5 and T2 = 0.875 of the lease. */
const T1_FRACTION = 0.5;
const T2_FRACTION = 0.875;

export interface DhcpServerConfig {
  /** Our address on the served interface: server identifier and default next-server. */
  serverAddress: string;
  subnetMask: string;
  router?: string;
  dnsServers?: readonly string[];
  domainName?: string;
  leaseSeconds: number;
  /** siaddr: the TFTP server (default: serverAddress). */
  nextServer?: string;
  bootFiles?: BootFiles;
  /** Option 17, e.g. an NFS root "SERVER:/path"; a function is asked at every reply (it may change). */
  rootPath?: string | (() => string | undefined);
}

export interface DhcpReply {
  packet: DhcpPacket;
  address: string;
  port: number;
}

export interface DhcpServerCounters {
  received: Record<string, number>;
  sent: Record<string, number>;
  /** Requests dropped as not for us or not DHCP (BOOTREPLY, BOOTP without type, other server chosen). */
  ignored: number;
  /** DISCOVERs unanswered because the pool had no free address. */
  exhausted: number;
  /** DECLINEs that took an address out of service (from the client it was offered or leased to). */
  declinesHonoured: number;
  /** DECLINEs of an address not offered or leased to the sender (spoofed, or stale): no effect. */
  declinesIgnored: number;
}

export type DhcpLog = (line: string) => void;

export class DhcpServer {
  readonly counters: DhcpServerCounters = { received: {}, sent: {}, ignored: 0, exhausted: 0, declinesHonoured: 0, declinesIgnored: 0 };

  constructor(
    private readonly config: DhcpServerConfig,
    private readonly pool: AddressPool,
    private readonly log: DhcpLog = () => undefined,
  ) {
    for (const ip of [config.serverAddress, config.subnetMask, config.router, config.nextServer, ...(config.dnsServers ?? [])]) {
      if (ip !== undefined) ipv4ToInt(ip); // throws Ipv4Error on a bad configuration
    }
  }

  /** Client identity: option 61 when present (RFC 2131 4.2), else the hardware address. */
  static clientIdOf(packet: DhcpPacket): string {
    const cid = packet.options.get(DhcpOption.CLIENT_ID);
    if (cid && cid.length > 0) return `id:${Buffer.from(cid).toString('hex')}`;
    return `hw:${formatHardwareAddress(packet.chaddr)}`;
  }

  async handle(request: DhcpPacket): Promise<DhcpReply | undefined> {
    const typeValue = request.options.get(DhcpOption.MESSAGE_TYPE);
    const type = typeValue?.length === 1 ? typeValue[0]! : undefined;
    if (request.op !== BOOTREQUEST || type === undefined) return this.ignore();
    const typeName = MESSAGE_TYPE_NAMES[type] ?? `type${type}`;
    this.counters.received[typeName] = (this.counters.received[typeName] ?? 0) + 1;
    const clientId = DhcpServer.clientIdOf(request);
    switch (type) {
      case DhcpMessageType.DISCOVER:
        return this.onDiscover(request, clientId);
      case DhcpMessageType.REQUEST:
        return this.onRequest(request, clientId);
      case DhcpMessageType.DECLINE: {
        const address = readIp(request.options.get(DhcpOption.REQUESTED_ADDRESS));
        if (!this.isForUs(request) || !address) return this.ignore();
        if (await this.pool.decline(clientId, address)) {
          this.counters.declinesHonoured++;
          this.log(`DECLINE ${address} from ${clientId}: out of service for a while`);
        } else {
          this.counters.declinesIgnored++;
          this.log(`DECLINE ${address} from ${clientId} ignored: not offered or leased to it`);
        }
        return undefined;
      }
      case DhcpMessageType.RELEASE:
        if (!this.isForUs(request) || request.ciaddr === ZERO) return this.ignore();
        await this.pool.release(clientId, request.ciaddr);
        this.log(`RELEASE ${request.ciaddr} from ${clientId}`);
        return undefined;
      case DhcpMessageType.INFORM:
        // RFC 2131 4.3.5: configuration only; no lease, no yiaddr; unicast to ciaddr.
        return this.reply(request, DhcpMessageType.ACK, { yiaddr: ZERO, withLease: false });
      default:
        return this.ignore();
    }
  }

  private async onDiscover(request: DhcpPacket, clientId: string): Promise<DhcpReply | undefined> {
    const requested = readIp(request.options.get(DhcpOption.REQUESTED_ADDRESS));
    const address = await this.pool.offer(clientId, requested);
    if (!address) {
      this.counters.exhausted++;
      this.log(`DISCOVER from ${clientId}: no free address`);
      return undefined;
    }
    this.log(`DISCOVER from ${clientId} -> OFFER ${address}`);
    return this.reply(request, DhcpMessageType.OFFER, { yiaddr: address, withLease: true });
  }

  private async onRequest(request: DhcpPacket, clientId: string): Promise<DhcpReply | undefined> {
    const serverId = readIp(request.options.get(DhcpOption.SERVER_ID));
    const requested = readIp(request.options.get(DhcpOption.REQUESTED_ADDRESS));
    let address: string | undefined;
    if (serverId !== undefined) {
      // SELECTING (4.3.2): the client chose a server; if not us, our offer is void.
      if (serverId !== this.config.serverAddress) return this.ignore();
      address = requested ?? (request.ciaddr !== ZERO ? request.ciaddr : undefined);
      if (!address) return this.nak(request, 'no requested address');
    } else if (requested !== undefined) {
      // INIT-REBOOT: verify the remembered address; authoritative on this link.
      if (!this.pool.contains(requested)) return this.nak(request, `${requested} is not on this network`);
      address = requested;
    } else if (request.ciaddr !== ZERO) {
      // RENEWING (unicast) or REBINDING (broadcast): extend the lease on ciaddr.
      if (!this.pool.contains(request.ciaddr)) return this.ignore();
      address = request.ciaddr;
    } else {
      return this.ignore();
    }
    const lease = await this.pool.claim(clientId, address, this.config.leaseSeconds);
    if (!lease) return this.nak(request, `${address} is not available to ${clientId}`);
    this.log(`REQUEST from ${clientId} -> ACK ${address}`);
    return this.reply(request, DhcpMessageType.ACK, { yiaddr: address, withLease: true });
  }

  private isForUs(request: DhcpPacket): boolean {
    return readIp(request.options.get(DhcpOption.SERVER_ID)) === this.config.serverAddress;
  }

  private ignore(): undefined {
    this.counters.ignored++;
    return undefined;
  }

  private nak(request: DhcpPacket, why: string): DhcpReply {
    this.log(`NAK to ${DhcpServer.clientIdOf(request)}: ${why}`);
    const options = new Map<number, Uint8Array>([
      [DhcpOption.MESSAGE_TYPE, Uint8Array.of(DhcpMessageType.NAK)],
      [DhcpOption.SERVER_ID, ipsValue([this.config.serverAddress])],
      [DhcpOption.MESSAGE, stringValue(why)],
    ]);
    this.count('NAK');
    const packet = this.baseReply(request, ZERO, options);
    // RFC 2131 4.1: a NAK without relay is broadcast.
    if (request.giaddr !== ZERO) return { packet: { ...packet, flags: packet.flags | FLAG_BROADCAST }, address: request.giaddr, port: DHCP_SERVER_PORT };
    return { packet, address: LIMITED_BROADCAST, port: DHCP_CLIENT_PORT };
  }

  private reply(request: DhcpPacket, type: DhcpMessageType, opts: { yiaddr: string; withLease: boolean }): DhcpReply {
    const c = this.config;
    const options = new Map<number, Uint8Array>();
    options.set(DhcpOption.MESSAGE_TYPE, Uint8Array.of(type));
    options.set(DhcpOption.SERVER_ID, ipsValue([c.serverAddress]));
    if (opts.withLease) {
      options.set(DhcpOption.LEASE_TIME, u32Value(c.leaseSeconds));
      options.set(DhcpOption.RENEWAL_TIME, u32Value(Math.floor(c.leaseSeconds * T1_FRACTION)));
      options.set(DhcpOption.REBINDING_TIME, u32Value(Math.floor(c.leaseSeconds * T2_FRACTION)));
    }
    options.set(DhcpOption.SUBNET_MASK, ipsValue([c.subnetMask]));
    if (c.router) options.set(DhcpOption.ROUTER, ipsValue([c.router]));
    if (c.dnsServers?.length) options.set(DhcpOption.DNS_SERVERS, ipsValue(c.dnsServers));
    if (c.domainName) options.set(DhcpOption.DOMAIN_NAME, stringValue(c.domainName));
    const rootPath = typeof c.rootPath === 'function' ? c.rootPath() : c.rootPath;
    if (rootPath) options.set(DhcpOption.ROOT_PATH, stringValue(rootPath));
    const firmware = classifyClient(request.options);
    const bootFile = c.bootFiles ? bootFileFor(c.bootFiles, firmware) : undefined;
    if (bootFile) options.set(DhcpOption.BOOTFILE_NAME, stringValue(bootFile));
    // Tell iPXE not to wait for ProxyDHCP offers: this server gives the boot file itself.
    if (firmware === 'ipxe') options.set(DhcpOption.IPXE_ENCAPSULATED, Uint8Array.of(IPXE_NO_PXEDHCP, 1, 1));
    const packet = this.baseReply(request, opts.yiaddr, options);
    packet.siaddr = c.nextServer ?? c.serverAddress;
    if (bootFile && Buffer.byteLength(bootFile, 'latin1') < 128) packet.file = bootFile;
    if (type === DhcpMessageType.ACK && request.ciaddr !== ZERO) packet.ciaddr = request.ciaddr;
    this.count(MESSAGE_TYPE_NAMES[type]!);
    return { packet, ...this.destination(request) };
  }

  /** RFC 2131 4.1 reply addressing. Unicast to an unconfigured client would need an ARP entry we cannot inject from user space, so we broadcast instead (which the RFC allows). */
  private destination(request: DhcpPacket): { address: string; port: number } {
    if (request.giaddr !== ZERO) return { address: request.giaddr, port: DHCP_SERVER_PORT };
    if (request.ciaddr !== ZERO && isIpv4Address(request.ciaddr)) return { address: request.ciaddr, port: DHCP_CLIENT_PORT };
    return { address: LIMITED_BROADCAST, port: DHCP_CLIENT_PORT };
  }

  private baseReply(request: DhcpPacket, yiaddr: string, options: Map<number, Uint8Array>): DhcpPacket {
    return {
      op: BOOTREPLY,
      htype: request.htype,
      hlen: request.hlen,
      hops: 0,
      xid: request.xid,
      secs: 0,
      flags: request.flags,
      ciaddr: ZERO,
      yiaddr,
      siaddr: ZERO,
      giaddr: request.giaddr,
      chaddr: request.chaddr,
      sname: '',
      file: '',
      options,
    };
  }

  private count(name: string): void {
    this.counters.sent[name] = (this.counters.sent[name] ?? 0) + 1;
  }
}
