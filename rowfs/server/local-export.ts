// The NFSv3 procedures served from a local directory (RFC 1813 s3.3). Every handle is resolved to
// a path inside the export (or STALE/BADHANDLE) before anything touches the disk; names are
// checked so no component can climb out ("..", "/", NUL); symlinks are never followed (lstat,
// O_NOFOLLOW, lchown, lutimes). A resolved path is used only through a descriptor checked to be
// the handle's object (inDir, atObject, FdCache): a client that may rename could otherwise swap a
// directory on it for a symlink to the outside between resolution and use. The server process performs the operations itself: callers'
// AUTH_SYS uid/gid decide the owner of new objects (when running as root) and the ACCESS answer.
import { execFile } from 'node:child_process';
import { constants, type BigIntStats } from 'node:fs';
import { readdir } from 'node:fs/promises';
import {
  chmod,
  chown,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  open,
  readlink,
  rename,
  rmdir,
  stat,
  statfs,
  symlink,
  truncate,
  unlink,
  utimes,
} from './inline-fs.js';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import type { RpcCallContext } from '../rpc/server.js';
import type { Nfs3Handlers } from '../nfs3/program.js';
import {
  ACCESS3_DELETE,
  ACCESS3_EXECUTE,
  ACCESS3_EXTEND,
  ACCESS3_LOOKUP,
  ACCESS3_MODIFY,
  ACCESS3_READ,
  CreateMode,
  FSF3_CANSETTIME,
  FSF3_HOMOGENEOUS,
  FSF3_LINK,
  FSF3_SYMLINK,
  Ftype3,
  Nfs3Status,
  StableHow,
  TimeHow,
  type AccessArgs,
  type AccessRes,
  type CommitArgs,
  type CommitRes,
  type CreateArgs,
  type DirOpRes,
  type Entry3,
  type EntryPlus3,
  type FileHandle,
  type FsinfoArgs,
  type FsinfoRes,
  type FsstatArgs,
  type FsstatRes,
  type GetattrArgs,
  type GetattrRes,
  type LinkArgs,
  type LinkRes,
  type LookupArgs,
  type LookupRes,
  type MkdirArgs,
  type MknodArgs,
  type PathconfArgs,
  type PathconfRes,
  type ReadArgs,
  type ReaddirArgs,
  type ReaddirplusArgs,
  type ReaddirplusRes,
  type ReaddirRes,
  type ReadlinkArgs,
  type ReadlinkRes,
  type ReadRes,
  type RemoveArgs,
  type RemoveRes,
  type RenameArgs,
  type RenameRes,
  type RmdirArgs,
  type Sattr3,
  type SetattrArgs,
  type SetattrRes,
  type SymlinkArgs,
  type WccData,
  type WriteArgs,
  type WriteRes,
} from '../nfs3/types.js';
import { componentFault, isDotName, NAME_MAX_BYTES } from '../nfs3/names.js';
import { MAX_FILE_BYTES, rangeFault } from '../nfs3/ranges.js';
import { fattrOf, statusOfError, wccAttrOf } from './attributes.js';
import { FdCache } from './fd-cache.js';
import { decodeHandle, encodeHandle, fileIdOf, HandleTable, type Resolved } from './file-handles.js';
import { DEFAULT_FS_CONCURRENCY, mapLimit } from './parallel.js';
import { byCookie, DIR_COOKIE_VERF, firstAfter, nameCookie, pageEnd, resumeCookie, type CookieEntry } from '../nfs3/dir-cookies.js';

const execFileP = promisify(execFile);

/** Largest READ/WRITE transfer over TCP, and over UDP (one datagram). */
export const MAX_TRANSFER_BYTES_TCP = 1024 * 1024;
export const MAX_TRANSFER_BYTES_UDP = 32 * 1024;
/** Preferred READDIR size. */
export const DIR_PREFERRED_BYTES = 64 * 1024;
export { NAME_MAX_BYTES } from '../nfs3/names.js';
/** Directory listings kept for paging with cookies. */
const MAX_DIR_SNAPSHOTS = 32;
/** Names kept over all snapshots (the newest is always kept, so one huge directory pages in O(page)). */
const MAX_SNAPSHOT_ENTRIES = 200_000;
/**
 * A snapshot is trusted as current only while the directory's mtime is unchanged and it was read
 * at least this long after that mtime: mtimes are as coarse as the file system's clock (a kernel
 * tick, 1 s or 2 s on some), so a change in the same tick as the read leaves the mtime unchanged
 * (git's "racy" index entries, the same rule).
 */
const RACY_MTIME_MS = 2_000;
/** Rereads of a directory for one page whose entries vanished meanwhile. */
const PAGE_ATTEMPTS = 3;
/** Encoded sizes used to fill READDIR replies up to the client's count (RFC 1813 s3.3.16). */
const READDIR_HEADER_BYTES = 4 + 4 + 84 + 8 + 4 + 4; // status, post_op_attr, verifier, end of list, eof
const ENTRY_PLUS_EXTRA_BYTES = 4 + 84 + 4 + 4 + 32; // post_op_attr + post_op_fh3 with our handle

export interface LocalExportOptions {
  /** Directory to serve (absolute). */
  root: string;
  readOnly?: boolean;
  /** Monotonic ms clock (scan throttling). */
  now?: () => number;
  /** Wall clock in ms (SET_TO_SERVER_TIME). */
  wallNow?: () => number;
  /** 8 random bytes for the write verifier; new on every start, so clients resend uncommitted writes. */
  writeVerf?: Uint8Array;
  maxOpenFiles?: number;
}

/** A directory's names in cookie order (../nfs3/dir-cookies.ts), as read at `mtimeNs`. */
interface DirSnapshot {
  mtimeNs: bigint;
  readAtMs: number;
  entries: CookieEntry[];
}

/** The entries of one READDIR/READDIRPLUS page with fresh attributes, and whether it ends the directory. */
interface DirPage {
  entries: Array<{ name: string; cookie: number; stat: BigIntStats }>;
  eof: boolean;
}

type Fail = { status: Exclude<Nfs3Status, Nfs3Status.OK> };

const isFail = (x: unknown): x is Fail => typeof x === 'object' && x !== null && 'status' in x && !('path' in x);

export class LocalExport implements Nfs3Handlers {
  readonly writeVerf: Uint8Array;
  readonly readOnly: boolean;
  private readonly table: HandleTable;
  private readonly fds: FdCache;
  private readonly snapshots = new Map<string, DirSnapshot>();
  private snapshotEntries = 0;
  private readonly wallNow: () => number;
  private rootStat!: BigIntStats;

  constructor(private readonly o: LocalExportOptions) {
    this.readOnly = !!o.readOnly;
    this.writeVerf = o.writeVerf ?? randomBytes(8);
    this.table = new HandleTable(o.root, o.now ?? (() => performance.now()));
    this.fds = new FdCache(!this.readOnly, o.maxOpenFiles);
    this.wallNow = o.wallNow ?? Date.now;
  }

  async init(): Promise<void> {
    this.rootStat = await this.table.init();
    if (!this.rootStat.isDirectory()) throw new Error(`${this.o.root} is not a directory`);
  }

  rootHandle(): FileHandle {
    return encodeHandle(fileIdOf(this.rootStat));
  }

  /** Handle of a directory inside the export given by its components (for MNT of a subdirectory). */
  async handleOfSubdir(components: string[]): Promise<FileHandle | Nfs3Status> {
    let parent = await lstat(this.o.root, { bigint: true });
    let path = this.o.root;
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

  // ---- helpers ----

  private async resolve(fh: FileHandle): Promise<Resolved | Fail> {
    const id = decodeHandle(fh);
    if (!id) return { status: Nfs3Status.BADHANDLE };
    const r = await this.table.resolve(id);
    return r ?? { status: Nfs3Status.STALE };
  }

  private async resolveDir(fh: FileHandle): Promise<Resolved | Fail> {
    const d = await this.resolve(fh);
    if (isFail(d)) return d;
    if (!d.stat.isDirectory()) return { status: Nfs3Status.NOTDIR };
    return d;
  }

  /**
   * Runs `fn` with a path naming directory `d` itself whatever has happened to `d.path` since it
   * was resolved: /proc/PID/fd/N of `d` opened (O_PATH: no permission needed, nothing read) and
   * checked by device and inode (STALE otherwise). Names joined to it are looked up in `d`.
   * /proc/PID rather than /proc/self: mknod(1), a child process, uses it too. A read-only export
   * uses `d.path` as it is: its clients cannot rename anything (no race to win), and LOOKUP and
   * READDIR stay one system call cheaper.
   */
  private async inDir<T>(d: Resolved, fn: (dir: string) => Promise<T>): Promise<T> {
    if (this.readOnly) return fn(d.path);
    return throughDescriptor(d, constants.O_DIRECTORY, fn);
  }

  /**
   * Runs `fn` with a path naming object `f` itself, like inDir (`viaFd` true: calls that follow
   * symlinks act on `f`). A symlink has no such descriptor: it gets `f.path` (`viaFd` false), so
   * a raced SETATTR could change the owner or times of a symlink elsewhere (docs/security.md).
   */
  private async atObject<T>(f: Resolved, fn: (path: string, viaFd: boolean) => Promise<T>): Promise<T> {
    if (f.stat.isSymbolicLink()) return fn(f.path, false);
    return throughDescriptor(f, 0, (path) => fn(path, true));
  }

  private async attrsOf(path: string): Promise<BigIntStats | undefined> {
    try {
      return await lstat(path, { bigint: true });
    } catch {
      return undefined;
    }
  }

  private async wcc(before: BigIntStats, path: string): Promise<WccData> {
    const after = await this.attrsOf(path);
    return after ? { before: wccAttrOf(before), after: fattrOf(after) } : { before: wccAttrOf(before) };
  }

  private key(st: BigIntStats): string {
    return `${st.dev}:${st.ino}`;
  }

  /** Owner for a new object: explicit attributes, else the caller's AUTH_SYS identity (only when we are root). */
  private async applyOwner(path: string, attrs: Sattr3, ctx: RpcCallContext): Promise<void> {
    if (process.getuid?.() !== 0) return;
    const uid = attrs.uid ?? ctx.authSys?.uid;
    const gid = attrs.gid ?? ctx.authSys?.gid;
    if (uid === undefined && gid === undefined) return;
    await lchown(path, uid ?? -1, gid ?? -1);
  }

  /** `viaFd`: `path` is a descriptor's /proc path (atObject), so the calls that follow symlinks are used. */
  private async applySattr(path: string, st: BigIntStats, a: Sattr3, viaFd = false): Promise<void> {
    if (a.size !== undefined) {
      if (!st.isFile()) throw Object.assign(new Error('size on non-file'), { code: st.isDirectory() ? 'EISDIR' : 'EINVAL' });
      if (a.size > BigInt(MAX_FILE_BYTES)) throw Object.assign(new Error('size'), { code: 'EFBIG' });
      await truncate(path, Number(a.size));
    }
    if (a.mode !== undefined && !st.isSymbolicLink()) await chmod(path, a.mode & 0o7777);
    if (a.uid !== undefined || a.gid !== undefined) await (viaFd ? chown : lchown)(path, a.uid ?? -1, a.gid ?? -1);
    if (a.atime || a.mtime) {
      const now = this.wallNow() / 1000;
      const cur = await (viaFd ? stat : lstat)(path, { bigint: true });
      const pick = (t: Sattr3['atime'], curNs: bigint) =>
        !t ? Number(curNs) / 1e9 : t.how === TimeHow.SET_TO_SERVER_TIME ? now : t.time.seconds + t.time.nseconds / 1e9;
      await (viaFd ? utimes : lutimes)(path, pick(a.atime, cur.atimeNs), pick(a.mtime, cur.mtimeNs));
    }
  }

  /** Shared tail of CREATE/MKDIR/SYMLINK/MKNOD: attributes and handle of the new object. */
  private async created(d: Resolved, name: string, path: string): Promise<DirOpRes> {
    const st = await lstat(path, { bigint: true });
    this.table.remember(d.stat, name, st);
    return { status: Nfs3Status.OK, obj: encodeHandle(fileIdOf(st)), objAttributes: fattrOf(st), dirWcc: await this.wcc(d.stat, d.path) };
  }

  private async dirOp(
    where: { dir: FileHandle; name: string },
    work: (d: Resolved, path: string) => Promise<DirOpRes>,
  ): Promise<DirOpRes> {
    const d = await this.resolveDir(where.dir);
    if (isFail(d)) return { status: d.status, dirWcc: {} };
    if (this.readOnly) return { status: Nfs3Status.ROFS, dirWcc: await this.wcc(d.stat, d.path) };
    const bad = checkName(where.name);
    if (bad !== undefined) {
      // "." and ".." always exist; other bad names (with "/" or NUL) are invalid.
      const status = where.name === '.' || where.name === '..' ? Nfs3Status.EXIST : bad;
      return { status: status as Fail['status'], dirWcc: await this.wcc(d.stat, d.path) };
    }
    try {
      return await this.inDir(d, (dir) => work(d, join(dir, where.name)));
    } catch (e) {
      return { status: statusOfError(e) as Fail['status'], dirWcc: await this.wcc(d.stat, d.path) };
    }
  }

  // ---- procedures ----

  NULL(): void {}

  async GETATTR(a: GetattrArgs): Promise<GetattrRes> {
    const f = await this.resolve(a.object);
    if (isFail(f)) return f;
    return { status: Nfs3Status.OK, objAttributes: fattrOf(f.stat) };
  }

  async SETATTR(a: SetattrArgs): Promise<SetattrRes> {
    const f = await this.resolve(a.object);
    if (isFail(f)) return { status: f.status, objWcc: {} };
    const before = f.stat;
    if (this.readOnly) return { status: Nfs3Status.ROFS, objWcc: await this.wcc(before, f.path) };
    if (a.guard) {
      const c = fattrOf(before).ctime;
      if (c.seconds !== a.guard.seconds || c.nseconds !== a.guard.nseconds) {
        return { status: Nfs3Status.NOT_SYNC, objWcc: await this.wcc(before, f.path) };
      }
    }
    try {
      await this.atObject(f, (path, viaFd) => this.applySattr(path, before, a.newAttributes, viaFd));
    } catch (e) {
      return { status: statusOfError(e) as Fail['status'], objWcc: await this.wcc(before, f.path) };
    }
    return { status: Nfs3Status.OK, objWcc: await this.wcc(before, f.path) };
  }

  async LOOKUP(a: LookupArgs): Promise<LookupRes> {
    const d = await this.resolve(a.what.dir);
    if (isFail(d)) return d;
    const dirAttributes = fattrOf(d.stat);
    if (!d.stat.isDirectory()) return { status: Nfs3Status.NOTDIR, dirAttributes };
    const name = a.what.name;
    // ".." never leaves the export: at the root it is the root itself.
    const own = name === '.' || (name === '..' && this.table.isRoot(d.stat));
    if (!own && name !== '..') {
      const bad = checkName(name);
      if (bad !== undefined) return { status: (bad === Nfs3Status.INVAL ? Nfs3Status.NOENT : bad) as Fail['status'], dirAttributes };
    }
    let st: BigIntStats;
    try {
      // `${dir}/..`, not join(): join would drop the descriptor's path lexically.
      st = own ? d.stat : await this.inDir(d, (dir) => lstat(name === '..' ? `${dir}/..` : join(dir, name), { bigint: true }));
    } catch (e) {
      return { status: statusOfError(e) as Fail['status'], dirAttributes };
    }
    if (name !== '.' && name !== '..') this.table.remember(d.stat, name, st);
    return { status: Nfs3Status.OK, object: encodeHandle(fileIdOf(st)), objAttributes: fattrOf(st), dirAttributes };
  }

  async ACCESS(a: AccessArgs, ctx: RpcCallContext): Promise<AccessRes> {
    const f = await this.resolve(a.object);
    if (isFail(f)) return f;
    const st = f.stat;
    const mode = Number(st.mode & 0o777n);
    const uid = ctx.authSys?.uid ?? 65534;
    const gids = ctx.authSys ? [ctx.authSys.gid, ...ctx.authSys.gids] : [65534];
    let bits: number;
    if (uid === 0) bits = 0o7 & ~(mode & 0o111 || st.isDirectory() ? 0 : 0o1);
    else if (BigInt(uid) === st.uid) bits = (mode >> 6) & 7;
    else if (gids.some((g) => BigInt(g) === st.gid)) bits = (mode >> 3) & 7;
    else bits = mode & 7;
    const r = bits & 4, w = bits & 2, x = bits & 1;
    let granted = 0;
    if (r) granted |= ACCESS3_READ;
    if (w) granted |= ACCESS3_MODIFY | ACCESS3_EXTEND;
    if (st.isDirectory()) {
      if (x) granted |= ACCESS3_LOOKUP;
      if (w) granted |= ACCESS3_DELETE;
    } else if (x) granted |= ACCESS3_EXECUTE;
    if (this.readOnly) granted &= ~(ACCESS3_MODIFY | ACCESS3_EXTEND | ACCESS3_DELETE);
    return { status: Nfs3Status.OK, objAttributes: fattrOf(st), access: granted & a.access };
  }

  async READLINK(a: ReadlinkArgs): Promise<ReadlinkRes> {
    const f = await this.resolve(a.symlink);
    if (isFail(f)) return f;
    if (!f.stat.isSymbolicLink()) return { status: Nfs3Status.INVAL, symlinkAttributes: fattrOf(f.stat) };
    try {
      return { status: Nfs3Status.OK, symlinkAttributes: fattrOf(f.stat), data: await readlink(f.path) };
    } catch (e) {
      return { status: statusOfError(e) as Fail['status'], symlinkAttributes: fattrOf(f.stat) };
    }
  }

  async READ(a: ReadArgs, ctx: RpcCallContext): Promise<ReadRes> {
    const f = await this.resolve(a.file);
    if (isFail(f)) return f;
    if (!f.stat.isFile()) return { status: f.stat.isDirectory() ? Nfs3Status.ISDIR : Nfs3Status.INVAL, fileAttributes: fattrOf(f.stat) };
    const max = ctx.transport === 'udp' ? MAX_TRANSFER_BYTES_UDP : MAX_TRANSFER_BYTES_TCP;
    const fault = rangeFault('READ', a.offset, Math.min(a.count, max));
    if (fault !== undefined) return { status: fault, fileAttributes: fattrOf(f.stat) };
    const count = Math.min(a.count, max, Number(f.stat.size - (a.offset < f.stat.size ? a.offset : f.stat.size)));
    if (a.offset >= f.stat.size || count === 0) {
      return { status: Nfs3Status.OK, fileAttributes: fattrOf(f.stat), count: 0, eof: a.offset >= f.stat.size, data: new Uint8Array(0) };
    }
    try {
      const buf = Buffer.allocUnsafe(count);
      const n = await this.fds.withFd(this.key(f.stat), f.path, false, async (fd) => (await fd.read(buf, 0, count, Number(a.offset))).bytesRead);
      const eof = a.offset + BigInt(n) >= f.stat.size;
      return { status: Nfs3Status.OK, fileAttributes: fattrOf(f.stat), count: n, eof, data: buf.subarray(0, n) };
    } catch (e) {
      return { status: statusOfError(e) as Fail['status'], fileAttributes: fattrOf(f.stat) };
    }
  }

  async WRITE(a: WriteArgs, ctx: RpcCallContext): Promise<WriteRes> {
    const f = await this.resolve(a.file);
    if (isFail(f)) return { status: f.status, fileWcc: {} };
    const before = f.stat;
    if (this.readOnly) return { status: Nfs3Status.ROFS, fileWcc: await this.wcc(before, f.path) };
    if (!f.stat.isFile()) return { status: f.stat.isDirectory() ? Nfs3Status.ISDIR : Nfs3Status.INVAL, fileWcc: await this.wcc(before, f.path) };
    const max = ctx.transport === 'udp' ? MAX_TRANSFER_BYTES_UDP : MAX_TRANSFER_BYTES_TCP;
    const len = Math.min(a.count, a.data.length, max);
    const fault = rangeFault('WRITE', a.offset, len);
    if (fault !== undefined) return { status: fault, fileWcc: await this.wcc(before, f.path) };
    try {
      const after = await this.fds.withFd(this.key(f.stat), f.path, true, async (fd) => {
        let done = 0;
        while (done < len) {
          const { bytesWritten } = await fd.write(a.data, done, len - done, Number(a.offset) + done);
          if (bytesWritten === 0) throw Object.assign(new Error('short write'), { code: 'EIO' });
          done += bytesWritten;
        }
        if (a.stable === StableHow.DATA_SYNC) await fd.datasync();
        else if (a.stable === StableHow.FILE_SYNC) await fd.sync();
        return fd.stat({ bigint: true });
      });
      return {
        status: Nfs3Status.OK,
        fileWcc: { before: wccAttrOf(before), after: fattrOf(after) },
        count: len,
        committed: a.stable,
        verf: this.writeVerf,
      };
    } catch (e) {
      return { status: statusOfError(e) as Fail['status'], fileWcc: await this.wcc(before, f.path) };
    }
  }

  CREATE(a: CreateArgs, ctx: RpcCallContext): Promise<DirOpRes> {
    return this.dirOp(a.where, async (d, path) => {
      const how = a.how;
      const flags = constants.O_CREAT | constants.O_WRONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
      if (how.mode === CreateMode.EXCLUSIVE) {
        // RFC 1813 s3.3.8: keep the verifier in atime/mtime so a retransmitted CREATE is recognised.
        const v = new DataView(how.verf.buffer, how.verf.byteOffset, 8);
        const [vA, vM] = [v.getUint32(0), v.getUint32(4)];
        try {
          const fd = await open(path, flags | constants.O_EXCL, 0o600);
          await fd.close();
        } catch (e) {
          if ((e as { code?: string }).code !== 'EEXIST') throw e;
          const st = await lstat(path, { bigint: true });
          const same = st.isFile() && st.atimeNs / 1_000_000_000n === BigInt(vA) && st.mtimeNs / 1_000_000_000n === BigInt(vM);
          if (!same) return { status: Nfs3Status.EXIST, dirWcc: await this.wcc(d.stat, d.path) };
          return this.created(d, a.where.name, path);
        }
        await lutimes(path, vA, vM);
        await this.applyOwner(path, {}, ctx);
        return this.created(d, a.where.name, path);
      }
      const excl = how.mode === CreateMode.GUARDED ? constants.O_EXCL : 0;
      const fd = await open(path, flags | excl, how.attributes.mode ?? 0o644);
      await fd.close();
      const st = await lstat(path, { bigint: true });
      await this.applySattr(path, st, how.attributes);
      await this.applyOwner(path, how.attributes, ctx);
      return this.created(d, a.where.name, path);
    });
  }

  MKDIR(a: MkdirArgs, ctx: RpcCallContext): Promise<DirOpRes> {
    return this.dirOp(a.where, async (d, path) => {
      await mkdir(path, a.attributes.mode ?? 0o755);
      const st = await lstat(path, { bigint: true });
      const { mode, ...rest } = a.attributes;
      if (mode !== undefined) await chmod(path, mode & 0o7777); // not subject to umask
      await this.applySattr(path, st, { ...rest, size: undefined });
      await this.applyOwner(path, a.attributes, ctx);
      return this.created(d, a.where.name, path);
    });
  }

  SYMLINK(a: SymlinkArgs, ctx: RpcCallContext): Promise<DirOpRes> {
    return this.dirOp(a.where, async (d, path) => {
      if (a.symlinkData.includes('\0')) return { status: Nfs3Status.INVAL, dirWcc: await this.wcc(d.stat, d.path) };
      await symlink(a.symlinkData, path);
      await this.applyOwner(path, a.symlinkAttributes, ctx);
      return this.created(d, a.where.name, path);
    });
  }

  MKNOD(a: MknodArgs, ctx: RpcCallContext): Promise<DirOpRes> {
    return this.dirOp(a.where, async (d, path) => {
      const w = a.what;
      if (w.type === Ftype3.SOCK) return { status: Nfs3Status.NOTSUPP, dirWcc: await this.wcc(d.stat, d.path) };
      if (w.type !== Ftype3.FIFO && w.type !== Ftype3.CHR && w.type !== Ftype3.BLK) {
        return { status: Nfs3Status.BADTYPE, dirWcc: await this.wcc(d.stat, d.path) };
      }
      const mode = ((w.attributes.mode ?? 0o644) & 0o7777).toString(8);
      // Node has no mknod(2); coreutils' mknod does exactly that one system call.
      const args =
        w.type === Ftype3.CHR || w.type === Ftype3.BLK
          ? ['-m', mode, '--', path, w.type === Ftype3.CHR ? 'c' : 'b', String(w.spec.specdata1), String(w.spec.specdata2)]
          : ['-m', mode, '--', path, 'p'];
      try {
        await execFileP('mknod', args, { timeout: 10_000 });
      } catch (e) {
        const msg = String((e as { stderr?: string }).stderr ?? '');
        const code = /File exists/.test(msg) ? 'EEXIST' : /Operation not permitted/.test(msg) ? 'EPERM' : /No such file/.test(msg) ? 'ENOENT' : 'EIO';
        throw Object.assign(new Error(msg), { code });
      }
      await this.applyOwner(path, w.attributes, ctx);
      return this.created(d, a.where.name, path);
    });
  }

  private async removeEntry(dirFh: FileHandle, name: string, isDir: boolean): Promise<RemoveRes> {
    const d = await this.resolveDir(dirFh);
    if (isFail(d)) return { status: d.status, dirWcc: {} };
    if (this.readOnly) return { status: Nfs3Status.ROFS, dirWcc: await this.wcc(d.stat, d.path) };
    if (name === '.' || name === '..') {
      // RFC 1813 s3.3.13: RMDIR of "." is INVAL, of ".." EXIST.
      return { status: name === '..' && isDir ? Nfs3Status.EXIST : Nfs3Status.INVAL, dirWcc: await this.wcc(d.stat, d.path) };
    }
    const bad = checkName(name);
    if (bad !== undefined) return { status: (bad === Nfs3Status.INVAL ? Nfs3Status.NOENT : bad) as Fail['status'], dirWcc: await this.wcc(d.stat, d.path) };
    try {
      const isDirectory = await this.inDir(d, async (dir) => {
        const path = join(dir, name);
        const st = await lstat(path, { bigint: true });
        if (!isDir && st.isDirectory()) return true;
        await (isDir ? rmdir : unlink)(path);
        if (isDir || st.nlink <= 1n) {
          this.table.forget(st);
          this.fds.drop(this.key(st));
        }
        return false;
      });
      if (isDirectory) return { status: Nfs3Status.ISDIR, dirWcc: await this.wcc(d.stat, d.path) };
    } catch (e) {
      return { status: statusOfError(e) as Fail['status'], dirWcc: await this.wcc(d.stat, d.path) };
    }
    return { status: Nfs3Status.OK, dirWcc: await this.wcc(d.stat, d.path) };
  }

  REMOVE(a: RemoveArgs): Promise<RemoveRes> {
    return this.removeEntry(a.object.dir, a.object.name, false);
  }

  RMDIR(a: RmdirArgs): Promise<RemoveRes> {
    return this.removeEntry(a.object.dir, a.object.name, true);
  }

  async RENAME(a: RenameArgs): Promise<RenameRes> {
    const from = await this.resolveDir(a.from.dir);
    const to = await this.resolveDir(a.to.dir);
    if (isFail(from) || isFail(to)) {
      const status = isFail(from) ? from.status : (to as Fail).status;
      return {
        status,
        fromdirWcc: isFail(from) ? {} : await this.wcc(from.stat, from.path),
        todirWcc: isFail(to) ? {} : await this.wcc(to.stat, to.path),
      };
    }
    const wccs = async () => ({ fromdirWcc: await this.wcc(from.stat, from.path), todirWcc: await this.wcc(to.stat, to.path) });
    if (this.readOnly) return { status: Nfs3Status.ROFS, ...(await wccs()) };
    for (const n of [a.from.name, a.to.name]) {
      const bad = n === '.' || n === '..' ? Nfs3Status.INVAL : checkName(n);
      if (bad !== undefined) return { status: bad as Fail['status'], ...(await wccs()) };
    }
    try {
      await this.inDir(from, (fromDir) =>
        this.inDir(to, async (toDir) => {
          const src = join(fromDir, a.from.name);
          const dst = join(toDir, a.to.name);
          const st = await lstat(src, { bigint: true });
          const old = await this.attrsOf(dst);
          await rename(src, dst);
          if (old && !(old.dev === st.dev && old.ino === st.ino)) this.table.forget(old);
          this.table.remember(to.stat, a.to.name, st);
        }),
      );
    } catch (e) {
      return { status: statusOfError(e) as Fail['status'], ...(await wccs()) };
    }
    return { status: Nfs3Status.OK, ...(await wccs()) };
  }

  async LINK(a: LinkArgs): Promise<LinkRes> {
    const f = await this.resolve(a.file);
    const d = await this.resolveDir(a.link.dir);
    if (isFail(f)) return { status: f.status, linkdirWcc: isFail(d) ? {} : await this.wcc(d.stat, d.path) };
    if (isFail(d)) return { status: d.status, fileAttributes: fattrOf(f.stat), linkdirWcc: {} };
    const done = async (status: Nfs3Status) =>
      ({ status, fileAttributes: fattrOf((await this.attrsOf(f.path)) ?? f.stat), linkdirWcc: await this.wcc(d.stat, d.path) }) as LinkRes;
    if (this.readOnly) return done(Nfs3Status.ROFS);
    const bad = checkName(a.link.name);
    if (bad !== undefined) return done(bad === Nfs3Status.INVAL ? Nfs3Status.EXIST : bad);
    if (f.stat.isDirectory()) return done(Nfs3Status.ISDIR);
    try {
      await this.inDir(d, async (dir) => {
        const made = join(dir, a.link.name);
        await link(f.path, made);
        // link(2) does not follow a descriptor's /proc path, so the source went by f.path: a link
        // to anything but the handle's file (a raced path) is taken back.
        const st = await lstat(made, { bigint: true });
        if (st.dev !== f.stat.dev || st.ino !== f.stat.ino) {
          await unlink(made);
          throw Object.assign(new Error('source changed under its path'), { code: 'ESTALE' });
        }
      });
    } catch (e) {
      return done(statusOfError(e));
    }
    return done(Nfs3Status.OK);
  }

  /** The names of directory `d` in cookie order: the kept snapshot while it is current, else read now. */
  private async snapshot(d: Resolved, reread: boolean): Promise<DirSnapshot> {
    const key = this.key(d.stat);
    const kept = this.snapshots.get(key);
    if (kept && !reread && kept.mtimeNs === d.stat.mtimeNs && kept.readAtMs - Number(kept.mtimeNs / 1_000_000n) > RACY_MTIME_MS) return kept;
    const readAtMs = this.wallNow();
    const entries = (await this.inDir(d, (dir) => readdir(dir))).map((name) => ({ name, cookie: nameCookie(name) })).sort(byCookie);
    const snap = { mtimeNs: d.stat.mtimeNs, readAtMs, entries };
    this.dropSnapshot(key);
    this.snapshots.set(key, snap);
    this.snapshotEntries += entries.length;
    while (this.snapshots.size > 1 && (this.snapshots.size > MAX_DIR_SNAPSHOTS || this.snapshotEntries > MAX_SNAPSHOT_ENTRIES)) {
      this.dropSnapshot(this.snapshots.keys().next().value as string);
    }
    return snap;
  }

  private dropSnapshot(key: string): void {
    const snap = this.snapshots.get(key);
    if (!snap) return;
    this.snapshots.delete(key);
    this.snapshotEntries -= snap.entries.length;
  }

  /**
   * READDIR and READDIRPLUS alike: the page of `a.dir` after `a.cookie` whose entries `fits`
   * accepts (it accounts for their size), each with fresh attributes, or the failure reply. Names
   * gone since the snapshot are left out (POSIX lets a removed entry go either way); when a
   * page loses entries so, the directory is read again (it changed) and the page recomputed.
   */
  private async page(
    a: Pick<ReaddirArgs, 'dir' | 'cookie' | 'cookieverf'>,
    fits: () => (e: CookieEntry) => boolean,
  ): Promise<{ fail: Fail & { dirAttributes?: ReturnType<typeof fattrOf> } } | { d: Resolved; page: DirPage }> {
    const d = await this.resolve(a.dir);
    if (isFail(d)) return { fail: d };
    if (!d.stat.isDirectory()) return { fail: { status: Nfs3Status.NOTDIR as Fail['status'], dirAttributes: fattrOf(d.stat) } };
    const after = resumeCookie(a.cookie, a.cookieverf);
    if (after === undefined) return { fail: { status: Nfs3Status.BAD_COOKIE, dirAttributes: fattrOf(d.stat) } };
    try {
      for (let attempt = 1; ; attempt++) {
        const snap = await this.snapshot(d, attempt > 1);
        const start = firstAfter(snap.entries, after);
        const end = pageEnd(snap.entries, start, fits());
        if (end === start && start < snap.entries.length) return { fail: { status: Nfs3Status.TOOSMALL, dirAttributes: fattrOf(d.stat) } };
        const chosen = snap.entries.slice(start, end);
        const stats = await this.inDir(d, (dir) => mapLimit(chosen, DEFAULT_FS_CONCURRENCY, (e) => this.attrsOf(join(dir, e.name))));
        const entries: DirPage['entries'] = [];
        chosen.forEach((e, i) => {
          const stat = stats[i];
          if (stat) entries.push({ ...e, stat });
        });
        const eof = end >= snap.entries.length;
        if (entries.length === chosen.length || attempt >= PAGE_ATTEMPTS) {
          // Everything in a page vanished again and again: a client cannot take an empty non-final page.
          if (entries.length === 0 && !eof) return { fail: { status: Nfs3Status.JUKEBOX, dirAttributes: fattrOf(d.stat) } };
          for (const e of entries) this.table.remember(d.stat, e.name, e.stat);
          return { d, page: { entries, eof } };
        }
      }
    } catch (e) {
      return { fail: { status: statusOfError(e) as Fail['status'], dirAttributes: fattrOf(d.stat) } };
    }
  }

  async READDIR(a: ReaddirArgs): Promise<ReaddirRes> {
    const r = await this.page(a, () => {
      let bytes = READDIR_HEADER_BYTES;
      return (e) => {
        bytes += entryBytes(e.name);
        return bytes <= a.count;
      };
    });
    if ('fail' in r) return r.fail;
    const entries: Entry3[] = r.page.entries.map((e) => ({ fileid: e.stat.ino, name: e.name, cookie: BigInt(e.cookie) }));
    return { status: Nfs3Status.OK, dirAttributes: fattrOf(r.d.stat), cookieverf: DIR_COOKIE_VERF, entries, eof: r.page.eof };
  }

  async READDIRPLUS(a: ReaddirplusArgs): Promise<ReaddirplusRes> {
    const r = await this.page(a, () => {
      let dirBytes = 0;
      let total = READDIR_HEADER_BYTES;
      return (e) => {
        const size = entryBytes(e.name);
        dirBytes += size;
        total += size + ENTRY_PLUS_EXTRA_BYTES;
        return dirBytes <= a.dircount && total <= a.maxcount;
      };
    });
    if ('fail' in r) return r.fail;
    const entries: EntryPlus3[] = r.page.entries.map((e) => ({
      fileid: e.stat.ino,
      name: e.name,
      cookie: BigInt(e.cookie),
      nameAttributes: fattrOf(e.stat),
      nameHandle: encodeHandle(fileIdOf(e.stat)),
    }));
    return { status: Nfs3Status.OK, dirAttributes: fattrOf(r.d.stat), cookieverf: DIR_COOKIE_VERF, entries, eof: r.page.eof };
  }

  async FSSTAT(a: FsstatArgs): Promise<FsstatRes> {
    const f = await this.resolve(a.fsroot);
    if (isFail(f)) return f;
    try {
      const s = await statfs(f.path, { bigint: true });
      return {
        status: Nfs3Status.OK,
        objAttributes: fattrOf(f.stat),
        tbytes: s.blocks * s.bsize,
        fbytes: s.bfree * s.bsize,
        abytes: s.bavail * s.bsize,
        tfiles: s.files,
        ffiles: s.ffree,
        afiles: s.ffree,
        invarsec: 0,
      };
    } catch (e) {
      return { status: statusOfError(e) as Fail['status'], objAttributes: fattrOf(f.stat) };
    }
  }

  async FSINFO(a: FsinfoArgs, ctx: RpcCallContext): Promise<FsinfoRes> {
    const f = await this.resolve(a.fsroot);
    if (isFail(f)) return f;
    const max = ctx.transport === 'udp' ? MAX_TRANSFER_BYTES_UDP : MAX_TRANSFER_BYTES_TCP;
    return {
      status: Nfs3Status.OK,
      objAttributes: fattrOf(f.stat),
      rtmax: max,
      rtpref: max,
      rtmult: 4096,
      wtmax: max,
      wtpref: max,
      wtmult: 4096,
      dtpref: DIR_PREFERRED_BYTES,
      maxfilesize: BigInt(MAX_FILE_BYTES),
      timeDelta: { seconds: 0, nseconds: 1 },
      properties: FSF3_LINK | FSF3_SYMLINK | FSF3_HOMOGENEOUS | FSF3_CANSETTIME,
    };
  }

  async PATHCONF(a: PathconfArgs): Promise<PathconfRes> {
    const f = await this.resolve(a.object);
    if (isFail(f)) return f;
    return {
      status: Nfs3Status.OK,
      objAttributes: fattrOf(f.stat),
      linkmax: 65000,
      nameMax: NAME_MAX_BYTES,
      noTrunc: true,
      chownRestricted: true,
      caseInsensitive: false,
      casePreserving: true,
    };
  }

  async COMMIT(a: CommitArgs): Promise<CommitRes> {
    const f = await this.resolve(a.file);
    if (isFail(f)) return { status: f.status, fileWcc: {} };
    if (this.readOnly) return { status: Nfs3Status.ROFS, fileWcc: await this.wcc(f.stat, f.path) };
    if (!f.stat.isFile()) return { status: f.stat.isDirectory() ? Nfs3Status.ISDIR : Nfs3Status.INVAL, fileWcc: await this.wcc(f.stat, f.path) };
    const fault = rangeFault('COMMIT', a.offset, a.count);
    if (fault !== undefined) return { status: fault, fileWcc: await this.wcc(f.stat, f.path) };
    try {
      await this.fds.withFd(this.key(f.stat), f.path, true, (fd) => fd.sync());
    } catch (e) {
      return { status: statusOfError(e) as Fail['status'], fileWcc: await this.wcc(f.stat, f.path) };
    }
    return { status: Nfs3Status.OK, fileWcc: await this.wcc(f.stat, f.path), verf: this.writeVerf };
  }
}

/** A name usable as one new or existing entry inside the export (not "." or ".."), or the status to answer. */
export function checkName(name: string): Nfs3Status | undefined {
  return isDotName(name) ? Nfs3Status.INVAL : componentFault(name);
}

function entryBytes(name: string): number {
  return 4 + 8 + 4 + ((Buffer.byteLength(name) + 3) & ~3) + 8;
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
