// A test clock: time moves only on `advance`, timers fire in time order (ties in creation order).
import type { Clock, Timer } from '../../lib/clock.js';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
  every?: number;
  cancelled: boolean;
}

export class ManualClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers: Pending[] = [];

  /** `wallEpochMs`: the wall time (ms since 1970) at time 0. */
  constructor(private readonly wallEpochMs = 0) {}

  now(): number {
    return this.t;
  }

  wallNow(): number {
    return this.wallEpochMs + this.t;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.add(fn, ms);
  }

  setInterval(fn: () => void, ms: number): Timer {
    return this.add(fn, ms, Math.max(1, ms));
  }

  get pendingTimers(): number {
    return this.timers.filter((p) => !p.cancelled).length;
  }

  /** Moves time forward by `ms`, firing due timers in order; awaits microtasks between firings. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (let guard = 0; guard < 1_000_000; guard++) {
      this.timers = this.timers.filter((p) => !p.cancelled);
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.t = next.at;
      if (next.every) next.at += next.every;
      else next.cancelled = true;
      next.fn();
      await flush();
    }
    this.t = end;
    await flush();
  }

  private add(fn: () => void, ms: number, every?: number): Timer {
    const p: Pending = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, every, cancelled: false };
    this.timers.push(p);
    return { cancel: () => void (p.cancelled = true) };
  }
}

/** Lets pending promise callbacks and microtasks run. */
export async function flush(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}
