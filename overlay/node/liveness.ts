// Is a linked peer alive? PING when a link has been silent (by the tick), or when we are about to
// send on a link that has been quiet for a little while (fast crash detection); a PING unanswered,
// with nothing else heard, for pongTimeoutMs means the peer is dead. PONGs give the link's RTT.
import type { Random } from '../../lib/clock.js';
import type { TableEntry } from '../routing-table/connection-table.js';
import { FRAME_PING, type LinkFrame, type PongFrame } from '../wire/link-frame.js';
import type { OverlayOptions } from './options.js';

export interface LivenessHost {
  readonly random: Random;
  readonly options: Pick<OverlayOptions, 'pongTimeoutMs' | 'probeQuietMs'>;
  sendFrame(e: TableEntry, f: LinkFrame): boolean;
}

export class Liveness {
  constructor(private readonly host: LivenessHost) {}

  /** A probe went unanswered: nothing heard from the peer for pongTimeoutMs since we pinged. */
  isDead(e: TableEntry, now: number): boolean {
    return e.pingSentAt !== undefined && e.pingNonce !== undefined && e.lastHeard < e.pingSentAt && now - e.pingSentAt > this.host.options.pongTimeoutMs;
  }

  /** We send on a link that has been quiet for a while: ask for a sign of life (fast crash detection). */
  probeIfQuiet(e: TableEntry, now: number): void {
    if (now - e.lastHeard > this.host.options.probeQuietMs && (e.pingNonce === undefined || e.lastHeard > (e.pingSentAt ?? 0))) this.ping(e, now);
  }

  ping(e: TableEntry, now: number): void {
    e.pingNonce = this.host.random.int(0xffffffff);
    e.pingSentAt = now;
    this.host.sendFrame(e, { type: FRAME_PING, nonce: e.pingNonce });
  }

  /** A PONG on `e`'s link (`e.lastHeard` is its arrival time). */
  onPong(e: TableEntry, f: PongFrame): void {
    if (e.pingNonce === f.nonce && e.pingSentAt !== undefined) e.rttMs = e.lastHeard - e.pingSentAt;
    e.pingNonce = undefined;
  }
}
