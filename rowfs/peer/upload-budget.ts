// What a mount gives other mounts: bytes per second and requests at once, per peer and in total.
// Token buckets (a second's worth of burst) refilled from the injected clock; a request over any
// bound is refused at once (BUSY) rather than queued, so a peer's stall or greed holds nothing here
// and the asker goes to another peer or the server.
import type { Clock } from '../../lib/clock.js';

export interface UploadLimits {
  /** Bytes per second served to all peers together (default 32 MiB/s). */
  totalBytesPerS: number;
  /** Bytes per second served to one peer (default 16 MiB/s). */
  peerBytesPerS: number;
  /** Requests served at once to all peers (default 32). */
  totalRequests: number;
  /** Requests served at once to one peer (default 8). */
  peerRequests: number;
}

export const DEFAULT_UPLOAD_LIMITS: UploadLimits = { totalBytesPerS: 32 << 20, peerBytesPerS: 16 << 20, totalRequests: 32, peerRequests: 8 };
/** Peers whose buckets are remembered (the oldest idle one is forgotten past this). */
const MAX_TRACKED_PEERS = 1024;

class Bucket {
  private tokens: number;
  private at: number;
  active = 0;

  constructor(
    private readonly rate: number,
    now: number,
  ) {
    this.tokens = rate;
    this.at = now;
  }

  /** Takes `n` bytes' worth when the bucket (refilled up to one second's rate) holds them. */
  canTake(n: number, now: number): boolean {
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.at) * this.rate) / 1000);
    this.at = now;
    return this.tokens >= Math.min(n, this.rate);
  }

  /** Takes `n` (negative: gives back). */
  take(n: number): void {
    this.tokens = Math.min(this.rate, this.tokens - n);
  }
}

export class UploadBudget {
  private readonly total: Bucket;
  private readonly peers = new Map<string, Bucket>();
  /** Requests refused for being over a bound. */
  refused = 0;

  constructor(
    readonly limits: UploadLimits,
    private readonly clock: Clock,
  ) {
    this.total = new Bucket(limits.totalBytesPerS, clock.now());
  }

  /**
   * A slot for a reply of up to `bytes` to `peer`, or undefined when over a bound. The `bytes` are
   * taken at once (so requests admitted together cannot all pass on the same tokens); `done(sent)`
   * gives back what was not sent and frees the slot (call it once, when the reply is written or
   * abandoned); a bucket may go below zero, which refuses the next requests until it refills.
   */
  admit(peer: string, bytes: number): { done(sent: number): void } | undefined {
    const now = this.clock.now();
    let p = this.peers.get(peer);
    if (!p) {
      if (this.peers.size >= MAX_TRACKED_PEERS) {
        for (const [k, b] of this.peers) {
          if (b.active === 0) {
            this.peers.delete(k);
            break;
          }
        }
      }
      p = new Bucket(this.limits.peerBytesPerS, now);
      this.peers.set(peer, p);
    }
    if (this.total.active >= this.limits.totalRequests || p.active >= this.limits.peerRequests || !p.canTake(bytes, now) || !this.total.canTake(bytes, now)) {
      this.refused++;
      return undefined;
    }
    p.active++;
    this.total.active++;
    p.take(bytes);
    this.total.take(bytes);
    const peerBucket = p;
    let open = true;
    return {
      done: (sent) => {
        if (!open) return;
        open = false;
        peerBucket.take(sent - bytes);
        this.total.take(sent - bytes);
        peerBucket.active--;
        this.total.active--;
      },
    };
  }
}
