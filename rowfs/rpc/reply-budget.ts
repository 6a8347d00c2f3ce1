// Memory an RPC server holds for replies, bounded per connection and in total (issue 11, item 3).
// A call reserves the most its reply may hold (its procedure's replyBytesBound) before it runs and
// gives the reservation back when it has run; its encoded reply is then held from being queued
// until the kernel has taken it. A call that does not fit waits, in order, in its connection's
// queue (the connection stops reading meanwhile, so waiting calls are bounded too). A connection
// holding nothing may always run one call: no client is locked out by others' unread replies, so
// the total can pass its bound by at most one reply per connection.

/**
 * A FIFO of (number, value) pairs in two parallel arrays: no object per entry (it runs once per
 * call on the hot path).
 */
export class PairFifo<V> {
  private readonly nums: number[] = [];
  private readonly vals: V[] = [];
  private first = 0;

  get size(): number {
    return this.nums.length - this.first;
  }

  push(n: number, v: V): void {
    this.nums.push(n);
    this.vals.push(v);
  }

  /** The number of the first entry (undefined when empty). */
  peek(): number | undefined {
    return this.first < this.nums.length ? this.nums[this.first] : undefined;
  }

  /** Removes the first entry and returns its value (the queue must not be empty). */
  shift(): V {
    const v = this.vals[this.first]!;
    this.vals[this.first] = undefined as V;
    this.first++;
    if (this.first === this.nums.length) {
      this.nums.length = 0;
      this.vals.length = 0;
      this.first = 0;
    }
    return v;
  }
}

/** One connection's share: what it holds, and its calls waiting for room. */
export class ReplyAccount {
  /** Bytes reserved by running calls plus replies queued and not yet taken by the kernel. */
  held = 0;
  /** Calls waiting for room: bytes to reserve, wake-up. */
  readonly waiting = new PairFifo<() => void>();
}

export class ReplyBudget {
  /** Bytes held by all connections together. */
  held = 0;
  /** Accounts with calls waiting. */
  private readonly starved = new Set<ReplyAccount>();

  constructor(
    /** Most one connection may hold (beyond its first call). */
    readonly perConnectionBytes: number,
    /** Most all connections together may hold (beyond one call each). */
    readonly totalBytes: number,
  ) {}

  private fits(a: ReplyAccount, bytes: number): boolean {
    return a.held === 0 || (a.held + bytes <= this.perConnectionBytes && this.held + bytes <= this.totalBytes);
  }

  /**
   * Reserves `bytes` for a call on `a`: undefined when reserved now (no allocation: the hot
   * path), else a promise that resolves once reserved (calls on one connection in order).
   */
  reserve(a: ReplyAccount, bytes: number): Promise<void> | undefined {
    if (a.waiting.size === 0 && this.fits(a, bytes)) {
      this.take(a, bytes);
      return undefined;
    }
    return new Promise<void>((resolve) => {
      a.waiting.push(bytes, resolve);
      this.starved.add(a);
    });
  }

  /** Counts `bytes` as held by `a` without waiting (a reply being queued). */
  take(a: ReplyAccount, bytes: number): void {
    a.held += bytes;
    this.held += bytes;
  }

  /** Gives back `bytes` held by `a`; wakes the calls that fit now. */
  release(a: ReplyAccount, bytes: number): void {
    a.held -= bytes;
    this.held -= bytes;
    if (this.starved.size === 0) return;
    this.wake(a);
    if (this.held >= this.totalBytes) return;
    for (const other of this.starved) {
      if (other !== a) this.wake(other);
      if (this.held >= this.totalBytes) break;
    }
  }

  /** A closed connection: its waiting calls get their reservation now (they find the connection gone and give it back). */
  close(a: ReplyAccount): void {
    this.starved.delete(a);
    for (let bytes = a.waiting.peek(); bytes !== undefined; bytes = a.waiting.peek()) {
      this.take(a, bytes);
      a.waiting.shift()();
    }
  }

  private wake(a: ReplyAccount): void {
    for (let bytes = a.waiting.peek(); bytes !== undefined && this.fits(a, bytes); bytes = a.waiting.peek()) {
      this.take(a, bytes);
      a.waiting.shift()();
    }
    if (a.waiting.size === 0) this.starved.delete(a);
  }
}
