// The built-in STUN server: every member with a reachable address (a bootstrap endpoint, `--listen`)
// answers Binding requests on UDP, so members behind NATs learn their server-reflexive addresses
// without anyone running coturn. Pipeline per datagram: size bound -> per-source-IP token bucket ->
// answerStun (pure) -> reply to the source. Every drop is counted; nothing is logged per packet.
//
// Bounds: datagrams over `maxDatagramBytes` are dropped unread; each source IP gets `ratePerSecond`
// answers with `burst` in reserve (an amplification or CPU attack costs the attacker as much as us);
// the table of sources holds at most `maxSources` (idle ones are evicted first; when every one is
// busy a new source is dropped, not admitted at the cost of others' limits).
import { createSocket, type Socket } from 'node:dgram';
import type { Clock } from '../../lib/clock.js';
import { answerStun } from './stun-responder.js';

export interface StunServerOptions {
  /** Answers per second per source IP, sustained. */
  ratePerSecond: number;
  /** Answers a source IP may get at once above that. */
  burst: number;
  /** Source IPs tracked at once (the rate limiter's memory bound). */
  maxSources: number;
  /** Larger datagrams are dropped unread (a Binding request is 20-100 bytes). */
  maxDatagramBytes: number;
}

export const defaultStunServerOptions: StunServerOptions = {
  // An ICE agent sends one request per local candidate per server, retransmitted a few times (RFC
  // 8489 section 6.2.1: 7 tries); 20/s with 40 in reserve covers a host with many interfaces behind
  // one NAT address gathering at once, while capping what one spoofed source can make us send at
  // ~1 KB/s.
  ratePerSecond: 20,
  burst: 40,
  maxSources: 4096,
  maxDatagramBytes: 1024,
};

const SWEEP_MIN_MS = 100;

export const STUN_COUNTERS = ['requests', 'answered', 'answered_unknown_attribute', 'dropped_malformed', 'dropped_not_binding_request', 'dropped_trailing_bytes', 'dropped_oversize', 'dropped_rate_limited', 'dropped_sources_full', 'send_errors'] as const;
export type StunCounter = (typeof STUN_COUNTERS)[number];

interface Bucket {
  tokens: number;
  at: number;
}

export class StunServer {
  readonly counters = Object.fromEntries(STUN_COUNTERS.map((c) => [c, 0])) as Record<StunCounter, number>;
  private readonly buckets = new Map<string, Bucket>();
  private lastSweepAt = -Infinity;
  private readonly o: StunServerOptions;

  private constructor(
    private readonly socket: Socket,
    private readonly clock: Clock,
    options: Partial<StunServerOptions>,
  ) {
    this.o = { ...defaultStunServerOptions, ...options };
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo.address, rinfo.port, rinfo.family));
  }

  /** Binds UDP `host:port` (IPv6 for an IPv6 host, e.g. `::`); rejects with the socket's error (e.g. EADDRINUSE). */
  static listen(o: { host: string; port: number; clock: Clock; log?: (line: string) => void } & Partial<StunServerOptions>): Promise<StunServer> {
    return new Promise((resolve, reject) => {
      const socket = createSocket({ type: o.host.includes(':') ? 'udp6' : 'udp4' });
      const onError = (err: Error) => {
        socket.close();
        reject(err);
      };
      socket.once('error', onError);
      socket.bind(o.port, o.host, () => {
        socket.off('error', onError);
        socket.on('error', (err) => o.log?.(`STUN socket error: ${err.message}`));
        resolve(new StunServer(socket, o.clock, o));
      });
    });
  }

  get port(): number {
    return this.socket.address().port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    });
  }

  /** Handles one datagram; public so tests can drive the limits without a socket. */
  onDatagram(msg: Uint8Array, address: string, port: number, family: string): void {
    if (msg.length > this.o.maxDatagramBytes) {
      this.counters.dropped_oversize++;
      return;
    }
    if (!this.admit(address)) return;
    this.counters.requests++;
    // A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d: they get an IPv4 mapped address.
    const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    const a = answerStun(msg, v4 ? { family: 4, address: v4, port } : { family: family === 'IPv6' ? 6 : 4, address, port });
    if ('drop' in a) {
      this.counters[`dropped_${a.drop}`]++;
      return;
    }
    this.counters[a.kind === 'binding' ? 'answered' : 'answered_unknown_attribute']++;
    this.socket.send(a.reply, port, address, (err) => {
      if (err) this.counters.send_errors++;
    });
  }

  /** Token bucket per source IP; the table is bounded (idle sources make room first). */
  private admit(ip: string): boolean {
    const now = this.clock.now();
    let b = this.buckets.get(ip);
    if (!b) {
      if (this.buckets.size >= this.o.maxSources && !this.evictIdle(now)) {
        this.counters.dropped_sources_full++;
        return false;
      }
      b = { tokens: this.o.burst, at: now };
      this.buckets.set(ip, b);
    }
    b.tokens = Math.min(this.o.burst, b.tokens + ((now - b.at) / 1000) * this.o.ratePerSecond);
    b.at = now;
    if (b.tokens < 1) {
      this.counters.dropped_rate_limited++;
      return false;
    }
    b.tokens -= 1;
    return true;
  }

  /**
   * Forgets sources whose buckets have refilled (they would start full anyway); true if room was
   * made. A sweep runs at most every SWEEP_MIN_MS, so a flood of new sources costs one scan, not one per packet.
   */
  private evictIdle(now: number): boolean {
    if (now - this.lastSweepAt < SWEEP_MIN_MS) return false;
    this.lastSweepAt = now;
    const refillMs = (this.o.burst / this.o.ratePerSecond) * 1000;
    for (const [ip, b] of this.buckets) if (now - b.at >= refillMs) this.buckets.delete(ip);
    return this.buckets.size < this.o.maxSources;
  }
}
