// The exported directory as the procedures reach it: handles resolved to paths inside the export
// (or STALE/BADHANDLE) before anything touches the disk, and a resolved path used only through a
// descriptor checked to be the handle's object (inDir, atObject, FdCache): a client that may
// rename could otherwise swap a directory on it for a symlink to the outside between resolution
// and use. Symlinks are never followed (lstat, O_NOFOLLOW).
import { constants, type BigIntStats } from 'node:fs';
import { lstat, open } from './inline-fs.js';
import { join } from 'node:path';
import { componentFault, isDotName } from '../nfs3/names.js';
import { Nfs3Status, type FileHandle, type WccData } from '../nfs3/types.js';
import { fattrOf, statusOfError, wccAttrOf } from './attributes.js';
import { FdCache } from './fd-cache.js';
import { decodeHandle, encodeHandle, fileIdOf, HandleTable, type Resolved } from './file-handles.js';

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
  private rootStat!: BigIntStats;

  constructor(
    readonly root: string,
    readonly readOnly: boolean,
    now: () => number,
    maxOpenFiles: number | undefined,
  ) {
    this.table = new HandleTable(root, now);
    this.fds = new FdCache(!readOnly, maxOpenFiles);
  }

  async init(): Promise<void> {
    this.rootStat = await this.table.init();
    if (!this.rootStat.isDirectory()) throw new Error(`${this.root} is not a directory`);
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
      if (!st.isDirectory()) return Nfs3Status.NOTDIR;
      this.table.remember(parent, c, st);
      parent = st;
    }
    return encodeHandle(fileIdOf(parent));
  }

  async close(): Promise<void> {
    await this.fds.closeAll();
  }

  async resolve(fh: FileHandle): Promise<Resolved | Fail> {
    const id = decodeHandle(fh);
    if (!id) return { status: Nfs3Status.BADHANDLE };
    const r = await this.table.resolve(id);
    return r ?? { status: Nfs3Status.STALE };
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

  /**
   * Runs `fn` with a path naming object `f` itself, like inDir (`viaFd` true: calls that follow
   * symlinks act on `f`). A symlink has no such descriptor: it gets `f.path` (`viaFd` false), so
   * a raced SETATTR could change the owner or times of a symlink elsewhere (docs/security.md).
   */
  async atObject<T>(f: Resolved, fn: (path: string, viaFd: boolean) => Promise<T>): Promise<T> {
    if (f.stat.isSymbolicLink()) return fn(f.path, false);
    return throughDescriptor(f, 0, (path) => fn(path, true));
  }

  async attrsOf(path: string): Promise<BigIntStats | undefined> {
    try {
      return await lstat(path, { bigint: true });
    } catch {
      return undefined;
    }
  }

  async wcc(before: BigIntStats, path: string): Promise<WccData> {
    const after = await this.attrsOf(path);
    return after ? { before: wccAttrOf(before), after: fattrOf(after) } : { before: wccAttrOf(before) };
  }

  /** The object's key in the descriptor cache and the directory snapshots. */
  key(st: BigIntStats): string {
    return `${st.dev}:${st.ino}`;
  }
}

/** Linux O_PATH: a descriptor that names a file without opening it for I/O (not in fs.constants). */
const O_PATH = 0o10000000;

/**
 * Opens `r.path` (O_PATH, O_NOFOLLOW and `flags`), fails with ESTALE unless it is the file `r.stat`
 * describes (device and inode), and runs `fn` with the descriptor's /proc/PID/fd/N path.
 */
async function throughDescriptor<T>(r: Resolved, flags: number, fn: (path: string) => Promise<T>): Promise<T> {
  const fh = await open(r.path, O_PATH | constants.O_NOFOLLOW | flags);
  try {
    const now = await fh.stat({ bigint: true });
    if (now.dev !== r.stat.dev || now.ino !== r.stat.ino) throw Object.assign(new Error('no longer the file its handle names'), { code: 'ESTALE' });
    return await fn(`/proc/${process.pid}/fd/${fh.fd}`);
  } finally {
    await fh.close();
  }
}
