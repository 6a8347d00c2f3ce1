// The order in which a mount's clients first read main blocks (a boot, for an appliance image),
// as runs of consecutive blocks of one file. Bounded: at most maxBlocks distinct blocks and maxRuns
// runs; past either the trace is complete (a boot set, not a whole session). Plain data, no I/O.

export interface TraceRunByKey {
  /** The main file's handle as hex (the block cache's key). */
  key: string;
  first: number;
  count: number;
}

export class BootTraceRecorder {
  private readonly seen = new Set<string>();
  private readonly list: TraceRunByKey[] = [];
  /** Bumped on every change, so a publisher can tell whether there is anything new. */
  version = 0;

  constructor(
    private readonly maxBlocks = 16_384,
    private readonly maxRuns = 1200,
  ) {}

  get full(): boolean {
    return this.seen.size >= this.maxBlocks || this.list.length >= this.maxRuns;
  }

  /** Blocks [first, last] of `key` were read by a client: the ones read for the first time are appended. */
  note(key: string, first: number, last: number): void {
    for (let b = first; b <= last; b++) {
      if (this.full) return;
      const id = `${key}:${b}`;
      if (this.seen.has(id)) continue;
      this.seen.add(id);
      const tail = this.list[this.list.length - 1];
      if (tail && tail.key === key && tail.first + tail.count === b) tail.count++;
      else this.list.push({ key, first: b, count: 1 });
      this.version++;
    }
  }

  runs(): TraceRunByKey[] {
    return this.list.map((r) => ({ ...r }));
  }
}
