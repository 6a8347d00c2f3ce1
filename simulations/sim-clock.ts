// Virtual time for simulations: one heap of events (timers and link deliveries alike), ordered by
// (time, insertion sequence), so a run is a single deterministic event loop. Promise continuations
// in the overlay (dials, DHT calls) are drained between slices of SLICE_MS virtual time, always at the
// same points of the event sequence, so runs stay reproducible.
//
// Cost matters here: a 10,000-node run executes tens of millions of events. An event is one object
// that is also its own Timer handle (no wrapper, no closure for a link delivery: the handler and its
// two arguments ride in the event), and the heap sifts by moving a hole instead of swapping pairs.
import type { Clock, Timer } from '../lib/clock.js';

type Handler = (a: any, b: any) => void; // eslint-disable-line @typescript-eslint/no-explicit-any

/** One scheduled event; cancelling it leaves it in the heap, skipped when it comes up. */
export class SimEvent implements Timer {
  cancelled = false;
  constructor(
    readonly at: number,
    readonly seq: number,
    readonly fn: Handler,
    readonly a: unknown,
    readonly b: unknown,
  ) {}

  cancel(): void {
    this.cancelled = true;
  }
}

/** Virtual time between two drains of the microtask queue. */
const SLICE_MS = 1;
/** Rounds of microtask draining per slice: enough for the overlay's deepest promise chains. */
const MICROTASK_ROUNDS = 8;

const callThunk = (fn: () => void) => fn();

/** (time, sequence) order: the heap's only comparison. */
function before(x: SimEvent, y: SimEvent): boolean {
  return x.at < y.at || (x.at === y.at && x.seq < y.seq);
}

/** A periodic timer: re-arms itself on the clock before each run, until cancelled. */
class Interval implements Timer {
  private ev: SimEvent;
  private cancelled = false;
  constructor(private readonly clock: SimClock, private readonly fn: () => void, private readonly period: number) {
    this.ev = clock.at(clock.now() + period, Interval.fire, this);
  }

  private static fire(self: Interval): void {
    if (self.cancelled) return;
    self.ev = self.clock.at(self.clock.now() + self.period, Interval.fire, self);
    self.fn();
  }

  cancel(): void {
    this.cancelled = true;
    this.ev.cancel();
  }
}

/** Wall time of virtual time 0: fixed, so a seeded run is reproducible. */
export const SIM_WALL_EPOCH_MS = Date.UTC(2026, 0, 1);

export class SimClock implements Clock {
  private readonly heap: SimEvent[] = [];
  private seq = 0;
  private t = 0;
  eventsRun = 0;
  private slices = 0;

  now(): number {
    return this.t;
  }

  wallNow(): number {
    return SIM_WALL_EPOCH_MS + this.t;
  }

  get pending(): number {
    return this.heap.length;
  }

  /**
   * Runs `fn(a, b)` at virtual time `at` (never in the past). Passing the arguments here instead of
   * capturing them in a closure saves an allocation per event on the hot paths (link deliveries).
   */
  at(at: number, fn: () => void): SimEvent;
  at<A, B>(at: number, fn: (a: A, b: B) => void, a: A, b?: B): SimEvent;
  at(at: number, fn: Handler, a?: unknown, b?: unknown): SimEvent {
    const ev = arguments.length > 2 ? new SimEvent(at > this.t ? at : this.t, this.seq++, fn, a, b) : new SimEvent(at > this.t ? at : this.t, this.seq++, callThunk, fn, undefined);
    this.push(ev);
    return ev;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.at(this.t + (ms > 0 ? ms : 0), callThunk, fn);
  }

  setInterval(fn: () => void, ms: number): Timer {
    return new Interval(this, fn, Math.max(1, ms));
  }

  /** Runs every event due up to `until` (inclusive), then sets the time to `until`. */
  async runUntil(until: number): Promise<void> {
    const h = this.heap;
    for (;;) {
      const top = h[0];
      if (!top || top.at > until) break;
      const sliceEnd = top.at + SLICE_MS;
      let ev: SimEvent | undefined;
      while ((ev = h[0]) && ev.at < sliceEnd && ev.at <= until) {
        this.pop();
        if (ev.cancelled) continue;
        this.t = ev.at;
        this.eventsRun++;
        ev.fn(ev.a, ev.b);
      }
      // Drain promise continuations (dials, DHT calls); now and then also let Node's own event
      // loop run (console output, signals). Both happen at fixed points of the event sequence.
      if (++this.slices % 1024 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      else for (let i = 0; i < MICROTASK_ROUNDS; i++) await null;
    }
    if (until > this.t) this.t = until;
  }

  private push(ev: SimEvent): void {
    const h = this.heap;
    let i = h.length;
    h.push(ev);
    // Move the hole up until the parent is not after the new event.
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      if (!before(ev, parent)) break;
      h[i] = parent;
      i = p;
    }
    h[i] = ev;
  }

  private pop(): SimEvent | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    const n = h.length;
    if (n === 0 || last === undefined) return top;
    // Move the hole at the root down, then drop the last event into it.
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(h[r]!, h[l]!) ? r : l;
      const child = h[c]!;
      if (!before(child, last)) break;
      h[i] = child;
      i = c;
    }
    h[i] = last;
    return top;
  }
}

/**
 * A node's view of the shared clock; `halt()` (a crash) stops its timers and refuses new ones.
 * One-shot timers of a halted node stay in the heap until due and are skipped then (no bookkeeping
 * per timer); its periodic timers are cancelled, since they would re-arm forever.
 */
export class NodeClock implements Clock {
  private readonly intervals = new Set<Timer>();
  private halted = false;
  constructor(private readonly clock: SimClock) {}

  now(): number {
    return this.clock.now();
  }

  wallNow(): number {
    return this.clock.wallNow();
  }

  private static runUnlessHalted(self: NodeClock, fn: () => void): void {
    if (!self.halted) fn();
  }

  setTimeout(fn: () => void, ms: number): Timer {
    if (this.halted) return { cancel() {} };
    return this.clock.at(this.clock.now() + (ms > 0 ? ms : 0), NodeClock.runUnlessHalted, this, fn);
  }

  setInterval(fn: () => void, ms: number): Timer {
    if (this.halted) return { cancel() {} };
    const t = this.clock.setInterval(() => {
      if (!this.halted) fn();
    }, ms);
    const handle: Timer = {
      cancel: () => {
        this.intervals.delete(handle);
        t.cancel();
      },
    };
    this.intervals.add(handle);
    return handle;
  }

  halt(): void {
    this.halted = true;
    for (const t of [...this.intervals]) t.cancel();
  }
}
