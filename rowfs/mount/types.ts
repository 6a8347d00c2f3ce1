// MOUNT protocol version 3 (RFC 1813 appendix I). Paths (dirpath) are at most 1024 bytes,
// host names 255, handles 64.
import type { FileHandle } from '../nfs3/types.js';

export const MOUNT_PROGRAM = 100005;
export const MOUNT_VERSION = 3;
export const MNTPATHLEN = 1024;
export const MNTNAMLEN = 255;
export const FHSIZE3 = 64;
/** Implementation cap on list lengths in DUMP/EXPORT replies. */
export const MAX_MOUNT_LIST = 65536;

export enum MountProc {
  NULL = 0,
  MNT = 1,
  DUMP = 2,
  UMNT = 3,
  UMNTALL = 4,
  EXPORT = 5,
}

export enum MountStatus {
  OK = 0,
  PERM = 1,
  NOENT = 2,
  IO = 5,
  ACCES = 13,
  NOTDIR = 20,
  INVAL = 22,
  NAMETOOLONG = 63,
  NOTSUPP = 10004,
  SERVERFAULT = 10006,
}

export type MntRes =
  | { status: MountStatus.OK; fhandle: FileHandle; authFlavors: number[] }
  | { status: Exclude<MountStatus, MountStatus.OK> };

export interface MountEntry {
  hostname: string;
  directory: string;
}

export interface ExportEntry {
  dir: string;
  groups: string[];
}
