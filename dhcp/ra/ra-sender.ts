// Sends router advertisements on the boot link, so iPXE's IPv6 autoconfiguration finishes at once
// instead of timing out (~12 s) before DHCPv4. Node has no raw sockets, so a raw ICMPv6 socket of
// the native boot-network addon (dhcp/native/icmp6-socket.c) carries them: tied to the interface,
// hop limit 255 (RFC 4861 6.1.2 receivers require it), member of ff02::2 with a kernel filter
// passing only Router Solicitations, each answered with an immediate RA to ff02::1. The RA bytes
// and the timing (unsolicited interval, RFC 4861 6.2.4) stay here, on the injected clock.
import type { Clock, Timer } from '../../lib/clock.js';
import { Icmp6Socket, ICMP6_ROUTER_SOLICITATION } from '../native/icmp6-socket.js';
import { encodeRouterAdvertisement, type RouterAdvertisement } from './router-advertisement.js';
import { CodedError } from '../../lib/coded-error.js';

export class RaSenderError extends CodedError<string> {}

const ALL_NODES = 'ff02::1';
const ALL_ROUTERS = 'ff02::2';
/** RFC 4861 4.1: a Router Solicitation has at least its 8-byte header; code 0. */
const RS_MIN_BYTES = 8;

export interface RaSenderOptions {
  interfaceName: string;
  clock: Clock;
  advertisement: RouterAdvertisement;
  /** Unsolicited RA period; default 10 s (RFC 4861 allows 4..1800 s; short because iPXE may boot any moment). */
  intervalMs?: number;
  log?: (line: string) => void;
}

export interface RaCounters {
  sent: number;
  solicitations: number;
  errors: number;
}

const DEFAULT_INTERVAL_MS = 10_000;

export class RaSender {
  readonly counters: RaCounters = { sent: 0, solicitations: 0, errors: 0 };
  private socket?: Icmp6Socket;
  private timer?: Timer;
  private readonly message: Uint8Array;

  constructor(private readonly opts: RaSenderOptions) {
    this.message = encodeRouterAdvertisement(opts.advertisement);
  }

  async start(): Promise<void> {
    try {
      this.socket = Icmp6Socket.open({ interfaceName: this.opts.interfaceName, acceptTypes: [ICMP6_ROUTER_SOLICITATION], groups: [ALL_ROUTERS] });
    } catch (err) {
      const e = err as { code?: string; message: string };
      throw new RaSenderError(e.code ?? 'NET_EIO', `router advertisements on ${this.opts.interfaceName}: ${e.message}`);
    }
    this.socket.onMessage((msg, source) => this.onSolicitation(msg, source));
    this.advertise();
    this.timer = this.opts.clock.setInterval(() => this.advertise(), this.opts.intervalMs ?? DEFAULT_INTERVAL_MS);
  }

  async close(): Promise<void> {
    this.timer?.cancel();
    this.timer = undefined;
    this.socket?.close();
    this.socket = undefined;
  }

  private advertise(): void {
    if (!this.socket) return;
    try {
      this.socket.send(this.message, ALL_NODES);
      this.counters.sent++;
    } catch (err) {
      // E.g. the link went down; the next period tries again.
      this.counters.errors++;
      this.opts.log?.(`ra: ${(err as Error).message}`);
    }
  }

  private onSolicitation(msg: Buffer, source: string): void {
    if (msg.length < RS_MIN_BYTES || msg[0] !== ICMP6_ROUTER_SOLICITATION || msg[1] !== 0) return;
    this.counters.solicitations++;
    this.opts.log?.(`ra: router solicitation from ${source}`);
    this.advertise();
  }
}
