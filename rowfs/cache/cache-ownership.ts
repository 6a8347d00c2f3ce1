// Who holds a block cache directory, and whether its last holder closed it. The cache syncs
// neither its data files nor its index while it runs (it can always be fetched again), so:
// - one process at a time (a lock file, lib/state-lock.ts): two holders would each index blocks
//   the other writes, and one's clean close would vouch for the other's unsynced writes;
// - while open, <dir>/open-boot holds the machine's boot id (written and synced first). A process
//   crash leaves it with this boot's id: the page cache still holds every write, nothing is lost.
//   Found with another boot's id, the machine went down with the cache open, and an index page may
//   name data that never reached the disk (a hole, read back as zeros): the cache must start empty.
// - a clean close syncs the index and the data files written since the open, then removes the mark.
import { closeSync, constants, existsSync, fsyncSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { join } from 'node:path';
import { takeStateLock, type StateLock } from '../../lib/state-lock.js';

const MARK_FILE = 'open-boot';
const LOCK_FILE = 'cache.lock';
/** Data files synced at once on close. */
const SYNCS_IN_FLIGHT = 16;

/** This boot of the machine (Linux: a random id per boot); '' where the kernel does not say. */
export function currentBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

export class CacheOwnership {
  private constructor(
    private readonly dir: string,
    private readonly lock: StateLock,
  ) {}

  /**
   * Takes `dir` (which must exist) for this process, throwing StateLockError when another holds
   * it; `crashed` when the machine went down while it was open (with no boot id to compare, any
   * mark left behind counts as that).
   */
  static take(dir: string, bootId: string): { ownership: CacheOwnership; crashed: boolean } {
    const lock = takeStateLock(join(dir, LOCK_FILE));
    try {
      const mark = join(dir, MARK_FILE);
      const leftOpenBy = existsSync(mark) ? readFileSync(mark, 'utf8') : undefined;
      const crashed = leftOpenBy !== undefined && (leftOpenBy !== bootId || bootId === '');
      writeSynced(dir, MARK_FILE, bootId);
      return { ownership: new CacheOwnership(dir, lock), crashed };
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  /** Lets the directory go after an open that failed (the mark stays: it names this boot). */
  abandon(): void {
    this.lock.release();
  }

  /**
   * A clean close: `paths` (files and directories, whose files are synced) reach the disk, then
   * the mark goes, then the lock. A sync that fails keeps the mark: the next open starts empty
   * if the machine goes down before the data does.
   */
  async release(paths: Iterable<string>): Promise<void> {
    try {
      const files = [...paths].flatMap(filesAt);
      for (let i = 0; i < files.length; i += SYNCS_IN_FLIGHT) await Promise.all(files.slice(i, i + SYNCS_IN_FLIGHT).map(syncFile));
      rmSync(join(this.dir, MARK_FILE), { force: true });
      syncDirectory(this.dir);
    } finally {
      this.lock.release();
    }
  }
}

/** The regular files at `path`: itself, or those directly inside it; none when it is gone. */
function filesAt(path: string): string[] {
  try {
    return statSync(path).isDirectory() ? readdirSync(path, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(path, e.name)) : [path];
  } catch {
    return [];
  }
}

async function syncFile(path: string): Promise<void> {
  const fh = await openFile(path, constants.O_RDONLY).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined; // removed since (a file the cache dropped)
    throw e;
  });
  if (!fh) return;
  try {
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

/** Writes `text` to dir/name and syncs the file and the directory, so it is there after a crash. */
function writeSynced(dir: string, name: string, text: string): void {
  const fd = openSync(join(dir, name), 'w', 0o644);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  syncDirectory(dir);
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
