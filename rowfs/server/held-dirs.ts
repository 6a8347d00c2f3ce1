// O_PATH descriptors of directories kept open by device:inode (issue 15), so a namespace change in a
// directory it has seen does not open, check and close one per call, and resolving the directory's
// handle is one fstat of the descriptor instead of an lstat walking its path. An O_PATH descriptor
// names its inode whatever happens to the path (renames, a symlink swapped onto it): a directory
// reached through it is always the handle's, so it stays as safe as the check it was opened with.
// Bounded (least recently used closed first); a descriptor in use (pinned) is never closed, and
// every use is synchronous, so none is closed while a system call still needs its number. Only for
// an export nothing else changes (the proxy's local shadow): a directory moved out of the export
// behind the server's back would stay reachable through its descriptor.
// A held directory's attributes are kept too, as the last fstat of its descriptor found them: the
// server refreshes them after every change it makes in the directory (the fstat for the reply's
// post-op attributes) and forgets them when something else may have changed them (a listing read
// its atime, a rename its "..", a scan every atime), so resolving its handle needs no system call.
import type { BigIntStats } from 'node:fs';
import { closeQuietly } from './close-quietly.js';

/** Directory descriptors kept by default. */
export const DEFAULT_HELD_DIRS = 64;

interface Held {
  fd: number;
  /** The directory's attributes as last read through `fd`, while nothing may have changed them since. */
  stat: BigIntStats | undefined;
  pins: number;
  /** Dropped while pinned: closed when the last pin ends. */
  dropped: boolean;
}

export class HeldDirs {
  private readonly held = new Map<string, Held>();

  constructor(private readonly max = DEFAULT_HELD_DIRS) {}

  /** The descriptor kept for `key`, or undefined. */
  fdOf(key: string): number | undefined {
    return this.held.get(key)?.fd;
  }

  /** Keeps `fd` (checked to be the directory `key` names) unless one is kept already; false: the caller closes it. */
  keep(key: string, fd: number): boolean {
    if (this.held.has(key)) return false;
    this.held.set(key, { fd, stat: undefined, pins: 0, dropped: false });
    for (const [k, h] of this.held) {
      if (this.held.size <= this.max) break;
      if (h.pins === 0 && k !== key) this.drop(k);
    }
    return true;
  }

  /** The kept attributes of `key`'s directory (see the header), or undefined. */
  statOf(key: string): BigIntStats | undefined {
    return this.held.get(key)?.stat;
  }

  /** Keeps `st`, just read through `key`'s descriptor, as its directory's attributes. */
  noteStat(key: string, st: BigIntStats): void {
    const h = this.held.get(key);
    if (h) h.stat = st;
  }

  /** Forgets the kept attributes of `key` (something may have changed them). */
  forgetStat(key: string): void {
    const h = this.held.get(key);
    if (h) h.stat = undefined;
  }

  forgetAllStats(): void {
    for (const h of this.held.values()) h.stat = undefined;
  }

  /**
   * Runs `fn(arg)` with `key`'s descriptor kept open throughout (a nested keep cannot close it).
   * The argument is passed, not captured, so the caller makes no closure per call.
   */
  pinned<A, T>(key: string, fn: (arg: A) => T, arg: A): T {
    const h = this.held.get(key);
    if (!h) return fn(arg);
    h.pins++;
    // Most recently used last.
    this.held.delete(key);
    this.held.set(key, h);
    try {
      return fn(arg);
    } finally {
      h.pins--;
      if (h.pins === 0 && h.dropped) closeQuietly(h.fd);
    }
  }

  /** Closes `key`'s descriptor (its directory was removed, or its descriptor no longer checks out). */
  drop(key: string): void {
    const h = this.held.get(key);
    if (!h) return;
    this.held.delete(key);
    if (h.pins === 0) closeQuietly(h.fd);
    else h.dropped = true;
  }

  get size(): number {
    return this.held.size;
  }

  closeAll(): void {
    for (const k of [...this.held.keys()]) this.drop(k);
  }
}
