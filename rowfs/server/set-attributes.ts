// Applying NFS sattr3 values (RFC 1813 s2.5.6) to a local object, and the owner of a new object.
// Synchronous system calls on the calling thread (inline-fs.ts says why).
import { isRegularFile, isSymlink, isDirectory } from './attributes.js';
import {
  chmodSync,
  chownSync,
  fchmodSync,
  fchownSync,
  ftruncateSync,
  futimesSync,
  lchownSync,
  lstatSync,
  lutimesSync,
  statSync,
  truncateSync,
  utimesSync,
  type BigIntStats,
} from 'node:fs';
import type { RpcCallContext } from '../rpc/dispatch.js';
import { MAX_FILE_BYTES } from '../nfs3/ranges.js';
import { TimeHow, type Sattr3 } from '../nfs3/types.js';

/**
 * This process's identity, read once: each process.get*id() is a system call, three per create
 * (the server never changes its identity).
 */
const self = { uid: process.getuid?.(), euid: process.geteuid?.(), egid: process.getegid?.() };

/** Owner for a new object: explicit attributes, else the caller's AUTH_SYS identity (only when we are root; -1 keeps). */
function newOwner(attrs: Sattr3, ctx: RpcCallContext): { uid: number; gid: number } | undefined {
  if (self.uid !== 0) return undefined;
  const uid = attrs.uid ?? ctx.authSys?.uid;
  const gid = attrs.gid ?? ctx.authSys?.gid;
  if (uid === undefined && gid === undefined) return undefined;
  return { uid: uid ?? -1, gid: gid ?? -1 };
}

/** Gives the new object at `path` its owner (newOwner). */
export function applyOwner(path: string, attrs: Sattr3, ctx: RpcCallContext): void {
  const o = newOwner(attrs, ctx);
  if (o) lchownSync(path, o.uid, o.gid);
}

/**
 * Gives the new file open as descriptor `fd` in directory `dir` its owner (newOwner), through the
 * descriptor; no call when open(2) gave it that owner already: our uid, and a gid that is both ours
 * and the directory's (a new file takes one or the other, by the setgid bit and mount options).
 */
export function applyOwnerTo(fd: number, attrs: Sattr3, ctx: RpcCallContext, dir: BigIntStats): void {
  const o = newOwner(attrs, ctx);
  if (!o) return;
  const uidGiven = o.uid === -1 || o.uid === self.euid;
  const gidGiven = o.gid === -1 || (o.gid === self.egid && BigInt(o.gid) === dir.gid);
  if (!uidGiven || !gidGiven) fchownSync(fd, o.uid, o.gid);
}

/**
 * Sets `a` on the object at `path` whose attributes were `st`; `wallNowMs` is SET_TO_SERVER_TIME.
 * `viaFd`: `path` is a descriptor's /proc path (ExportTree.atObject), so the calls that follow symlinks are used.
 */
export function applySattr(path: string, st: BigIntStats, a: Sattr3, wallNowMs: () => number, viaFd = false): void {
  if (a.size !== undefined) {
    if (!isRegularFile(st)) throw Object.assign(new Error('size on non-file'), { code: isDirectory(st) ? 'EISDIR' : 'EINVAL' });
    if (a.size > BigInt(MAX_FILE_BYTES)) throw Object.assign(new Error('size'), { code: 'EFBIG' });
    truncateSync(path, Number(a.size));
  }
  if (a.mode !== undefined && !isSymlink(st)) chmodSync(path, a.mode & 0o7777);
  if (a.uid !== undefined || a.gid !== undefined) (viaFd ? chownSync : lchownSync)(path, a.uid ?? -1, a.gid ?? -1);
  if (a.atime || a.mtime) {
    // The current times only for one that stays (both set: no stat).
    const cur = a.atime && a.mtime ? undefined : (viaFd ? statSync : lstatSync)(path, { bigint: true });
    (viaFd ? utimesSync : lutimesSync)(path, ...timesFor(a, cur, wallNowMs));
  }
}

/**
 * Like applySattr, on the regular file open for writing as `fd` whose attributes are `st` (no
 * path, and no stat: the times that stay come from `st`).
 */
export function applySattrToFd(fd: number, st: BigIntStats, a: Sattr3, wallNowMs: () => number): void {
  if (a.size !== undefined) {
    if (a.size > BigInt(MAX_FILE_BYTES)) throw Object.assign(new Error('size'), { code: 'EFBIG' });
    ftruncateSync(fd, Number(a.size));
  }
  if (a.mode !== undefined) fchmodSync(fd, a.mode & 0o7777);
  if (a.uid !== undefined || a.gid !== undefined) fchownSync(fd, a.uid ?? -1, a.gid ?? -1);
  if (a.atime || a.mtime) {
    futimesSync(fd, ...timesFor(a, st, wallNowMs));
  }
}

/** The atime and mtime (seconds) a SETATTR asks for; one it leaves as is comes from `cur`. */
function timesFor(a: Sattr3, cur: { atimeNs: bigint; mtimeNs: bigint } | undefined, wallNowMs: () => number): [number, number] {
  const now = wallNowMs() / 1000;
  const pick = (t: Sattr3['atime'], curNs: bigint | undefined) =>
    !t ? Number(curNs) / 1e9 : t.how === TimeHow.SET_TO_SERVER_TIME ? now : t.time.seconds + t.time.nseconds / 1e9;
  return [pick(a.atime, cur?.atimeNs), pick(a.mtime, cur?.mtimeNs)];
}
