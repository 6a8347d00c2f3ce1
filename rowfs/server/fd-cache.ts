// Open file descriptors kept per file (by device:inode) so READ/WRITE do not open and close the
// file for each call; bounded LRU with reference counts, so an evicted descriptor is closed only
// after its last user is done. A descriptor follows the inode, so renames do not affect it.
import { open, type FileHandle as FsFileHandle } from 'node:fs/promises';
import { constants } from 'node:fs';

/** Default number of descriptors kept open. */
export const DEFAULT_MAX_OPEN_FILES = 128;

interface Entry {
  fd: Promise<FsFileHandle>;
  users: number;
  evicted: boolean;
}

export class FdCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly writable: boolean,
    private readonly maxOpen = DEFAULT_MAX_OPEN_FILES,
  ) {}

  /** Runs `fn` with a descriptor for the regular file at `path` (identified by `key`), opened without following symlinks. */
  async withFd<T>(key: string, path: string, fn: (fd: FsFileHandle) => Promise<T>): Promise<T> {
    let e = this.entries.get(key);
    if (e) {
      this.entries.delete(key);
      this.entries.set(key, e); // most recently used last
    } else {
      const flags = (this.writable ? constants.O_RDWR : constants.O_RDONLY) | constants.O_NOFOLLOW | constants.O_NONBLOCK;
      e = { fd: open(path, flags), users: 0, evicted: false };
      this.entries.set(key, e);
      this.evictOverflow();
    }
    const entry = e;
    entry.users++;
    try {
      const fd = await entry.fd;
      return await fn(fd);
    } catch (err) {
      if (this.entries.get(key) === entry) this.entries.delete(key);
      entry.evicted = true;
      throw err;
    } finally {
      entry.users--;
      if (entry.evicted && entry.users === 0) closeQuietly(entry);
    }
  }

  private evictOverflow(): void {
    while (this.entries.size > this.maxOpen) {
      const [oldKey, old] = this.entries.entries().next().value as [string, Entry];
      this.entries.delete(oldKey);
      old.evicted = true;
      if (old.users === 0) closeQuietly(old);
    }
  }

  /** Forgets a descriptor (e.g. after the file was removed). */
  drop(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    e.evicted = true;
    if (e.users === 0) closeQuietly(e);
  }

  async closeAll(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((e) => e.fd.then((fd) => fd.close()).catch(() => undefined)));
  }
}

function closeQuietly(e: Entry): void {
  e.fd.then((fd) => fd.close()).catch(() => undefined);
}
