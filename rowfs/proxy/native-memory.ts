// Native (malloc) memory of the proxy's process handed back to the kernel, with the `rowfsmemory`
// addon (rowfs/native/rowfs-memory.c) when it is built; without it nothing happens. glibc keeps
// memory freed by the proxy's bursts (socket reads, Buffers, LMDB transactions, V8's compiler and
// GC threads) in its heaps, one more heap per thread that met a locked one, so the resident set
// only grows. At start the heaps are limited to MALLOC_ARENAS; while clients are active they are
// trimmed once per tick (malloc_trim: free pages returned, ~0.1-1 ms of the main thread), and
// glibc's thresholds are fixed at MALLOC_THRESHOLD_BYTES (large blocks unmapped when freed).
// Measured in docs/rowfs.md ("Peak RSS of the libnfs phases").
import { loadNativeAddon } from '../../lib/native-addon.js';

/** glibc malloc heaps (arenas) at most: threads share them instead of one heap each. */
export const MALLOC_ARENAS = 2;
/** Allocations this large are mapped on their own (unmapped when freed); a heap's free top past it is returned. */
export const MALLOC_THRESHOLD_BYTES = 128 * 1024;

interface MemoryAddon {
  limitArenas(n: number): void;
  fixThresholds(bytes: number): void;
  trim(): number;
}

export class NativeMemory {
  private lastActivity = -1;
  /** Trims that released memory, and trims in all. */
  readonly stats = { released: 0, trims: 0 };

  private constructor(private readonly addon: MemoryAddon) {}

  /** Limits the heaps and returns the trimmer; undefined when the addon is not built. */
  static open(): NativeMemory | undefined {
    const addon = loadNativeAddon<MemoryAddon>('rowfsmemory');
    if (!addon) return undefined;
    addon.limitArenas(MALLOC_ARENAS);
    addon.fixThresholds(MALLOC_THRESHOLD_BYTES);
    return new NativeMemory(addon);
  }

  /** Called once per tick with a count that moves while clients are active (calls served): trims then. */
  tick(activity: number): void {
    if (activity === this.lastActivity) return;
    this.lastActivity = activity;
    this.trim();
  }

  /** Returns free heap pages to the kernel now; true when some were. */
  trim(): boolean {
    this.stats.trims++;
    const released = this.addon.trim() === 1;
    if (released) this.stats.released++;
    return released;
  }
}
