// Open file descriptors kept per file (by device:inode) so READ/WRITE do not open and close the
// file for each call; bounded LRU with reference counts, so an evicted descriptor is closed only
// after its last user is done. A descriptor follows the inode, so renames do not affect it.
// A descriptor is kept only for the file its key names: the path was checked when the handle was
// resolved, but a client that may rename could have put a symlink on it since (path races), so
// the opened file's device and inode are compared with the key before anything reads or writes.
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

  /**
   * Runs `fn` with a descriptor for the regular file at `path` (identified by `fileKey`), opened
   * without following symlinks, for reading or for writing (separate descriptors, so a file we
   * may only read is still readable when the server is not root).
   */
  async withFd<T>(fileKey: string, path: string, forWrite: boolean, fn: (fd: FsFileHandle) => Promise<T>): Promise<T> {
    if (forWrite && !this.writable) throw Object.assign(new Error('read-only export'), { code: 'EROFS' });
    const key = `${fileKey}:${forWrite ? 'w' : 'r'}`;
    let e = this.entries.get(key);
    if (e) {
      this.entries.delete(key);
      this.entries.set(key, e); // most recently used last
    } else {
      const flags = (forWrite ? constants.O_WRONLY : constants.O_RDONLY) | constants.O_NOFOLLOW | constants.O_NONBLOCK;
      e = { fd: openSame(path, flags, fileKey), users: 0, evicted: false };
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

  /** Forgets the descriptors of a file (e.g. after it was removed). */
  drop(fileKey: string): void {
    for (const key of [`${fileKey}:r`, `${fileKey}:w`]) {
      const e = this.entries.get(key);
      if (!e) continue;
      this.entries.delete(key);
      e.evicted = true;
      if (e.users === 0) closeQuietly(e);
    }
  }

  async closeAll(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((e) => e.fd.then((fd) => fd.close()).catch(() => undefined)));
  }
}

/** Opens `path`, and fails with ESTALE (closing it) unless it is the file `fileKey` ("dev:ino") names. */
async function openSame(path: string, flags: number, fileKey: string): Promise<FsFileHandle> {
  const fd = await open(path, flags);
  try {
    const st = await fd.stat({ bigint: true });
    if (`${st.dev}:${st.ino}` === fileKey) return fd;
  } catch {
    /* fall through: not usable */
  }
  await fd.close().catch(() => undefined);
  throw Object.assign(new Error(`${path} is no longer the file its handle names`), { code: 'ESTALE' });
}

function closeQuietly(e: Entry): void {
  e.fd.then((fd) => fd.close()).catch(() => undefined);
}
