// FIND/FOUND: asks the node closest to a ring position (other than us) who it is and who its near
// neighbours are. Joins use it for our own address, far links for Symphony positions. Each FIND waits
// at most findTimeoutMs; stop() answers every one still waiting with undefined.
import type { Clock, Random, Timer } from '../../lib/clock.js';
import type { RingAddress } from '../ring/ring.js';
import type { RoutedFrame } from '../wire/link-frame.js';
import { decodeFind, decodeFound, encodeFind, encodeFound } from '../wire/control.js';
import { APP_FIND, APP_FOUND } from './app-tags.js';
import type { Counters } from './counters.js';
import type { OverlayOptions } from './options.js';
import type { RouteOptions } from './router.js';

export interface FindResult {
  from: RingAddress;
  near: RingAddress[];
}

export interface FinderHost {
  readonly self: RingAddress;
  readonly clock: Clock;
  readonly random: Random;
  readonly options: Pick<OverlayOptions, 'findTimeoutMs'>;
  readonly counters: Pick<Counters, 'count' | 'decodeOrCount'>;
  sendRouted(dest: RingAddress, app: number, payload: Uint8Array, o: RouteOptions): boolean;
  /** Our near set, as we tell it (at most one frame's worth). */
  nearList(): RingAddress[];
}

export class Finder {
  private readonly finds = new Map<number, { done: (r: FindResult | undefined) => void; timer: Timer }>();
  private nextFindId: number;

  constructor(private readonly host: FinderHost) {
    this.nextFindId = 1 + host.random.int(0x7fffffff);
  }

  /** Resolves with the answer, or undefined (no route, timeout, stopped). */
  find(position: RingAddress): Promise<FindResult | undefined> {
    return new Promise((resolve) => {
      this.nextFindId = this.nextFindId >= 0xfffffffe ? 1 : this.nextFindId + 1;
      const id = this.nextFindId;
      const timer = this.host.clock.setTimeout(() => {
        this.finds.delete(id);
        this.host.counters.count('find_timeouts');
        resolve(undefined);
      }, this.host.options.findTimeoutMs);
      this.finds.set(id, { done: resolve, timer });
      if (!this.host.sendRouted(position, APP_FIND, encodeFind({ id }), { exact: false, askReplyVia: true, notSrc: true })) {
        timer.cancel();
        this.finds.delete(id);
        resolve(undefined);
      }
    });
  }

  /** A FIND for us: answer with our near set, through the asker's first hop. */
  onFind(f: RoutedFrame): void {
    if (f.src === this.host.self) return;
    const find = this.host.counters.decodeOrCount(decodeFind, f.payload, 'find_malformed');
    if (!find) return;
    this.host.sendRouted(f.src, APP_FOUND, encodeFound({ id: find.id, near: this.host.nearList() }), { exact: true, via: f.replyVia, notSrc: true });
  }

  onFound(f: RoutedFrame): void {
    const m = this.host.counters.decodeOrCount(decodeFound, f.payload, 'find_malformed');
    if (!m) return;
    const w = this.finds.get(m.id);
    if (!w) return;
    this.finds.delete(m.id);
    w.timer.cancel();
    w.done({ from: f.src, near: m.near });
  }

  /** Every FIND still waiting resolves with undefined. */
  stop(): void {
    for (const [, f] of this.finds) {
      f.timer.cancel();
      f.done(undefined);
    }
    this.finds.clear();
  }
}
