// The exported directory as the procedures reach it: handles resolved to paths inside the export
// (or STALE/BADHANDLE) before anything touches the disk, and a resolved path used only through a
// descriptor checked to be the handle's object (inDirNow, atObjectNow, FdCache): a client that may
// rename could otherwise swap a directory on it for a symlink to the outside between resolution
// and use. Symlinks are never followed (lstat, O_NOFOLLOW). The procedures' common cases run
// synchronously (resolveNow, inDirNow, atObjectNow: each system call takes microseconds on a
// local file system, and a promise per step cost more than the step); only a handle the table
// must scan for, and the calls that read data or whole directories, take the asynchronous path.
import { closeSync, constants, fstatSync, lstatSync, openSync, type BigIntStats } from 'node:fs';
import { lstat } from './inline-fs.js';
import { join } from 'node:path';
import { componentFault, isDotName } from '../nfs3/names.js';
import { Nfs3Status, type FileHandle, type WccData } from '../nfs3/types.js';
import { fattrOf, statusOfError, wccOf, isSymlink, isDirectory } from './attributes.js';
import { FdCache } from './fd-cache.js';
import { decodeHandle, encodeHandle, fileIdOf, HandleTable, sameFile, type Attempt, type FileId, type Resolved } from './file-handles.js';
import { HeldDirs } from './held-dirs.js';
import { RecentFiles } from './recent-files.js';

/** A failure reply's status. */
export type Fail = { status: Exclude<Nfs3Status, Nfs3Status.OK> };

export const isFail = (x: unknown): x is Fail => typeof x === 'object' && x !== null && 'status' in x && !('path' in x);

/** A name usable as one new or existing entry inside the export (not "." or ".."), or the status to answer. */
export function checkName(name: string): Nfs3Status | undefined {
  return isDotName(name) ? Nfs3Status.INVAL : componentFault(name);
}

export class ExportTree {
  readonly table: HandleTable;
  readonly fds: FdCache;
  /** Held directory descriptors (held-dirs.ts), when the export's owner asked for them. */
  private readonly dirs: HeldDirs | undefined;
  /** Write descriptors of files just created (recent-files.ts), with held directories. */
  private readonly recent: RecentFiles | undefined;
  private rootStat!: BigIntStats;
  /** table.scanEdges when the held directories' kept attributes were last checked against it. */
  private scanEdgesSeen = 0;

  constructor(
    readonly root: string,
    readonly readOnly: boolean,
    now: () => number,
    maxOpenFiles: number | undefined,
    heldDirs = 0,
  ) {
    this.table = new HandleTable(root, now);
    this.fds = new FdCache(!readOnly, maxOpenFiles);
    this.dirs = heldDirs > 0 && !readOnly ? new HeldDirs(heldDirs) : undefined;
    this.recent = this.dirs ? new RecentFiles() : undefined;
  }

  async init(): Promise<void> {
    this.rootStat = await this.table.init();
    if (!isDirectory(this.rootStat)) throw new Error(`${this.root} is not a directory`);
  }

  rootHandle(): FileHandle {
    return encodeHandle(fileIdOf(this.rootStat));
  }

  /** Handle of a directory inside the export given by its components (for MNT of a subdirectory). */
  async handleOfSubdir(components: string[]): Promise<FileHandle | Nfs3Status> {
    let parent = await lstat(this.root, { bigint: true });
    let path = this.root;
    for (const c of components) {
      const bad = checkName(c);
      if (bad !== undefined) return bad;
      path = join(path, c);
      let st: BigIntStats;
      try {
        st = await lstat(path, { bigint: true });
      } catch (e) {
        return statusOfError(e);
      }
      if (!isDirectory(st)) return Nfs3Status.NOTDIR;
      this.table.remember(parent, c, st);
      parent = st;
    }
    return encodeHandle(fileIdOf(parent));
  }

  async close(): Promise<void> {
    this.dirs?.closeAll();
    this.recent?.closeAll();
    await this.fds.closeAll();
  }

  async resolve(fh: FileHandle): Promise<Resolved | Fail> {
    const r = this.look(fh);
    if (!Array.isArray(r)) return r;
    return (await this.table.resolveAfter(r[0], r[1])) ?? { status: Nfs3Status.STALE };
  }

  /** Resolves `fh` on this thread, or undefined when the table must scan for it (then `resolve`). */
  resolveNow(fh: FileHandle): Resolved | Fail | undefined {
    const r = this.look(fh);
    return Array.isArray(r) ? undefined : r;
  }

  /**
   * One look at `fh` without scanning: its file, a failure, or the table's attempt to go on from.
   * A directory with a held descriptor is resolved by an fstat of it: still the handle's file
   * (birth time too) and not removed.
   */
  private look(fh: FileHandle): Resolved | Fail | [FileId, Exclude<Attempt, Resolved>] {
    const id = decodeHandle(fh);
    if (!id) return { status: Nfs3Status.BADHANDLE };
    const key = `${id.dev}:${id.ino}`;
    const fd = this.dirs?.fdOf(key);
    if (fd !== undefined) {
      const dirs = this.dirs!;
      if (this.table.scanEdges !== this.scanEdgesSeen) {
        dirs.forgetAllStats(); // a scan read every directory: their atimes changed
        this.scanEdgesSeen = this.table.scanEdges;
      }
      const path = this.table.pathOfKey(key);
      let st = dirs.statOf(key);
      if (!st) {
        try {
          st = fstatSync(fd, { bigint: true });
          dirs.noteStat(key, st);
        } catch {
          /* dropped below */
        }
      }
      if (path !== undefined && st && sameFile(id, st) && st.nlink > 0n) return { path, stat: st, fd };
      dirs.drop(key);
    }
    const r = this.table.tryResolve(id);
    if (typeof r === 'object') return r;
    return r === 'replaced' ? { status: Nfs3Status.STALE } : [id, r];
  }

  /** The table and the held descriptors forget the object `st` (removed, or replaced by a rename). */
  forget(st: BigIntStats): void {
    this.table.forget(st);
    this.dirs?.drop(this.key(st));
    this.recent?.drop(this.key(st));
    this.fds.drop(this.key(st));
  }

  /**
   * Like inDir, synchronously: `fn` gets a path naming directory `d` itself, through its held
   * descriptor or one opened (O_PATH) and checked now, then held when the export holds them.
   */
  inDirNow<T>(d: Resolved, fn: (dir: string) => T): T {
    if (this.readOnly) return fn(d.path);
    const key = this.key(d.stat);
    if (d.fd !== undefined && this.dirs?.fdOf(key) === d.fd) return this.dirs.pinned(key, fn, procPath(d.fd));
    const fd = openChecked(d, constants.O_DIRECTORY);
    const held = this.dirs?.keep(key, fd) ?? false;
    if (held) return this.dirs!.pinned(key, fn, procPath(fd));
    try {
      return fn(procPath(fd));
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Runs `fn` with a path naming object `f` itself, like inDirNow (`viaFd` true: calls that follow
   * symlinks act on `f`; a directory goes through inDirNow, so its held descriptor serves). A
   * symlink has no such descriptor: it gets `f.path` (`viaFd` false), so a raced SETATTR could
   * change the owner or times of a symlink elsewhere (docs/security.md). A regular file's `fd` (O_PATH)
   * is given too: fstat reads its attributes without a path.
   */
  atObjectNow<T>(f: Resolved, fn: (path: string, viaFd: boolean, fd?: number) => T): T {
    if (isSymlink(f.stat)) return fn(f.path, false);
    if (isDirectory(f.stat)) return this.inDirNow(f, (path) => fn(path, true));
    const fd = openChecked(f, 0);
    try {
      return fn(procPath(fd), true, fd);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Keeps the write descriptor `fd` of regular file `st`, just created (recentFile), when this
   * export holds descriptors; else closes it.
   */
  keepCreated(st: BigIntStats, fd: number): void {
    if (this.recent) this.recent.keep(this.key(st), fd);
    else closeSync(fd);
  }

  /**
   * The kept write descriptor of the file `fh` names and its attributes now, when one is kept and
   * still names that file, linked (otherwise it is closed, and the caller takes the path).
   */
  recentFile(fh: FileHandle): { fd: number; stat: BigIntStats } | undefined {
    if (!this.recent || this.recent.size === 0) return undefined;
    const id = decodeHandle(fh);
    if (!id) return undefined;
    const key = `${id.dev}:${id.ino}`;
    const fd = this.recent.fdOf(key);
    if (fd === undefined) return undefined;
    try {
      const stat = fstatSync(fd, { bigint: true });
      if (sameFile(id, stat) && stat.nlink > 0n) return { fd, stat };
    } catch {
      /* dropped below */
    }
    this.recent.drop(key);
    return undefined;
  }

  /** Current attributes of `path` (not following a last symlink), or undefined. */
  attrsOfNow(path: string): BigIntStats | undefined {
    try {
      return lstatSync(path, { bigint: true });
    } catch {
      return undefined;
    }
  }

  /** Weak cache consistency data of `d` (attributes `before`, now), synchronously (through its held descriptor if any). */
  wccNow(before: BigIntStats, d: Resolved): WccData {
    let after: BigIntStats | undefined;
    const key = this.key(d.stat);
    if (d.fd !== undefined && this.dirs?.fdOf(key) === d.fd) {
      try {
        after = fstatSync(d.fd, { bigint: true });
        this.dirs.noteStat(key, after); // the directory as this change left it (held-dirs.ts)
      } catch {
        after = undefined;
        this.dirs.forgetStat(key);
      }
    } else after = this.attrsOfNow(d.path);
    return wccOf(before, after);
  }

  /**
   * Runs `fn` with a path naming directory `d` itself whatever has happened to `d.path` since it
   * was resolved: /proc/PID/fd/N of `d` opened (O_PATH: no permission needed, nothing read) and
   * checked by device and inode (STALE otherwise). Names joined to it are looked up in `d`.
   * /proc/PID rather than /proc/self: mknod(1), a child process, uses it too. A read-only export
   * uses `d.path` as it is: its clients cannot rename anything (no race to win), and LOOKUP and
   * READDIR stay one system call cheaper.
   */
  async inDir<T>(d: Resolved, fn: (dir: string) => Promise<T>): Promise<T> {
    if (this.readOnly) return fn(d.path);
    return throughDescriptor(d, constants.O_DIRECTORY, fn);
  }

  async wcc(before: BigIntStats, path: string): Promise<WccData> {
    const after = this.attrsOfNow(path);
    return wccOf(before, after);
  }

  /**
   * Something other than a change with post-op attributes may have changed directory `st`'s
   * attributes (a listing its atime, a rename its ".."): its kept ones are not used again.
   */
  touched(st: BigIntStats): void {
    this.dirs?.forgetStat(this.key(st));
  }

  /** The object's key in the descriptor cache and the directory snapshots. */
  key(st: BigIntStats): string {
    return `${st.dev}:${st.ino}`;
  }
}

/** Linux O_PATH: a descriptor that names a file without opening it for I/O (not in fs.constants). */
const O_PATH = 0o10000000;

/** The path through which the system calls reach descriptor `fd`'s file (/proc/PID: see inDir). */
const procPath = (fd: number) => `/proc/${process.pid}/fd/${fd}`;

/** Like throughDescriptor's open and check, synchronously: the descriptor, which the caller closes. */
function openChecked(r: Resolved, flags: number): number {
  const fd = openSync(r.path, O_PATH | constants.O_NOFOLLOW | flags);
  let now: BigIntStats;
  try {
    now = fstatSync(fd, { bigint: true });
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  if (now.dev !== r.stat.dev || now.ino !== r.stat.ino) {
    closeSync(fd);
    throw Object.assign(new Error('no longer the file its handle names'), { code: 'ESTALE' });
  }
  return fd;
}

/**
 * Opens `r.path` (O_PATH, O_NOFOLLOW and `flags`), fails with ESTALE unless it is the file `r.stat`
 * describes (device and inode), and runs `fn` with the descriptor's /proc/PID/fd/N path.
 */
async function throughDescriptor<T>(r: Resolved, flags: number, fn: (path: string) => Promise<T>): Promise<T> {
  const fd = openChecked(r, flags);
  try {
    return await fn(procPath(fd));
  } finally {
    closeSync(fd);
  }
}
