// Time and randomness are injected so the same overlay code runs on real links (systemClock,
// cryptoRandom) and in the simulator (a virtual clock and a seeded generator): a simulation run
// with a seed is reproducible bit for bit.

export interface Timer {
  /** Stops the timer; calling it again, or after it fired, does nothing. */
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since an arbitrary epoch; never goes backwards. For intervals and deadlines. */
  now(): number;
  /** Milliseconds since the Unix epoch, for timestamps that leave the process (records, file times). */
  wallNow(): number;
  /** Runs `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): Timer;
  /** Runs `fn` every `ms` milliseconds until cancelled. */
  setInterval(fn: () => void, ms: number): Timer;
}

export interface Random {
  /** Uniform in [0, 1). */
  float(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** `n` uniformly random bytes. */
  bytes(n: number): Uint8Array;
}

/** Resolves after `ms` milliseconds of `clock` time. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

/** The real clock: wall time from performance.now(), timers from Node. Timers do not hold the process open. */
export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
  setInterval(fn, ms) {
    const t = setInterval(fn, ms);
    t.unref?.();
    return { cancel: () => clearInterval(t) };
  },
};
