// Directories made through this proxy process (a MKDIR the shadow answered with a new, empty
// directory): every name in their shadow directory got there through the proxy, which records it
// before replying, so a name the proxy has not recorded is not in the shadow either and a LOOKUP
// of it needs no shadow call (the kernel client looks each name up before creating it). A namespace
// change whose shadow call throws or answers an error, or that fails after it (its name may then
// be in the shadow unrecorded), drops the directories it touched. Memory only and bounded: forgetting a directory costs shadow LOOKUPs.

/** Directories remembered (oldest forgotten first). */
const TRACKED_DIRS = 65_536;

export class ShadowDirNames {
  private readonly complete = new Set<number>();

  /** True when every name in the shadow directory of `vid` is recorded by the proxy. */
  isComplete(vid: number): boolean {
    return this.complete.has(vid);
  }

  /** Directory `vid` was just made, empty, by a shadow MKDIR. */
  made(vid: number): void {
    if (this.complete.size >= TRACKED_DIRS) this.complete.delete(this.complete.values().next().value as number);
    this.complete.add(vid);
  }

  forget(...vids: number[]): void {
    for (const vid of vids) this.complete.delete(vid);
  }
}
