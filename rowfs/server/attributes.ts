// Local file attributes -> NFSv3 attributes, and errno -> nfsstat3.
import type { BigIntStats } from 'node:fs';
import { Ftype3, Nfs3Status, type Fattr3, type NfsTime3, type WccAttr, type WccData } from '../nfs3/types.js';

const NS_PER_S = 1_000_000_000n;

export function nfsTime(ns: bigint): NfsTime3 {
  if (ns < 0n) return { seconds: 0, nseconds: 0 };
  const s = ns / NS_PER_S;
  return { seconds: Number(s & 0xffffffffn), nseconds: Number(ns % NS_PER_S) };
}

export function ftypeOf(st: BigIntStats): Ftype3 {
  if (st.isFile()) return Ftype3.REG;
  if (st.isDirectory()) return Ftype3.DIR;
  if (st.isSymbolicLink()) return Ftype3.LNK;
  if (st.isBlockDevice()) return Ftype3.BLK;
  if (st.isCharacterDevice()) return Ftype3.CHR;
  if (st.isFIFO()) return Ftype3.FIFO;
  return Ftype3.SOCK;
}

/** Linux dev_t encoding (glibc gnu_dev_major/minor). */
function major(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn & 0xffffffffn));
}
function minor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn & 0xffffffffn));
}

export function fattrOf(st: BigIntStats): Fattr3 {
  return {
    type: ftypeOf(st),
    mode: Number(st.mode & 0o7777n),
    nlink: Number(st.nlink & 0xffffffffn),
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: st.size,
    used: st.blocks * 512n,
    rdev: { specdata1: major(st.rdev), specdata2: minor(st.rdev) },
    fsid: st.dev,
    fileid: st.ino,
    atime: nfsTime(st.atimeNs),
    mtime: nfsTime(st.mtimeNs),
    ctime: nfsTime(st.ctimeNs),
  };
}

export function wccAttrOf(st: BigIntStats): WccAttr {
  return { size: st.size, mtime: nfsTime(st.mtimeNs), ctime: nfsTime(st.ctimeNs) };
}

/** Weak cache consistency data from the attributes before a change and, when read, after it. */
export function wccOf(before: BigIntStats, after: BigIntStats | undefined): WccData {
  return after ? { before: wccAttrOf(before), after: fattrOf(after) } : { before: wccAttrOf(before) };
}

const ERRNO_STATUS: Record<string, Nfs3Status> = {
  EPERM: Nfs3Status.PERM,
  ENOENT: Nfs3Status.NOENT,
  EIO: Nfs3Status.IO,
  ENXIO: Nfs3Status.NXIO,
  EACCES: Nfs3Status.ACCES,
  EEXIST: Nfs3Status.EXIST,
  EXDEV: Nfs3Status.XDEV,
  ENODEV: Nfs3Status.NODEV,
  ENOTDIR: Nfs3Status.NOTDIR,
  EISDIR: Nfs3Status.ISDIR,
  EINVAL: Nfs3Status.INVAL,
  EFBIG: Nfs3Status.FBIG,
  ENOSPC: Nfs3Status.NOSPC,
  EROFS: Nfs3Status.ROFS,
  EMLINK: Nfs3Status.MLINK,
  ENAMETOOLONG: Nfs3Status.NAMETOOLONG,
  ENOTEMPTY: Nfs3Status.NOTEMPTY,
  EDQUOT: Nfs3Status.DQUOT,
  ESTALE: Nfs3Status.STALE,
  ELOOP: Nfs3Status.INVAL,
  EOPNOTSUPP: Nfs3Status.NOTSUPP,
};

/** Maps a Node fs error to an NFS status (IO when unknown). */
export function statusOfError(err: unknown): Nfs3Status {
  const code = (err as { code?: string } | null)?.code;
  return (code && ERRNO_STATUS[code]) || Nfs3Status.IO;
}
