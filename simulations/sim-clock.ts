// Virtual time for simulations: one heap of events (timers and link deliveries alike), ordered by
// (time, insertion sequence), so a run is a single deterministic event loop. Promise continuations
// in the overlay (dials, DHT calls) are drained between slices of SLICE_MS virtual time, always at the
// same points of the event sequence, so runs stay reproducible.
import type { Clock, Timer } from '../overlay/clock.js';

interface SimEvent {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** Virtual time between two drains of the microtask queue. */
const SLICE_MS = 1;
/** Rounds of microtask draining per slice: enough for the overlay's deepest promise chains. */
const MICROTASK_ROUNDS = 8;

export class SimClock implements Clock {
  private heap: SimEvent[] = [];
  private seq = 0;
  private t = 0;
  eventsRun = 0;
  private slices = 0;

  now(): number {
    return this.t;
  }

  get pending(): number {
    return this.heap.length;
  }

  /** Runs `fn` at virtual time `at` (never in the past). */
  at(at: number, fn: () => void): SimEvent {
    const ev: SimEvent = { at: Math.max(at, this.t), seq: this.seq++, fn, cancelled: false };
    this.push(ev);
    return ev;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const ev = this.at(this.t + Math.max(0, ms), fn);
    return { cancel: () => void (ev.cancelled = true) };
  }

  setInterval(fn: () => void, ms: number): Timer {
    const period = Math.max(1, ms);
    let ev: SimEvent;
    let cancelled = false;
    const fire = () => {
      if (cancelled) return;
      ev = this.at(this.t + period, fire);
      fn();
    };
    ev = this.at(this.t + period, fire);
    return {
      cancel: () => {
        cancelled = true;
        ev.cancelled = true;
      },
    };
  }

  /** Runs every event due up to `until` (inclusive), then sets the time to `until`. */
  async runUntil(until: number): Promise<void> {
    for (;;) {
      const top = this.heap[0];
      if (!top || top.at > until) break;
      const sliceEnd = top.at + SLICE_MS;
      let ev: SimEvent | undefined;
      while ((ev = this.heap[0]) && ev.at < sliceEnd && ev.at <= until) {
        this.pop();
        if (ev.cancelled) continue;
        this.t = ev.at;
        this.eventsRun++;
        ev.fn();
      }
      // Drain promise continuations (dials, DHT calls); now and then also let Node's own event
      // loop run (console output, signals). Both happen at fixed points of the event sequence.
      if (++this.slices % 1024 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      else for (let i = 0; i < MICROTASK_ROUNDS; i++) await null;
    }
    if (until > this.t) this.t = until;
  }

  private less(a: SimEvent, b: SimEvent): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(ev: SimEvent): void {
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): SimEvent | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** A node's view of the shared clock; `halt()` (a crash) cancels its timers and refuses new ones. */
export class NodeClock implements Clock {
  private readonly live = new Set<Timer>();
  private halted = false;
  constructor(private readonly clock: SimClock) {}

  now(): number {
    return this.clock.now();
  }

  setTimeout(fn: () => void, ms: number): Timer {
    if (this.halted) return { cancel() {} };
    const t: Timer = this.clock.setTimeout(() => {
      this.live.delete(handle);
      if (!this.halted) fn();
    }, ms);
    const handle: Timer = {
      cancel: () => {
        this.live.delete(handle);
        t.cancel();
      },
    };
    this.live.add(handle);
    return handle;
  }

  setInterval(fn: () => void, ms: number): Timer {
    if (this.halted) return { cancel() {} };
    const t = this.clock.setInterval(() => {
      if (!this.halted) fn();
    }, ms);
    const handle: Timer = {
      cancel: () => {
        this.live.delete(handle);
        t.cancel();
      },
    };
    this.live.add(handle);
    return handle;
  }

  halt(): void {
    this.halted = true;
    for (const t of [...this.live]) t.cancel();
  }
}
