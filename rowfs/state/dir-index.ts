// Whole directories of the state store's names and whiteouts, in memory: a lookup in a directory
// indexed here, a miss included, needs no LMDB read. Under a kernel client every create asked
// LMDB four to six times for names that were not there (a get took 7-15 us beside a busy VM).
// Bounded by names in total (least recently used directories go first); a directory larger than a
// quarter of that is never indexed, and remembered as such so it is not read again for nothing.

/** What the index holds of one directory: every recorded name with its vid, every whiteout. */
export interface DirEntries {
  readonly names: Map<string, number>;
  readonly whiteouts: Set<string>;
}

/** Directories remembered as too large to index. */
const MAX_TOO_LARGE = 1024;

export class DirIndex {
  /** In least recently used order. */
  private readonly dirs = new Map<number, DirEntries>();
  private readonly tooLarge = new Set<number>();
  private entries = 0;

  constructor(private readonly maxEntries: number) {}

  /** Most entries one directory may have to be indexed. */
  get maxPerDir(): number {
    return Math.floor(this.maxEntries / 4);
  }

  /** The directory's entries, when indexed (it becomes the most recently used). */
  get(parent: number): DirEntries | undefined {
    const d = this.dirs.get(parent);
    if (d) {
      this.dirs.delete(parent);
      this.dirs.set(parent, d);
    }
    return d;
  }

  /** True when `parent` was found too large to index (do not load it again). */
  isTooLarge(parent: number): boolean {
    return this.tooLarge.has(parent);
  }

  /**
   * Indexes `parent` from `load` (every name and whiteout it has, or undefined past maxPerDir
   * entries: then it is remembered as too large).
   */
  load(parent: number, load: () => DirEntries | undefined): DirEntries | undefined {
    const d = load();
    if (!d) {
      this.markTooLarge(parent);
      return undefined;
    }
    this.dirs.set(parent, d);
    this.grow(parent, d.names.size + d.whiteouts.size);
    return d;
  }

  setName(parent: number, name: string, vid: number): void {
    const d = this.dirs.get(parent);
    if (!d) return;
    const had = d.names.has(name);
    d.names.set(name, vid);
    if (!had) this.grow(parent, 1);
  }

  removeName(parent: number, name: string): void {
    const d = this.dirs.get(parent);
    if (d?.names.delete(name)) this.entries--;
  }

  setWhiteout(parent: number, name: string, on: boolean): void {
    const d = this.dirs.get(parent);
    if (!d) return;
    if (!on) {
      if (d.whiteouts.delete(name)) this.entries--;
    } else if (!d.whiteouts.has(name)) {
      d.whiteouts.add(name);
      this.grow(parent, 1);
    }
  }

  /** Entries held in total (tests). */
  get size(): number {
    return this.entries;
  }

  /** Adds `n` entries of `parent`; a directory past maxPerDir leaves, then the oldest while over the bound. */
  private grow(parent: number, n: number): void {
    this.entries += n;
    const d = this.dirs.get(parent);
    if (d && d.names.size + d.whiteouts.size > this.maxPerDir) {
      this.drop(parent);
      this.markTooLarge(parent);
    }
    while (this.entries > this.maxEntries && this.dirs.size > 0) this.drop(this.dirs.keys().next().value as number);
  }

  private markTooLarge(parent: number): void {
    if (this.tooLarge.size >= MAX_TOO_LARGE) this.tooLarge.delete(this.tooLarge.values().next().value as number);
    this.tooLarge.add(parent);
  }

  private drop(parent: number): void {
    const d = this.dirs.get(parent);
    if (!d) return;
    this.dirs.delete(parent);
    this.entries -= d.names.size + d.whiteouts.size;
  }
}
