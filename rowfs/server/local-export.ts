// The NFSv3 procedures served from a local directory (RFC 1813 s3.3). Handles are resolved by
// the ExportTree (export-tree.ts: paths inside the export, used only through checked descriptors,
// symlinks never followed); the namespace changes are in namespace-procedures.ts, directory pages
// in dir-pages.ts. The server process performs the operations itself: callers' AUTH_SYS uid/gid
// decide the owner of new objects (when running as root) and the ACCESS answer (../nfs3/access.ts).
import { fstatSync, lstatSync, type BigIntStats } from 'node:fs';
import { readlink, statfs } from './inline-fs.js';
import { join } from 'node:path';
import { systemClock, type Clock, type Random } from '../../lib/clock.js';
import { cryptoRandom } from '../../lib/random.js';
import type { RpcCallContext } from '../rpc/dispatch.js';
import type { Nfs3Handlers } from '../nfs3/program.js';
import {
  ACCESS3_DELETE,
  ACCESS3_EXTEND,
  ACCESS3_MODIFY,
  Nfs3Status,
  StableHow,
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
  type SetattrArgs,
  type SetattrRes,
  type SymlinkArgs,
  type WriteArgs,
  type WriteRes,
} from '../nfs3/types.js';
import { accessFor } from '../nfs3/access.js';
import { fsinfoOk, MAX_IO_BYTES_TCP, MAX_IO_BYTES_UDP } from '../nfs3/fsinfo.js';
import { entryBytes, entryPlusExtraBytes, READDIR_FIXED_BYTES } from '../nfs3/readdir-sizes.js';
import { NAME_MAX_BYTES } from '../nfs3/names.js';
import { rangeFault } from '../nfs3/ranges.js';
import { DIR_COOKIE_VERF, resumeCookie, type CookieEntry } from '../nfs3/dir-cookies.js';
import { fattrOf, statusOfError, wccOf, isRegularFile, isSymlink, isDirectory } from './attributes.js';
import { checkName, ExportTree, isFail, type Fail } from './export-tree.js';
import { encodeHandle, fileIdOf, HANDLE_BYTES, type Resolved } from './file-handles.js';
import { DirPages, type DirPage, type PageFail } from './dir-pages.js';
import { LocalNamespace } from './namespace-procedures.js';
import { applySattr, applySattrToFd } from './set-attributes.js';
import { entryPath } from './entry-path.js';

export { NAME_MAX_BYTES } from '../nfs3/names.js';
export { checkName } from './export-tree.js';
/** What READDIRPLUS adds to an entry: attributes and one of our handles. */
const ENTRY_PLUS_EXTRA_BYTES = entryPlusExtraBytes(HANDLE_BYTES);

export interface LocalExportOptions {
  /** Directory to serve (absolute). */
  root: string;
  readOnly?: boolean;
  /** now(): scan throttling; wallNow(): SET_TO_SERVER_TIME and listing verifiers (default systemClock). */
  clock?: Clock;
  /** 8 random bytes for the write verifier; new on every start, so clients resend uncommitted writes. */
  writeVerf?: Uint8Array;
  /** Draws the write verifier when none is given (default cryptoRandom). */
  random?: Random;
  maxOpenFiles?: number;
  /**
   * Directory descriptors held open (held-dirs.ts; default 0, none): only for an export nothing
   * but this server changes, such as the proxy's local shadow.
   */
  heldDirs?: number;
}

// Callbacks on the paths every call takes are module functions or bound methods, not arrows made
// per call: such a closure loses its optimized code at every full GC (docs/rowfs.md, "TurboFan
// compiling the same functions again").

/** GETATTR's answer for a resolved handle. */
function getattrOf(f: Resolved | Fail): GetattrRes {
  return isFail(f) ? f : { status: Nfs3Status.OK, objAttributes: fattrOf(f.stat) };
}

/** `fd`'s attributes now, or undefined when they cannot be read. */
function fstatOrUndefined(fd: number): BigIntStats | undefined {
  try {
    return fstatSync(fd, { bigint: true });
  } catch {
    return undefined;
  }
}

/** `r`, or NOTDIR when it must name a directory (`dir`) and does not. */
function dirChecked(r: Resolved | Fail, dir: boolean): Resolved | Fail {
  return dir && !isFail(r) && !isDirectory(r.stat) ? { status: Nfs3Status.NOTDIR } : r;
}

export class LocalExport implements Nfs3Handlers {
  readonly writeVerf: Uint8Array;
  readonly readOnly: boolean;
  private readonly tree: ExportTree;
  private readonly pages: DirPages;
  private readonly ns: LocalNamespace;
  private readonly wallNow: () => number;

  constructor(o: LocalExportOptions) {
    this.readOnly = !!o.readOnly;
    this.writeVerf = o.writeVerf ?? (o.random ?? cryptoRandom).bytes(8);
    const clock = o.clock ?? systemClock;
    this.tree = new ExportTree(o.root, this.readOnly, () => clock.now(), o.maxOpenFiles, o.heldDirs);
    this.wallNow = () => clock.wallNow();
    this.pages = new DirPages(this.tree, this.wallNow);
    // Through this.withResolved, so every procedure resolves its handles the same way.
    this.ns = new LocalNamespace({
      tree: this.tree,
      withResolved: (fh, dir, fn) => this.withResolved(fh, dir, fn),
      wallNow: () => this.wallNow(),
    });
  }

  init(): Promise<void> {
    return this.tree.init();
  }

  rootHandle(): FileHandle {
    return this.tree.rootHandle();
  }

  /** Handle of a directory inside the export given by its components (for MNT of a subdirectory). */
  handleOfSubdir(components: string[]): Promise<FileHandle | Nfs3Status> {
    return this.tree.handleOfSubdir(components);
  }

  close(): Promise<void> {
    return this.tree.close();
  }

  /** Starts and ends of whole-export scans so far (each reads every directory: their atimes change). */
  scanEdges(): number {
    return this.tree.table.scanEdges;
  }

  private resolve(fh: FileHandle): Promise<Resolved | Fail> {
    return this.tree.resolve(fh);
  }

  /** Resolves `fh` on this thread, or undefined when that takes a scan of the export (then `resolve`). */
  private resolveNow(fh: FileHandle): Resolved | Fail | undefined {
    return this.tree.resolveNow(fh);
  }

  /**
   * Runs `fn` with `fh` resolved: synchronously when it resolves without a scan. `dir`: it must
   * name a directory (NOTDIR otherwise).
   */
  private withResolved<T>(fh: FileHandle, dir: boolean, fn: (r: Resolved | Fail) => T | Promise<T>): T | Promise<T> {
    const now = this.resolveNow(fh);
    // The handle's table knows it (every call but the first after a restart): no closure made.
    if (now !== undefined) return fn(dirChecked(now, dir));
    return this.resolve(fh).then((r) => fn(dirChecked(r, dir)));
  }

  /** READDIR and READDIRPLUS alike: the directory `a.dir`, checked, and its page after `a.cookie` (see DirPages.page). */
  private async page(
    a: Pick<ReaddirArgs, 'dir' | 'cookie' | 'cookieverf'>,
    fits: () => (e: CookieEntry) => boolean,
  ): Promise<{ fail: PageFail } | { d: Resolved; page: DirPage }> {
    const d = await this.resolve(a.dir);
    if (isFail(d)) return { fail: d };
    if (!isDirectory(d.stat)) return { fail: { status: Nfs3Status.NOTDIR as Fail['status'], dirAttributes: fattrOf(d.stat) } };
    const after = resumeCookie(a.cookie, a.cookieverf);
    if (after === undefined) return { fail: { status: Nfs3Status.BAD_COOKIE, dirAttributes: fattrOf(d.stat) } };
    const r = await this.pages.page(d, after, fits);
    return 'fail' in r ? r : { d, page: r.page };
  }

  // ---- procedures ----

  NULL(): void {}

  GETATTR(a: GetattrArgs): GetattrRes | Promise<GetattrRes> {
    return this.withResolved(a.object, false, getattrOf);
  }

  SETATTR(a: SetattrArgs): SetattrRes | Promise<SetattrRes> {
    const recent = this.readOnly ? undefined : this.tree.recentFile(a.object);
    if (recent) return this.setattrThrough(recent.fd, recent.stat, a);
    return this.withResolved(a.object, false, (f): SetattrRes => {
      if (isFail(f)) return { status: f.status, objWcc: {} };
      const before = f.stat;
      const answer = (status: Nfs3Status) => ({ status, objWcc: this.tree.wccNow(before, f) }) as SetattrRes;
      if (this.readOnly) return answer(Nfs3Status.ROFS);
      if (a.guard) {
        const c = fattrOf(before).ctime;
        if (c.seconds !== a.guard.seconds || c.nseconds !== a.guard.nseconds) return answer(Nfs3Status.NOT_SYNC);
      }
      let after: BigIntStats | undefined;
      try {
        after = this.tree.atObjectNow(f, (path, viaFd, fd) => {
          applySattr(path, before, a.newAttributes, this.wallNow, viaFd);
          return fd === undefined ? undefined : fstatSync(fd, { bigint: true });
        });
      } catch (e) {
        return answer(statusOfError(e));
      }
      return after ? { status: Nfs3Status.OK, objWcc: wccOf(before, after) } : answer(Nfs3Status.OK);
    });
  }

  /** SETATTR of a file just created, through its kept write descriptor `fd` (ExportTree.recentFile); `before` its attributes now. */
  private setattrThrough(fd: number, before: BigIntStats, a: SetattrArgs): SetattrRes {
    if (a.guard) {
      const c = fattrOf(before).ctime;
      if (c.seconds !== a.guard.seconds || c.nseconds !== a.guard.nseconds) return { status: Nfs3Status.NOT_SYNC, objWcc: wccOf(before, before) };
    }
    try {
      applySattrToFd(fd, before, a.newAttributes, this.wallNow);
    } catch (e) {
      return { status: statusOfError(e) as Fail['status'], objWcc: wccOf(before, fstatOrUndefined(fd)) };
    }
    return { status: Nfs3Status.OK, objWcc: wccOf(before, fstatOrUndefined(fd)) };
  }

  LOOKUP(a: LookupArgs): LookupRes | Promise<LookupRes> {
    return this.withResolved(a.what.dir, false, this.lookupIn.bind(this, a.what.name));
  }

  private lookupIn(name: string, d: Resolved | Fail): LookupRes {
    if (isFail(d)) return d;
    const dirAttributes = fattrOf(d.stat);
    if (!isDirectory(d.stat)) return { status: Nfs3Status.NOTDIR, dirAttributes };
    // ".." never leaves the export: at the root it is the root itself.
    const own = name === '.' || (name === '..' && this.tree.table.isRoot(d.stat));
    if (!own && name !== '..') {
      const bad = checkName(name);
      if (bad !== undefined) return { status: (bad === Nfs3Status.INVAL ? Nfs3Status.NOENT : bad) as Fail['status'], dirAttributes };
    }
    let st: BigIntStats;
    try {
      // `${dir}/..`, not join(): join would drop the descriptor's path lexically.
      st = own ? d.stat : this.tree.inDirNow(d, (dir) => lstatSync(name === '..' ? `${dir}/..` : entryPath(dir, name), { bigint: true }));
    } catch (e) {
      return { status: statusOfError(e) as Fail['status'], dirAttributes };
    }
    if (name !== '.' && name !== '..') this.tree.table.remember(d.stat, name, st);
    return { status: Nfs3Status.OK, object: encodeHandle(fileIdOf(st)), objAttributes: fattrOf(st), dirAttributes };
  }

  ACCESS(a: AccessArgs, ctx: RpcCallContext): AccessRes | Promise<AccessRes> {
    return this.withResolved(a.object, false, (f) => {
      if (isFail(f)) return f;
      const attrs = fattrOf(f.stat);
      let granted = accessFor(attrs, a.access, ctx.authSys);
      if (this.readOnly) granted &= ~(ACCESS3_MODIFY | ACCESS3_EXTEND | ACCESS3_DELETE);
      return { status: Nfs3Status.OK, objAttributes: attrs, access: granted };
    });
  }

  async READLINK(a: ReadlinkArgs): Promise<ReadlinkRes> {
    const f = await this.resolve(a.symlink);
    if (isFail(f)) return f;
    if (!isSymlink(f.stat)) return { status: Nfs3Status.INVAL, symlinkAttributes: fattrOf(f.stat) };
    try {
      return { status: Nfs3Status.OK, symlinkAttributes: fattrOf(f.stat), data: await readlink(f.path) };
    } catch (e) {
      return { status: statusOfError(e) as Fail['status'], symlinkAttributes: fattrOf(f.stat) };
    }
  }

  async READ(a: ReadArgs, ctx: RpcCallContext): Promise<ReadRes> {
    const f = await this.resolve(a.file);
    if (isFail(f)) return f;
    if (!isRegularFile(f.stat)) return { status: isDirectory(f.stat) ? Nfs3Status.ISDIR : Nfs3Status.INVAL, fileAttributes: fattrOf(f.stat) };
    const max = ctx.transport === 'udp' ? MAX_IO_BYTES_UDP : MAX_IO_BYTES_TCP;
    const fault = rangeFault('READ', a.offset, Math.min(a.count, max));
    if (fault !== undefined) return { status: fault, fileAttributes: fattrOf(f.stat) };
    const count = Math.min(a.count, max, Number(f.stat.size - (a.offset < f.stat.size ? a.offset : f.stat.size)));
    if (a.offset >= f.stat.size || count === 0) {
      return { status: Nfs3Status.OK, fileAttributes: fattrOf(f.stat), count: 0, eof: a.offset >= f.stat.size, data: new Uint8Array(0) };
    }
    try {
      const buf = Buffer.allocUnsafe(count);
      const n = await this.tree.fds.withFd(this.tree.key(f.stat), f.path, false, async (fd) => (await fd.read(buf, 0, count, Number(a.offset))).bytesRead);
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
    if (this.readOnly) return { status: Nfs3Status.ROFS, fileWcc: await this.tree.wcc(before, f.path) };
    if (!isRegularFile(f.stat)) return { status: isDirectory(f.stat) ? Nfs3Status.ISDIR : Nfs3Status.INVAL, fileWcc: await this.tree.wcc(before, f.path) };
    const max = ctx.transport === 'udp' ? MAX_IO_BYTES_UDP : MAX_IO_BYTES_TCP;
    const len = Math.min(a.count, a.data.length, max);
    const fault = rangeFault('WRITE', a.offset, len);
    if (fault !== undefined) return { status: fault, fileWcc: await this.tree.wcc(before, f.path) };
    try {
      const after = await this.tree.fds.withFd(this.tree.key(f.stat), f.path, true, async (fd) => {
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
        fileWcc: wccOf(before, after),
        count: len,
        committed: a.stable,
        verf: this.writeVerf,
      };
    } catch (e) {
      return { status: statusOfError(e) as Fail['status'], fileWcc: await this.tree.wcc(before, f.path) };
    }
  }

  CREATE(a: CreateArgs, ctx: RpcCallContext): DirOpRes | Promise<DirOpRes> {
    return this.ns.CREATE(a, ctx);
  }

  MKDIR(a: MkdirArgs, ctx: RpcCallContext): DirOpRes | Promise<DirOpRes> {
    return this.ns.MKDIR(a, ctx);
  }

  SYMLINK(a: SymlinkArgs, ctx: RpcCallContext): DirOpRes | Promise<DirOpRes> {
    return this.ns.SYMLINK(a, ctx);
  }

  MKNOD(a: MknodArgs, ctx: RpcCallContext): DirOpRes | Promise<DirOpRes> {
    return this.ns.MKNOD(a, ctx);
  }

  REMOVE(a: RemoveArgs): RemoveRes | Promise<RemoveRes> {
    return this.ns.REMOVE(a);
  }

  RMDIR(a: RmdirArgs): RemoveRes | Promise<RemoveRes> {
    return this.ns.RMDIR(a);
  }

  RENAME(a: RenameArgs): RenameRes | Promise<RenameRes> {
    return this.ns.RENAME(a);
  }

  LINK(a: LinkArgs): LinkRes | Promise<LinkRes> {
    return this.ns.LINK(a);
  }

  async READDIR(a: ReaddirArgs): Promise<ReaddirRes> {
    const r = await this.page(a, () => {
      let bytes = READDIR_FIXED_BYTES;
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
      let total = READDIR_FIXED_BYTES;
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
    return fsinfoOk(fattrOf(f.stat), ctx.transport === 'udp' ? MAX_IO_BYTES_UDP : MAX_IO_BYTES_TCP);
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
    if (this.readOnly) return { status: Nfs3Status.ROFS, fileWcc: await this.tree.wcc(f.stat, f.path) };
    if (!isRegularFile(f.stat)) return { status: isDirectory(f.stat) ? Nfs3Status.ISDIR : Nfs3Status.INVAL, fileWcc: await this.tree.wcc(f.stat, f.path) };
    const fault = rangeFault('COMMIT', a.offset, a.count);
    if (fault !== undefined) return { status: fault, fileWcc: await this.tree.wcc(f.stat, f.path) };
    try {
      await this.tree.fds.withFd(this.tree.key(f.stat), f.path, true, (fd) => fd.sync());
    } catch (e) {
      return { status: statusOfError(e) as Fail['status'], fileWcc: await this.tree.wcc(f.stat, f.path) };
    }
    return { status: Nfs3Status.OK, fileWcc: await this.tree.wcc(f.stat, f.path), verf: this.writeVerf };
  }
}
