// Write descriptors of the regular files this server has just created, a few kept open (issue 15):
// a client's SETATTR right after its create (a kernel client sends one after every exclusive
// create: the mode, and times over the verifier) then goes through the descriptor, fstat, fchmod,
// futimes, fstat, where the path took an lstat walk, an O_PATH open and check, calls through
// /proc and a close; the create saves its close. A descriptor names its inode whatever happens to
// the path, so using it is as safe as the create that opened it. Every use is synchronous (no
// close while a system call still needs the number); the oldest is closed first, after the reply
// of the create that let it go.
import { closeQuietly, closeSoon } from './close-quietly.js';

/** Descriptors kept by default. */
export const DEFAULT_RECENT_FILES = 16;

export class RecentFiles {
  private readonly fds = new Map<string, number>();

  constructor(private readonly max = DEFAULT_RECENT_FILES) {}

  /** Keeps `fd` of the file `key` (dev:ino); closes it instead when one is kept for that file already. */
  keep(key: string, fd: number): void {
    if (this.fds.has(key)) {
      closeQuietly(fd);
      return;
    }
    this.fds.set(key, fd);
    while (this.fds.size > this.max) {
      const oldest = this.fds.keys().next().value as string;
      closeSoon(this.fds.get(oldest)!);
      this.fds.delete(oldest);
    }
  }

  fdOf(key: string): number | undefined {
    return this.fds.get(key);
  }

  /** Closes the descriptor of `key`, if one is kept (removed, replaced, or no longer checking out). */
  drop(key: string): void {
    const fd = this.fds.get(key);
    if (fd === undefined) return;
    this.fds.delete(key);
    closeQuietly(fd);
  }

  get size(): number {
    return this.fds.size;
  }

  closeAll(): void {
    for (const k of [...this.fds.keys()]) this.drop(k);
  }
}
