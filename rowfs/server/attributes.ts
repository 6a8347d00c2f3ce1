// Local file attributes -> NFSv3 attributes, and errno -> nfsstat3.
import type { BigIntStats } from 'node:fs';
import { Ftype3, Nfs3Status, type Fattr3, type NfsTime3, type WccAttr, type WccData } from '../nfs3/types.js';

const NS_PER_S = 1_000_000_000n;

export function nfsTime(ns: bigint): NfsTime3 {
  if (ns < 0n) return { seconds: 0, nseconds: 0 };
  const s = ns / NS_PER_S;
  // Seconds wrap at 2^32 (nfstime3's u32, in 2106); ns / 1e9 is exact as a Number until 2^53.
  return { seconds: Number(s) % 2 ** 32, nseconds: Number(ns % NS_PER_S) };
}

// Numbers, not BigIntStats' isFile() and friends: each of those builds BigInts to compare.
const S_IFMT = 0o170000;
const FTYPE_BY_FORMAT = new Map<number, Ftype3>([
  [0o100000, Ftype3.REG],
  [0o040000, Ftype3.DIR],
  [0o120000, Ftype3.LNK],
  [0o060000, Ftype3.BLK],
  [0o020000, Ftype3.CHR],
  [0o010000, Ftype3.FIFO],
]);

export function ftypeOf(st: BigIntStats): Ftype3 {
  return FTYPE_BY_FORMAT.get(Number(st.mode) & S_IFMT) ?? Ftype3.SOCK;
}

/** st.isDirectory(), st.isFile() and st.isSymbolicLink() without BigInts. */
export const isDirectory = (st: BigIntStats): boolean => (Number(st.mode) & S_IFMT) === 0o040000;
export const isRegularFile = (st: BigIntStats): boolean => (Number(st.mode) & S_IFMT) === 0o100000;
export const isSymlink = (st: BigIntStats): boolean => (Number(st.mode) & S_IFMT) === 0o120000;

/** Linux dev_t encoding (glibc gnu_dev_major/minor). */
function major(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn & 0xffffffffn));
}
function minor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn & 0xffffffffn));
}

export function fattrOf(st: BigIntStats): Fattr3 {
  const rdev = st.rdev;
  return {
    type: ftypeOf(st),
    mode: Number(st.mode) & 0o7777,
    nlink: Number(st.nlink) % 2 ** 32,
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: st.size,
    used: st.blocks * 512n,
    // Files and directories have no device number: no BigInt arithmetic for them.
    rdev: rdev === 0n ? { specdata1: 0, specdata2: 0 } : { specdata1: major(rdev), specdata2: minor(rdev) },
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
