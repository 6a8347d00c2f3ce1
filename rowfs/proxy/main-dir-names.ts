// Which main directories have every name registered in the proxy's state, so that a name the
// proxy has not recorded (and that is not in the shadow, asked first) is not in main either: the
// main export is read-only, and every later change to a directory's names goes through the proxy,
// which records it (names, whiteouts). Such a directory needs no LOOKUP to main for a missing
// name, and its names' handles and attributes come from one listing instead of one LOOKUP each.
// A main-only directory gets listed after a few names were looked up in it one at a time (a
// client reading many of its files, or a kernel client opening them), as long as it is not large.
// Everything here is memory only and bounded: forgetting a directory only costs LOOKUPs again.

/** Names looked up one at a time in a main-only directory before it is listed whole. */
export const LIST_AFTER_LOOKUPS = 4;
/** A main directory the manifest shows this small is listed at its first name looked up (one round trip either way). */
export const LIST_AT_ONCE_ENTRIES = 64;
/**
 * Largest main directory listed that way (entries); a larger one keeps its LOOKUPs. The listing's
 * entries and attributes are held at once (~1.5 KB an entry with the READDIRPLUS reply): 2,000
 * cost the proxy ~3 MB of peak RSS in the small-files replay, so this bounds it near 6 MB.
 */
export const LIST_MAX_ENTRIES = 4096;
/** Directories remembered in each set and map below (oldest forgotten first). */
const TRACKED_DIRS = 4096;

export class MainDirNames {
  /** Directories (vids) whose main names are all registered. */
  private readonly complete = new Set<number>();
  /** Names looked up one at a time, per directory not (yet) listed. */
  private readonly lookups = new Map<number, number>();
  /** Directories found too large to list (or whose listing failed): not tried again. */
  private readonly skipped = new Set<number>();
  /** Listings in progress, so concurrent LOOKUPs in one directory share one. */
  private readonly listing = new Map<number, Promise<void>>();

  /** True when every main name of directory `vid` is registered. A vid's main side never changes. */
  isComplete(vid: number): boolean {
    return this.complete.has(vid);
  }

  /** Directory `vid` may have main names the proxy no longer records: LOOKUPs go to main again. */
  forget(vid: number): void {
    this.complete.delete(vid);
  }

  markComplete(vid: number): void {
    this.lookups.delete(vid);
    remember(this.complete, vid);
  }

  /**
   * Counts a name looked up on its own in directory `vid`; true when the directory should now be
   * listed whole (`after` names reached, not listed, not found too large before).
   */
  countLookup(vid: number, after = LIST_AFTER_LOOKUPS): boolean {
    if (this.complete.has(vid) || this.skipped.has(vid) || this.listing.has(vid)) return false;
    const n = (this.lookups.get(vid) ?? 0) + 1;
    this.lookups.delete(vid);
    if (this.lookups.size >= TRACKED_DIRS) this.lookups.delete(this.lookups.keys().next().value as number);
    this.lookups.set(vid, n);
    return n >= after;
  }

  /** Runs `list` for directory `vid` once at a time; a failure marks the directory as not to list again. */
  async listOnce(vid: number, list: () => Promise<boolean>): Promise<void> {
    let p = this.listing.get(vid);
    if (!p) {
      p = list().then(
        (ok) => {
          if (ok) this.markComplete(vid);
          else remember(this.skipped, vid);
        },
        () => void remember(this.skipped, vid),
      );
      const running = p;
      this.listing.set(vid, running);
      void running.finally(() => this.listing.delete(vid));
    }
    await p;
  }
}

function remember(set: Set<number>, vid: number): void {
  set.delete(vid);
  if (set.size >= TRACKED_DIRS) set.delete(set.values().next().value as number);
  set.add(vid);
}
