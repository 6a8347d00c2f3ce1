// The NFSv3 procedures of the embedded server that change the namespace (RFC 1813 s3.3.8-15):
// CREATE, MKDIR, SYMLINK, MKNOD, REMOVE, RMDIR, RENAME, LINK. Names are checked so no component
// can climb out ("..", "/", NUL); every change happens inside a directory reached through a
// checked descriptor (ExportTree.inDir). The caller's AUTH_SYS uid/gid own new objects when the
// server runs as root; a new object whose owner or attributes cannot be set is removed again.
import { execFile } from 'node:child_process';
import { constants, type BigIntStats } from 'node:fs';
import { chmod, link, lstat, mkdir, open, rename, rmdir, symlink, unlink, type InlineHandle } from './inline-fs.js';
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
import { fattrOf, statusOfError } from './attributes.js';
import { checkName, isFail, type ExportTree, type Fail } from './export-tree.js';
import { encodeHandle, fileIdOf, type Resolved } from './file-handles.js';
import { applyOwner, applyOwnerTo, applySattr } from './set-attributes.js';

const execFileP = promisify(execFile);

/** What the namespace procedures use of the export. */
export interface NamespaceHost {
  readonly tree: ExportTree;
  /** Resolves a handle (the export's own resolution, so it can be observed as one). */
  resolve(fh: FileHandle): Promise<Resolved | Fail>;
  /** Resolves a handle that must name a directory (NOTDIR otherwise). */
  resolveDir(fh: FileHandle): Promise<Resolved | Fail>;
  /** Wall clock in ms (SET_TO_SERVER_TIME). */
  wallNow(): number;
}

const CREATE_FLAGS = constants.O_CREAT | constants.O_WRONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
/** Opens in openToCreate before giving up (the name appearing and going again in between). */
const OPEN_TO_CREATE_ATTEMPTS = 3;

/**
 * Opens the file at `path`, making it if absent (`exclusive`: only then); `made` tells whether
 * this call made it (an O_EXCL open first, so an UNCHECKED create knows too).
 */
async function openToCreate(path: string, mode: number, exclusive: boolean): Promise<{ fd: InlineHandle; made: boolean }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return { fd: await open(path, CREATE_FLAGS | constants.O_EXCL, mode), made: true };
    } catch (e) {
      if (exclusive || (e as { code?: string }).code !== 'EEXIST') throw e;
    }
    try {
      return { fd: await open(path, CREATE_FLAGS & ~constants.O_CREAT, mode), made: false };
    } catch (e) {
      if ((e as { code?: string }).code !== 'ENOENT' || attempt >= OPEN_TO_CREATE_ATTEMPTS) throw e;
    }
  }
}

/**
 * Finishes the object this call just made at `path` (owner, attributes, reply); when that fails
 * the name is removed again before the failure is answered: a half-made object (another owner,
 * no verifier yet) must not stay for a retransmission or another client to find.
 */
async function finishOrUndo<T>(path: string, isDir: boolean, finish: () => Promise<T>): Promise<T> {
  try {
    return await finish();
  } catch (e) {
    await (isDir ? rmdir : unlink)(path).catch(() => undefined);
    throw e;
  }
}

export class LocalNamespace {
  private readonly tree: ExportTree;

  constructor(private readonly host: NamespaceHost) {
    this.tree = host.tree;
  }

  /** Shared tail of CREATE/MKDIR/SYMLINK/MKNOD: attributes and handle of the new object. */
  private async created(d: Resolved, name: string, path: string): Promise<DirOpRes> {
    return this.createdAs(d, name, await lstat(path, { bigint: true }));
  }

  /** Like created, with the new object's attributes `st` at hand. */
  private async createdAs(d: Resolved, name: string, st: BigIntStats): Promise<DirOpRes> {
    this.tree.table.remember(d.stat, name, st);
    return { status: Nfs3Status.OK, obj: encodeHandle(fileIdOf(st)), objAttributes: fattrOf(st), dirWcc: await this.tree.wcc(d.stat, d.path) };
  }

  private async dirOp(
    where: { dir: FileHandle; name: string },
    work: (d: Resolved, path: string) => Promise<DirOpRes>,
  ): Promise<DirOpRes> {
    const d = await this.host.resolveDir(where.dir);
    if (isFail(d)) return { status: d.status, dirWcc: {} };
    if (this.tree.readOnly) return { status: Nfs3Status.ROFS, dirWcc: await this.tree.wcc(d.stat, d.path) };
    const bad = checkName(where.name);
    if (bad !== undefined) {
      // "." and ".." always exist; other bad names (with "/" or NUL) are invalid.
      const status = where.name === '.' || where.name === '..' ? Nfs3Status.EXIST : bad;
      return { status: status as Fail['status'], dirWcc: await this.tree.wcc(d.stat, d.path) };
    }
    try {
      return await this.tree.inDir(d, (dir) => work(d, join(dir, where.name)));
    } catch (e) {
      return { status: statusOfError(e) as Fail['status'], dirWcc: await this.tree.wcc(d.stat, d.path) };
    }
  }

  CREATE(a: CreateArgs, ctx: RpcCallContext): Promise<DirOpRes> {
    return this.dirOp(a.where, async (d, path) => {
      const how = a.how;
      if (how.mode === CreateMode.EXCLUSIVE) {
        // RFC 1813 s3.3.8: keep the verifier in atime/mtime so a retransmitted CREATE is recognised.
        const v = new DataView(how.verf.buffer, how.verf.byteOffset, 8);
        const [vA, vM] = [v.getUint32(0), v.getUint32(4)];
        let fd;
        try {
          fd = await open(path, CREATE_FLAGS | constants.O_EXCL, 0o600);
        } catch (e) {
          if ((e as { code?: string }).code !== 'EEXIST') throw e;
          const st = await lstat(path, { bigint: true });
          const same = st.isFile() && st.atimeNs / 1_000_000_000n === BigInt(vA) && st.mtimeNs / 1_000_000_000n === BigInt(vM);
          if (!same) return { status: Nfs3Status.EXIST, dirWcc: await this.tree.wcc(d.stat, d.path) };
          return this.created(d, a.where.name, path);
        }
        const made = fd;
        // Through the new file's descriptor: no path to walk again (each one goes through /proc).
        // The verifier last: it marks a finished create, so a retransmission never answers OK
        // with a file whose owner could not be set.
        return finishOrUndo(path, false, async () => {
          let st: BigIntStats;
          try {
            await applyOwnerTo(made, {}, ctx);
            await made.utimes(vA, vM);
            st = await made.stat({ bigint: true });
          } finally {
            await made.close();
          }
          return this.createdAs(d, a.where.name, st);
        });
      }
      const { fd, made } = await openToCreate(path, how.attributes.mode ?? 0o644, how.mode === CreateMode.GUARDED);
      await fd.close();
      const finish = async () => {
        // Owner first (a chown clears the setuid and setgid bits a mode just set); the caller's
        // identity owns only a file this call made, not an existing one an UNCHECKED create opened.
        if (made) await applyOwner(path, how.attributes, ctx);
        const st = await lstat(path, { bigint: true });
        await applySattr(path, st, how.attributes, () => this.host.wallNow());
        return this.created(d, a.where.name, path);
      };
      return made ? finishOrUndo(path, false, finish) : finish();
    });
  }

  MKDIR(a: MkdirArgs, ctx: RpcCallContext): Promise<DirOpRes> {
    return this.dirOp(a.where, async (d, path) => {
      await mkdir(path, a.attributes.mode ?? 0o755);
      return finishOrUndo(path, true, async () => {
        await applyOwner(path, a.attributes, ctx);
        const st = await lstat(path, { bigint: true });
        const { mode, ...rest } = a.attributes;
        if (mode !== undefined) await chmod(path, mode & 0o7777); // not subject to umask
        await applySattr(path, st, { ...rest, size: undefined }, () => this.host.wallNow());
        return this.created(d, a.where.name, path);
      });
    });
  }

  SYMLINK(a: SymlinkArgs, ctx: RpcCallContext): Promise<DirOpRes> {
    return this.dirOp(a.where, async (d, path) => {
      if (a.symlinkData.includes('\0')) return { status: Nfs3Status.INVAL, dirWcc: await this.tree.wcc(d.stat, d.path) };
      await symlink(a.symlinkData, path);
      return finishOrUndo(path, false, async () => {
        await applyOwner(path, a.symlinkAttributes, ctx);
        return this.created(d, a.where.name, path);
      });
    });
  }

  MKNOD(a: MknodArgs, ctx: RpcCallContext): Promise<DirOpRes> {
    return this.dirOp(a.where, async (d, path) => {
      const w = a.what;
      if (w.type === Ftype3.SOCK) return { status: Nfs3Status.NOTSUPP, dirWcc: await this.tree.wcc(d.stat, d.path) };
      if (w.type !== Ftype3.FIFO && w.type !== Ftype3.CHR && w.type !== Ftype3.BLK) {
        return { status: Nfs3Status.BADTYPE, dirWcc: await this.tree.wcc(d.stat, d.path) };
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
      return finishOrUndo(path, false, async () => {
        await applyOwner(path, w.attributes, ctx);
        return this.created(d, a.where.name, path);
      });
    });
  }

  private async removeEntry(dirFh: FileHandle, name: string, isDir: boolean): Promise<RemoveRes> {
    const d = await this.host.resolveDir(dirFh);
    if (isFail(d)) return { status: d.status, dirWcc: {} };
    if (this.tree.readOnly) return { status: Nfs3Status.ROFS, dirWcc: await this.tree.wcc(d.stat, d.path) };
    if (name === '.' || name === '..') {
      // RFC 1813 s3.3.13: RMDIR of "." is INVAL, of ".." EXIST.
      return { status: name === '..' && isDir ? Nfs3Status.EXIST : Nfs3Status.INVAL, dirWcc: await this.tree.wcc(d.stat, d.path) };
    }
    const bad = checkName(name);
    if (bad !== undefined) return { status: (bad === Nfs3Status.INVAL ? Nfs3Status.NOENT : bad) as Fail['status'], dirWcc: await this.tree.wcc(d.stat, d.path) };
    try {
      const isDirectory = await this.tree.inDir(d, async (dir) => {
        const path = join(dir, name);
        const st = await lstat(path, { bigint: true });
        if (!isDir && st.isDirectory()) return true;
        await (isDir ? rmdir : unlink)(path);
        if (isDir || st.nlink <= 1n) {
          this.tree.table.forget(st);
          this.tree.fds.drop(this.tree.key(st));
        }
        return false;
      });
      if (isDirectory) return { status: Nfs3Status.ISDIR, dirWcc: await this.tree.wcc(d.stat, d.path) };
    } catch (e) {
      return { status: statusOfError(e) as Fail['status'], dirWcc: await this.tree.wcc(d.stat, d.path) };
    }
    return { status: Nfs3Status.OK, dirWcc: await this.tree.wcc(d.stat, d.path) };
  }

  REMOVE(a: RemoveArgs): Promise<RemoveRes> {
    return this.removeEntry(a.object.dir, a.object.name, false);
  }

  RMDIR(a: RmdirArgs): Promise<RemoveRes> {
    return this.removeEntry(a.object.dir, a.object.name, true);
  }

  async RENAME(a: RenameArgs): Promise<RenameRes> {
    const from = await this.host.resolveDir(a.from.dir);
    const to = await this.host.resolveDir(a.to.dir);
    if (isFail(from) || isFail(to)) {
      const status = isFail(from) ? from.status : (to as Fail).status;
      return {
        status,
        fromdirWcc: isFail(from) ? {} : await this.tree.wcc(from.stat, from.path),
        todirWcc: isFail(to) ? {} : await this.tree.wcc(to.stat, to.path),
      };
    }
    const wccs = async () => ({ fromdirWcc: await this.tree.wcc(from.stat, from.path), todirWcc: await this.tree.wcc(to.stat, to.path) });
    if (this.tree.readOnly) return { status: Nfs3Status.ROFS, ...(await wccs()) };
    for (const n of [a.from.name, a.to.name]) {
      const bad = n === '.' || n === '..' ? Nfs3Status.INVAL : checkName(n);
      if (bad !== undefined) return { status: bad as Fail['status'], ...(await wccs()) };
    }
    try {
      await this.tree.inDir(from, (fromDir) =>
        this.tree.inDir(to, async (toDir) => {
          const src = join(fromDir, a.from.name);
          const dst = join(toDir, a.to.name);
          const st = await lstat(src, { bigint: true });
          const old = await this.tree.attrsOf(dst);
          await rename(src, dst);
          if (old && !(old.dev === st.dev && old.ino === st.ino)) this.tree.table.forget(old);
          this.tree.table.remember(to.stat, a.to.name, st);
        }),
      );
    } catch (e) {
      return { status: statusOfError(e) as Fail['status'], ...(await wccs()) };
    }
    return { status: Nfs3Status.OK, ...(await wccs()) };
  }

  async LINK(a: LinkArgs): Promise<LinkRes> {
    const f = await this.host.resolve(a.file);
    const d = await this.host.resolveDir(a.link.dir);
    if (isFail(f)) return { status: f.status, linkdirWcc: isFail(d) ? {} : await this.tree.wcc(d.stat, d.path) };
    if (isFail(d)) return { status: d.status, fileAttributes: fattrOf(f.stat), linkdirWcc: {} };
    const done = async (status: Nfs3Status) =>
      ({ status, fileAttributes: fattrOf((await this.tree.attrsOf(f.path)) ?? f.stat), linkdirWcc: await this.tree.wcc(d.stat, d.path) }) as LinkRes;
    if (this.tree.readOnly) return done(Nfs3Status.ROFS);
    const bad = checkName(a.link.name);
    if (bad !== undefined) return done(bad === Nfs3Status.INVAL ? Nfs3Status.EXIST : bad);
    if (f.stat.isDirectory()) return done(Nfs3Status.ISDIR);
    try {
      await this.tree.inDir(d, async (dir) => {
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

}
