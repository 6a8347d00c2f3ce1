// `overlay ping`: an echo over the overlay's routed messages (app 31), answered by every node.
// Payload: 1 byte kind (1 request, 2 reply) + 4-byte id; the reply is the request with kind 2.
import type { Overlay } from '../overlay/api.js';
import type { RingAddress } from '../overlay/ring/ring.js';
import type { Clock } from '../lib/clock.js';

export const APP_PING = 31;
export const PING_TIMEOUT_MS = 5_000;

export interface PingResult {
  seq: number;
  rttMs?: number;
  hops?: number;
  error?: string;
}

export class OverlayPinger {
  private readonly pending = new Map<number, (hops: number) => void>();
  private nextId = 1;

  constructor(
    private readonly overlay: Pick<Overlay, 'send' | 'onMessage'>,
    private readonly clock: Clock,
  ) {
    overlay.onMessage(APP_PING, (m) => this.onMessage(m.from, m.payload, m.hops));
  }

  /** Sends `count` pings to `dest` one after another; resolves with the round trips. */
  async ping(dest: RingAddress, count: number): Promise<PingResult[]> {
    const results: PingResult[] = [];
    for (let seq = 1; seq <= count; seq++) {
      const id = this.nextId++ & 0x7fffffff;
      const t0 = this.clock.now();
      const payload = Buffer.alloc(5);
      payload[0] = 1;
      payload.writeUInt32BE(id, 1);
      const reply = new Promise<number | undefined>((resolve) => {
        const timer = this.clock.setTimeout(() => {
          this.pending.delete(id);
          resolve(undefined);
        }, PING_TIMEOUT_MS);
        this.pending.set(id, (hops) => {
          timer.cancel();
          this.pending.delete(id);
          resolve(hops);
        });
      });
      if (!this.overlay.send(dest, APP_PING, payload, { exact: true })) {
        this.pending.get(id)?.(-1);
        results.push({ seq, error: 'no route' });
        continue;
      }
      const hops = await reply;
      if (hops === undefined) results.push({ seq, error: `no reply within ${PING_TIMEOUT_MS} ms` });
      else results.push({ seq, rttMs: Math.round((this.clock.now() - t0) * 100) / 100, hops });
    }
    return results;
  }

  private onMessage(from: RingAddress, payload: Uint8Array, hops: number): void {
    if (payload.length !== 5) return;
    const id = Buffer.from(payload).readUInt32BE(1);
    if (payload[0] === 1) {
      const reply = Buffer.from(payload);
      reply[0] = 2;
      this.overlay.send(from, APP_PING, reply, { exact: true });
    } else if (payload[0] === 2) {
      this.pending.get(id)?.(hops);
    }
  }
}
