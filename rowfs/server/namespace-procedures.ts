// The NFSv3 procedures of the embedded server that change the namespace (RFC 1813 s3.3.8-15):
// CREATE, MKDIR, SYMLINK, MKNOD, REMOVE, RMDIR, RENAME, LINK. Names are checked so no component
// can climb out ("..", "/", NUL); every change happens inside a directory reached through a
// checked descriptor (ExportTree.inDirNow). The caller's AUTH_SYS uid/gid own new objects when the
// server runs as root; a new object whose owner or attributes cannot be set is removed again.
// All but MKNOD (a child process) run synchronously once their handles are resolved: a handle
// the table knows is resolved on this thread too, so such a call is one synchronous step.
import { execFile } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  constants,
  fstatSync,
  futimesSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
  type BigIntStats,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { RpcCallContext } from '../rpc/dispatch.js';
import {
  CreateMode,
  Ftype3,
  Nfs3Status,
  type CreateArgs,
  type DirOpRes,
  type FileHandle,
  type LinkArgs,
  type LinkRes,
  type MkdirArgs,
  type MknodArgs,
  type RemoveArgs,
  type RemoveRes,
  type RenameArgs,
  type RenameRes,
  type RmdirArgs,
  type SymlinkArgs,
} from '../nfs3/types.js';
import { fattrOf, statusOfError, isRegularFile, isDirectory } from './attributes.js';
import { checkName, isFail, type ExportTree, type Fail } from './export-tree.js';
import { encodeHandle, fileIdOf, type Resolved } from './file-handles.js';
import { applyOwner, applyOwnerTo, applySattr } from './set-attributes.js';
import { entryPath } from './entry-path.js';

const execFileP = promisify(execFile);

/** What the namespace procedures use of the export. */
export interface NamespaceHost {
  readonly tree: ExportTree;
  /**
   * Runs `fn` with the resolution of a handle (the export's own, so it can be observed as one):
   * synchronously when the handle resolves without a scan. `dir`: it must name a directory (NOTDIR otherwise).
   */
  withResolved<T>(fh: FileHandle, dir: boolean, fn: (r: Resolved | Fail) => T | Promise<T>): T | Promise<T>;
  /** Wall clock in ms (SET_TO_SERVER_TIME). */
  wallNow(): number;
}

type Maybe<T> = T | Promise<T>;

const CREATE_FLAGS = constants.O_CREAT | constants.O_WRONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
/** Opens in openToCreate before giving up (the name appearing and going again in between). */
const OPEN_TO_CREATE_ATTEMPTS = 3;

/**
 * Opens the file at `path`, making it if absent (`exclusive`: only then); `made` tells whether
 * this call made it (an O_EXCL open first, so an UNCHECKED create knows too).
 */
function openToCreate(path: string, mode: number, exclusive: boolean): { fd: number; made: boolean } {
  for (let attempt = 1; ; attempt++) {
    try {
      return { fd: openSync(path, CREATE_FLAGS | constants.O_EXCL, mode), made: true };
    } catch (e) {
      if (exclusive || (e as { code?: string }).code !== 'EEXIST') throw e;
    }
    try {
      return { fd: openSync(path, CREATE_FLAGS & ~constants.O_CREAT, mode), made: false };
    } catch (e) {
      if ((e as { code?: string }).code !== 'ENOENT' || attempt >= OPEN_TO_CREATE_ATTEMPTS) throw e;
    }
  }
}

/** Removes what this call made at `path` again, quietly (finishOrUndo). */
function undo(path: string, isDir: boolean): void {
  try {
    (isDir ? rmdirSync : unlinkSync)(path);
  } catch {
    /* gone already */
  }
}

/**
 * Finishes the object this call just made at `path` (owner, attributes, reply); when that fails
 * the name is removed again before the failure is answered: a half-made object (another owner,
 * no verifier yet) must not stay for a retransmission or another client to find.
 */
function finishOrUndo<T>(path: string, isDir: boolean, finish: () => T): T {
  try {
    return finish();
  } catch (e) {
    undo(path, isDir);
    throw e;
  }
}

export class LocalNamespace {
  private readonly tree: ExportTree;
  /** The host's wall clock as one function for SET_TO_SERVER_TIME (not an arrow per call). */
  private readonly wallNow: () => number;

  constructor(private readonly host: NamespaceHost) {
    this.tree = host.tree;
    this.wallNow = () => host.wallNow();
  }

  /** Shared tail of CREATE/MKDIR/SYMLINK/MKNOD: attributes and handle of the new object. */
  private created(d: Resolved, name: string, path: string): DirOpRes {
    return this.createdAs(d, name, lstatSync(path, { bigint: true }));
  }

  /** Like created, with the new object's attributes `st` at hand. */
  private createdAs(d: Resolved, name: string, st: BigIntStats): DirOpRes {
    this.tree.table.remember(d.stat, name, st);
    return { status: Nfs3Status.OK, obj: encodeHandle(fileIdOf(st)), objAttributes: fattrOf(st), dirWcc: this.tree.wccNow(d.stat, d) };
  }

  /** The reply of a change in directory `d` with `status` and the directory's attributes now. */
  private answer(d: Resolved, status: Nfs3Status): DirOpRes {
    return { status: status as Fail['status'], dirWcc: this.tree.wccNow(d.stat, d) };
  }

  /** What a new entry `name` in resolved directory `d` must be refused for, or undefined. */
  private refusal(d: Resolved | Fail, name: string): DirOpRes | undefined {
    if (isFail(d)) return { status: d.status, dirWcc: {} };
    if (this.tree.readOnly) return this.answer(d, Nfs3Status.ROFS);
    const bad = checkName(name);
    // "." and ".." always exist; other bad names (with "/" or NUL) are invalid.
    if (bad !== undefined) return this.answer(d, name === '.' || name === '..' ? Nfs3Status.EXIST : bad);
    return undefined;
  }

  // The callbacks below are bound methods, not arrows made per call: a closure made per call loses
  // its optimized code at every full GC and is compiled again (docs/rowfs.md, "TurboFan compiling
  // the same functions again").

  /** A new entry `where.name` made by `work` (given the directory and the entry's path through its descriptor). */
  private dirOp(where: { dir: FileHandle; name: string }, work: (d: Resolved, path: string) => DirOpRes): Maybe<DirOpRes> {
    return this.host.withResolved(where.dir, true, this.dirOpIn.bind(this, where.name, work));
  }

  private dirOpIn(name: string, work: (d: Resolved, path: string) => DirOpRes, d: Resolved | Fail): DirOpRes {
    const refused = this.refusal(d, name);
    if (refused) return refused;
    const dir = d as Resolved;
    try {
      return this.tree.inDirNow(dir, this.workAt.bind(this, dir, name, work));
    } catch (e) {
      return this.answer(dir, statusOfError(e));
    }
  }

  private workAt(dir: Resolved, name: string, work: (d: Resolved, path: string) => DirOpRes, dirPath: string): DirOpRes {
    return work(dir, entryPath(dirPath, name));
  }

  CREATE(a: CreateArgs, ctx: RpcCallContext): Maybe<DirOpRes> {
    return this.dirOp(a.where, this.createAt.bind(this, a, ctx));
  }

  private createAt(a: CreateArgs, ctx: RpcCallContext, d: Resolved, path: string): DirOpRes {
    const how = a.how;
    if (how.mode === CreateMode.EXCLUSIVE) {
      // RFC 1813 s3.3.8: keep the verifier in atime/mtime so a retransmitted CREATE is recognised.
      const v = new DataView(how.verf.buffer, how.verf.byteOffset, 8);
      const [vA, vM] = [v.getUint32(0), v.getUint32(4)];
      let fd: number;
      try {
        fd = openSync(path, CREATE_FLAGS | constants.O_EXCL, 0o600);
      } catch (e) {
        if ((e as { code?: string }).code !== 'EEXIST') throw e;
        const st = lstatSync(path, { bigint: true });
        const same = isRegularFile(st) && st.atimeNs / 1_000_000_000n === BigInt(vA) && st.mtimeNs / 1_000_000_000n === BigInt(vM);
        if (!same) return this.answer(d, Nfs3Status.EXIST);
        return this.created(d, a.where.name, path);
      }
      // Through the new file's descriptor: no path to walk again (each one goes through /proc).
      // The verifier last: it marks a finished create, so a retransmission never answers OK
      // with a file whose owner could not be set. The descriptor stays open for the SETATTR
      // that follows (ExportTree.recentFile). As finishOrUndo, written out (no closure).
      try {
        let st: BigIntStats;
        try {
          applyOwnerTo(fd, {}, ctx, d.stat);
          futimesSync(fd, vA, vM);
          st = fstatSync(fd, { bigint: true });
        } catch (e) {
          closeSync(fd);
          throw e;
        }
        this.tree.keepCreated(st, fd);
        return this.createdAs(d, a.where.name, st);
      } catch (e) {
        undo(path, false);
        throw e;
      }
    }
    const { fd, made } = openToCreate(path, how.attributes.mode ?? 0o644, how.mode === CreateMode.GUARDED);
    closeSync(fd);
    // As finishOrUndo for a file this call made, written out (no closure): the Linux client's
    // open(O_CREAT) without O_EXCL is this path.
    try {
      // Owner first (a chown clears the setuid and setgid bits a mode just set); the caller's
      // identity owns only a file this call made, not an existing one an UNCHECKED create opened.
      if (made) applyOwner(path, how.attributes, ctx);
      const st = lstatSync(path, { bigint: true });
      applySattr(path, st, how.attributes, this.wallNow);
      return this.created(d, a.where.name, path);
    } catch (e) {
      if (made) undo(path, false);
      throw e;
    }
  }

  MKDIR(a: MkdirArgs, ctx: RpcCallContext): Maybe<DirOpRes> {
    return this.dirOp(a.where, (d, path) => {
      mkdirSync(path, a.attributes.mode ?? 0o755);
      return finishOrUndo(path, true, () => {
        applyOwner(path, a.attributes, ctx);
        const st = lstatSync(path, { bigint: true });
        const { mode, ...rest } = a.attributes;
        if (mode !== undefined) chmodSync(path, mode & 0o7777); // not subject to umask
        applySattr(path, st, { ...rest, size: undefined }, this.wallNow);
        return this.created(d, a.where.name, path);
      });
    });
  }

  SYMLINK(a: SymlinkArgs, ctx: RpcCallContext): Maybe<DirOpRes> {
    return this.dirOp(a.where, (d, path) => {
      if (a.symlinkData.includes('\0')) return this.answer(d, Nfs3Status.INVAL);
      symlinkSync(a.symlinkData, path);
      return finishOrUndo(path, false, () => {
        applyOwner(path, a.symlinkAttributes, ctx);
        return this.created(d, a.where.name, path);
      });
    });
  }

  /** MKNOD runs coreutils' mknod (Node has no mknod(2)): the directory's descriptor stays open for the child. */
  MKNOD(a: MknodArgs, ctx: RpcCallContext): Maybe<DirOpRes> {
    return this.host.withResolved(a.where.dir, true, async (r) => {
      const refused = this.refusal(r, a.where.name);
      if (refused) return refused;
      const d = r as Resolved;
      const w = a.what;
      if (w.type === Ftype3.SOCK) return this.answer(d, Nfs3Status.NOTSUPP);
      if (w.type !== Ftype3.FIFO && w.type !== Ftype3.CHR && w.type !== Ftype3.BLK) return this.answer(d, Nfs3Status.BADTYPE);
      const mode = ((w.attributes.mode ?? 0o644) & 0o7777).toString(8);
      try {
        return await this.tree.inDir(d, async (dir) => {
          const path = join(dir, a.where.name);
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
          return finishOrUndo(path, false, () => {
            applyOwner(path, w.attributes, ctx);
            return this.created(d, a.where.name, path);
          });
        });
      } catch (e) {
        return this.answer(d, statusOfError(e));
      }
    });
  }

  private removeEntry(dirFh: FileHandle, name: string, isDir: boolean): Maybe<RemoveRes> {
    return this.host.withResolved(dirFh, true, this.removeIn.bind(this, name, isDir));
  }

  private removeIn(name: string, isDir: boolean, r: Resolved | Fail): RemoveRes {
    if (isFail(r)) return { status: r.status, dirWcc: {} };
    const d = r;
    if (this.tree.readOnly) return this.answer(d, Nfs3Status.ROFS);
    // RFC 1813 s3.3.13: RMDIR of "." is INVAL, of ".." EXIST.
    if (name === '.' || name === '..') return this.answer(d, name === '..' && isDir ? Nfs3Status.EXIST : Nfs3Status.INVAL);
    const bad = checkName(name);
    if (bad !== undefined) return this.answer(d, bad === Nfs3Status.INVAL ? Nfs3Status.NOENT : bad);
    try {
      const wasDirectory = this.tree.inDirNow(d, this.removeAt.bind(this, name, isDir));
      return this.answer(d, wasDirectory ? Nfs3Status.ISDIR : Nfs3Status.OK);
    } catch (e) {
      return this.answer(d, statusOfError(e));
    }
  }

  /** Removes `name` in the directory at `dirPath`; true (nothing removed) when REMOVE names a directory. */
  private removeAt(name: string, isDir: boolean, dirPath: string): boolean {
    const path = entryPath(dirPath, name);
    const st = lstatSync(path, { bigint: true });
    if (!isDir && isDirectory(st)) return true;
    (isDir ? rmdirSync : unlinkSync)(path);
    if (isDir || st.nlink <= 1n) this.tree.forget(st);
    return false;
  }

  REMOVE(a: RemoveArgs): Maybe<RemoveRes> {
    return this.removeEntry(a.object.dir, a.object.name, false);
  }

  RMDIR(a: RmdirArgs): Maybe<RemoveRes> {
    return this.removeEntry(a.object.dir, a.object.name, true);
  }

  RENAME(a: RenameArgs): Maybe<RenameRes> {
    return this.host.withResolved(a.from.dir, true, (from) => this.host.withResolved(a.to.dir, true, (to) => this.rename(a, from, to)));
  }

  private rename(a: RenameArgs, from: Resolved | Fail, to: Resolved | Fail): RenameRes {
    if (isFail(from) || isFail(to)) {
      return {
        status: isFail(from) ? from.status : (to as Fail).status,
        fromdirWcc: isFail(from) ? {} : this.tree.wccNow(from.stat, from),
        todirWcc: isFail(to) ? {} : this.tree.wccNow(to.stat, to),
      };
    }
    const done = (status: Nfs3Status): RenameRes =>
      ({ status, fromdirWcc: this.tree.wccNow(from.stat, from), todirWcc: this.tree.wccNow(to.stat, to) }) as RenameRes;
    if (this.tree.readOnly) return done(Nfs3Status.ROFS);
    for (const n of [a.from.name, a.to.name]) {
      const bad = n === '.' || n === '..' ? Nfs3Status.INVAL : checkName(n);
      if (bad !== undefined) return done(bad);
    }
    try {
      this.tree.inDirNow(from, (fromDir) =>
        this.tree.inDirNow(to, (toDir) => {
          const src = join(fromDir, a.from.name);
          const dst = join(toDir, a.to.name);
          const st = lstatSync(src, { bigint: true });
          const old = this.tree.attrsOfNow(dst);
          renameSync(src, dst);
          if (isDirectory(st)) this.tree.touched(st); // its ".." and ctime changed
          if (old && !(old.dev === st.dev && old.ino === st.ino)) this.tree.forget(old);
          this.tree.table.remember(to.stat, a.to.name, st);
        }),
      );
    } catch (e) {
      return done(statusOfError(e));
    }
    return done(Nfs3Status.OK);
  }

  LINK(a: LinkArgs): Maybe<LinkRes> {
    return this.host.withResolved(a.file, false, (f) => this.host.withResolved(a.link.dir, true, (d) => this.link(a, f, d)));
  }

  private link(a: LinkArgs, f: Resolved | Fail, d: Resolved | Fail): LinkRes {
    if (isFail(f)) return { status: f.status, linkdirWcc: isFail(d) ? {} : this.tree.wccNow(d.stat, d) };
    if (isFail(d)) return { status: d.status, fileAttributes: fattrOf(f.stat), linkdirWcc: {} };
    const done = (status: Nfs3Status) =>
      ({ status, fileAttributes: fattrOf(this.tree.attrsOfNow(f.path) ?? f.stat), linkdirWcc: this.tree.wccNow(d.stat, d) }) as LinkRes;
    if (this.tree.readOnly) return done(Nfs3Status.ROFS);
    const bad = checkName(a.link.name);
    if (bad !== undefined) return done(bad === Nfs3Status.INVAL ? Nfs3Status.EXIST : bad);
    if (isDirectory(f.stat)) return done(Nfs3Status.ISDIR);
    try {
      this.tree.inDirNow(d, (dir) => {
        const made = join(dir, a.link.name);
        linkSync(f.path, made);
        // link(2) does not follow a descriptor's /proc path, so the source went by f.path: a link
        // to anything but the handle's file (a raced path) is taken back.
        const st = lstatSync(made, { bigint: true });
        if (st.dev !== f.stat.dev || st.ino !== f.stat.ino) {
          unlinkSync(made);
          throw Object.assign(new Error('source changed under its path'), { code: 'ESTALE' });
        }
      });
    } catch (e) {
      return done(statusOfError(e));
    }
    return done(Nfs3Status.OK);
  }
}
