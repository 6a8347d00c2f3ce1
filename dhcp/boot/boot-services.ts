// Boot services for diskless VMs on one interface (a TAP device or a bridge): the DHCP server, the
// TFTP server and router advertisements, composed from their parts. Reads the interface's IPv4
// address and netmask, derives defaults (range, next-server, router), checks the configuration up
// front (BootConfigError naming the fix), and owns everything it starts.
import { existsSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { systemClock, type Clock } from '../../lib/clock.js';
import { LocalRangePool, type AddressPool } from '../address-pool.js';
import type { BootFiles } from '../server/boot-file.js';
import { DhcpListener } from '../server/dhcp-listener.js';
import { DhcpServer } from '../server/dhcp-server.js';
import { Ipv4Error, intToIpv4, ipv4ToInt, isIpv4Address, prefixToMask } from '../../lib/ipv4.js';
import { LeaseFile } from '../server/lease-file.js';
import { RaSender } from '../ra/ra-sender.js';
import { TftpServer, type TransferDoneInfo } from '../tftp/tftp-server.js';
import { CodedError } from '../../lib/coded-error.js';

export class BootConfigError extends CodedError<'INVALID'> {}

export interface BootServicesConfig {
  interfaceName: string;
  bootDir: string;
  /** "A-B"; default: the upper half of the interface's subnet. */
  range?: string;
  leaseSeconds?: number;
  /** Default: no persistence. */
  leaseFile?: string;
  bootFiles?: BootFiles;
  /** Option 17; a function is asked at every reply (an image boot moves it to each new version). */
  rootPath?: string | (() => string | undefined);
  /** Option 3; default none (a boot link needs no gateway). */
  router?: string;
  dnsServers?: string[];
  /** Send router advertisements (default true). */
  routerAdvertisements?: boolean;
  tftpPort?: number;
  dhcpPort?: number;
  /** A pool from elsewhere (e.g. the DHT-backed one); overrides range and leaseFile. */
  pool?: AddressPool;
  clock?: Clock;
  log?: (line: string) => void;
  onTransferDone?: (info: TransferDoneInfo) => void;
}

export interface InterfaceAddress {
  address: string;
  netmask: string;
  mac: string;
}

export const DEFAULT_LEASE_SECONDS = 3600;
/** RFC 2131 sets no minimum; below this, clients spend their time renewing (tests use 10 s to see renewals). */
export const MIN_LEASE_SECONDS = 10;

/**
 * The interface's first IPv4 address. os.networkInterfaces() omits interfaces without carrier
 * (libuv lists only RUNNING ones), and a bridge whose only port is a VM's TAP has none until the VM
 * starts, so we ask iproute2 instead.
 */
export function interfaceAddress(name: string): InterfaceAddress {
  if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(name)) throw new BootConfigError('INVALID', `bad interface name '${name}'`);
  let info: Array<{ address?: string; addr_info?: Array<{ family: string; local: string; prefixlen: number }> }>;
  try {
    info = JSON.parse(execFileSync('ip', ['-j', 'addr', 'show', 'dev', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 }));
  } catch {
    throw new BootConfigError('INVALID', `no interface '${name}' (see \`ip link\`)`);
  }
  const v4 = info[0]?.addr_info?.find((a) => a.family === 'inet');
  if (!v4) throw new BootConfigError('INVALID', `interface '${name}' has no IPv4 address; give it one, e.g. \`ip addr add 10.0.0.1/24 dev ${name}\``);
  return { address: v4.local, netmask: intToIpv4(prefixToMask(v4.prefixlen)), mac: info[0]?.address ?? '' };
}

/** Parses "A-B" inside the subnet of `iface`; default: upper half of the subnet minus broadcast. */
export function parseRange(range: string | undefined, iface: InterfaceAddress): { first: string; last: string } {
  const mask = ipv4ToInt(iface.netmask);
  const net = (ipv4ToInt(iface.address) & mask) >>> 0;
  const broadcast = (net | (~mask >>> 0)) >>> 0;
  if (range === undefined) {
    const size = broadcast - net + 1;
    if (size < 4) throw new BootConfigError('INVALID', `subnet of ${iface.address}/${iface.netmask} is too small for a range`);
    return { first: intToIpv4(net + Math.floor(size / 2)), last: intToIpv4(broadcast - 1) };
  }
  const m = /^([\d.]+)-([\d.]+)$/.exec(range);
  if (!m || !isIpv4Address(m[1]!) || !isIpv4Address(m[2]!)) throw new BootConfigError('INVALID', `--range must look like 10.0.0.100-10.0.0.199, got '${range}'`);
  const first = ipv4ToInt(m[1]!);
  const last = ipv4ToInt(m[2]!);
  if (last < first) throw new BootConfigError('INVALID', `--range ${range} is empty (end before start)`);
  for (const n of [first, last]) {
    if (((n & mask) >>> 0) !== net || n === net || n === broadcast) {
      throw new BootConfigError('INVALID', `--range ${range} is not inside the interface's subnet ${intToIpv4(net)}/${iface.netmask} (network and broadcast excluded)`);
    }
  }
  return { first: m[1]!, last: m[2]! };
}

export class BootServices {
  readonly dhcp: DhcpServer;
  readonly dhcpListener: DhcpListener;
  readonly tftp: TftpServer;
  readonly ra?: RaSender;
  readonly pool: AddressPool;
  readonly iface: InterfaceAddress;
  readonly range?: { first: string; last: string };

  constructor(readonly config: BootServicesConfig) {
    const clock = config.clock ?? systemClock;
    const log = config.log ?? (() => undefined);
    this.iface = interfaceAddress(config.interfaceName);
    const bootDir = resolve(config.bootDir);
    if (!existsSync(bootDir) || !statSync(bootDir).isDirectory()) throw new BootConfigError('INVALID', `boot directory '${config.bootDir}' does not exist or is not a directory`);
    const leaseSeconds = config.leaseSeconds ?? DEFAULT_LEASE_SECONDS;
    if (!Number.isInteger(leaseSeconds) || leaseSeconds < MIN_LEASE_SECONDS || leaseSeconds > 0x7fffffff) throw new BootConfigError('INVALID', `lease time must be an integer >= ${MIN_LEASE_SECONDS} seconds`);
    try {
      for (const ip of [config.router, ...(config.dnsServers ?? [])]) if (ip !== undefined) ipv4ToInt(ip);
    } catch (err) {
      if (err instanceof Ipv4Error) throw new BootConfigError('INVALID', err.message);
      throw err;
    }
    if (config.pool) {
      this.pool = config.pool;
    } else {
      this.range = parseRange(config.range, this.iface);
      this.pool = new LocalRangePool({
        ...this.range,
        exclude: [this.iface.address, ...(config.router ? [config.router] : [])],
        now: () => Date.now(),
        leaseFile: config.leaseFile ? new LeaseFile(config.leaseFile) : undefined,
      });
    }
    this.dhcp = new DhcpServer({
      serverAddress: this.iface.address,
      subnetMask: this.iface.netmask,
      router: config.router,
      dnsServers: config.dnsServers,
      leaseSeconds,
      nextServer: this.iface.address,
      bootFiles: config.bootFiles,
      rootPath: config.rootPath,
    }, this.pool, (line) => log(`dhcp: ${line}`));
    this.dhcpListener = new DhcpListener({ interfaceName: config.interfaceName, server: this.dhcp, port: config.dhcpPort, log });
    this.tftp = new TftpServer({
      root: bootDir,
      address: this.iface.address,
      port: config.tftpPort,
      interfaceName: config.interfaceName,
      clock,
      log,
      onTransferDone: config.onTransferDone,
    });
    if (config.routerAdvertisements ?? true) {
      this.ra = new RaSender({
        interfaceName: config.interfaceName,
        clock,
        log,
        // Not a default router, no prefixes, no DHCPv6: just "IPv6 autoconfiguration is done here".
        advertisement: { curHopLimit: 64, managed: false, other: false, routerLifetimeS: 0, reachableTimeMs: 0, retransTimerMs: 0, prefixes: [] },
      });
    }
  }

  async start(): Promise<void> {
    const started: Array<{ close(): Promise<void> }> = [];
    try {
      await this.tftp.start();
      started.push(this.tftp);
      await this.dhcpListener.start();
      started.push(this.dhcpListener);
      if (this.ra) {
        await this.ra.start();
        started.push(this.ra);
      }
    } catch (err) {
      for (const s of started.reverse()) await s.close().catch(() => undefined);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.ra?.close();
    await this.dhcpListener.close();
    await this.tftp.close();
    await this.pool.close();
  }

  /** All counters, for status output and tests. */
  stats() {
    return {
      dhcp: { ...this.dhcp.counters, listener: { ...this.dhcpListener.counters } },
      tftp: { ...this.tftp.counters },
      ra: this.ra ? { ...this.ra.counters } : undefined,
    };
  }
}
