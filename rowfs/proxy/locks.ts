// Block-range locks for the proxy's writes. Node runs our code on one thread, so these only order
// asynchronous sequences (RPCs to main/shadow, cache writes) that must not interleave.

/**
 * Locks on block ranges of one file: a write holds the blocks it touches, so two writes that
 * both fill part of a block from main cannot overwrite each other's bytes with stale main data.
 */
export class RangeLocks {
  private readonly held = new Map<number, Array<{ first: number; last: number; done: Promise<void> }>>();

  async run<T>(vid: number, first: number, last: number, fn: () => Promise<T>): Promise<T> {
    for (;;) {
      const list = this.held.get(vid) ?? [];
      const clash = list.find((r) => r.first <= last && first <= r.last);
      if (!clash) break;
      await clash.done;
    }
    let release!: () => void;
    const entry = { first, last, done: new Promise<void>((r) => (release = r)) };
    const list = this.held.get(vid) ?? [];
    list.push(entry);
    this.held.set(vid, list);
    try {
      return await fn();
    } finally {
      const l = this.held.get(vid)!;
      l.splice(l.indexOf(entry), 1);
      if (l.length === 0) this.held.delete(vid);
      release();
    }
  }
}
