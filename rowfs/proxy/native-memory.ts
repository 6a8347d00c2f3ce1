// Native (malloc) memory of the proxy's process handed back to the kernel, with the `rowfsmemory`
// addon (rowfs/native/rowfs-memory.c) when it is built; without it nothing happens. glibc keeps
// memory freed by the proxy's bursts (socket reads, Buffers, LMDB transactions, V8's compiler and
// GC threads) in its heaps, one more heap per thread that met a locked one, so the resident set
// only grows. At start the heaps are limited to MALLOC_ARENAS and glibc's thresholds fixed at
// MALLOC_THRESHOLD_BYTES (large blocks unmapped when freed); while clients are active and the
// anonymous resident set has grown by TRIM_GROWTH_BYTES since the last trim, the heaps are trimmed
// (malloc_trim walks every free chunk: ~0.4-2 ms in the proxy, more on a large heap). These are
// settings of the whole process, which slow other code that allocates and frees large Buffers in
// it (measured 10x on a 1 MiB allocate/free loop), so only a process that is a proxy alone
// (`overlay rowfs`) turns them on. Measured in docs/rowfs.md ("Peak RSS of the libnfs phases").
import { readFileSync } from 'node:fs';
import { loadNativeAddon } from '../../lib/native-addon.js';

/** glibc malloc heaps (arenas) at most: threads share them instead of one heap each. */
export const MALLOC_ARENAS = 2;
/**
 * Allocations this large are mapped on their own (unmapped when freed); a heap's free top past it
 * is returned. It costs: LMDB allocates and frees a 1 MiB page list in every write commit
 * (mdb_freelist_save's spill list), so each namespace change pays an mmap, page faults and an
 * munmap (6-9 % of the proxy's main thread in the kernel client's create/remove workload). At
 * 2 MiB that went, but the libnfs phases' peak RSS rose from ~98 to 118 MB (docs/rowfs.md).
 */
export const MALLOC_THRESHOLD_BYTES = 128 * 1024;

interface MemoryAddon {
  limitArenas(n: number): void;
  fixThresholds(bytes: number): void;
  trim(): number;
}

/** Growth of the anonymous resident set that makes the next active tick trim. */
export const TRIM_GROWTH_BYTES = 4 * 1024 * 1024;
const PAGE_BYTES = 4096;

/** This process's anonymous resident bytes (resident minus file-backed shared pages, /proc/self/statm). */
function anonResidentBytes(): number {
  const [, resident, shared] = readFileSync('/proc/self/statm', 'utf8').split(' ').map(Number);
  return ((resident ?? 0) - (shared ?? 0)) * PAGE_BYTES;
}

export class NativeMemory {
  private lastActivity = -1;
  /** The anonymous resident set after the last trim (or at start). */
  private baseline: number;
  /** Trims done. */
  readonly stats = { trims: 0 };

  private constructor(
    private readonly addon: MemoryAddon,
    private readonly anonBytes: () => number,
  ) {
    this.baseline = anonBytes();
  }

  /**
   * Limits the heaps and returns the trimmer; undefined when the addon is not built, or when it
   * fails (said once through `log`: it is only a memory saving).
   */
  static open(log: (line: string) => void = () => undefined, anonBytes: () => number = anonResidentBytes): NativeMemory | undefined {
    try {
      const addon = loadNativeAddon<MemoryAddon>('rowfsmemory');
      if (!addon) return undefined;
      addon.limitArenas(MALLOC_ARENAS);
      addon.fixThresholds(MALLOC_THRESHOLD_BYTES);
      return new NativeMemory(addon, anonBytes);
    } catch (e) {
      log(`native memory tuning off: ${(e as Error).message}`);
      return undefined;
    }
  }

  /**
   * Called once per tick with a count that moves while clients are active (calls served): trims
   * when it moved and the anonymous resident set grew by TRIM_GROWTH_BYTES since the last trim.
   */
  tick(activity: number): void {
    if (activity === this.lastActivity) return;
    this.lastActivity = activity;
    if (this.anonBytes() - this.baseline >= TRIM_GROWTH_BYTES) this.trim();
  }

  /** Returns free heap pages to the kernel now (glibc's answer does not say whether any came back). */
  trim(): void {
    this.stats.trims++;
    this.addon.trim();
    this.baseline = this.anonBytes();
  }
}
