// NFS version 3 protocol types (RFC 1813 s2-3). Field names follow the RFC in camelCase; 64-bit
// quantities (sizes, offsets, file ids, cookies) are bigint so nothing is rounded; 8-byte
// verifiers are Uint8Array. Results are unions on `status`: narrow with `res.status === Nfs3Status.OK`.

import type { FileSlice } from '../xdr/file-slice.js';

export const NFS3_PROGRAM = 100003;
export const NFS3_VERSION = 3;
/** RFC 1813 s2.4: file handles are at most 64 bytes. */
export const NFS3_FHSIZE = 64;
export const NFS3_COOKIEVERFSIZE = 8;
export const NFS3_CREATEVERFSIZE = 8;
export const NFS3_WRITEVERFSIZE = 8;
/** Implementation caps enforced on decode and encode (not from the RFC). */
export const MAX_NAME_BYTES = 4096; // filename3; a server answers NAMETOOLONG above its own NAME_MAX
export const MAX_PATH_BYTES = 4096; // nfspath3 (MAXPATHLEN)
export const MAX_DATA_BYTES = 4 * 1024 * 1024; // READ/WRITE opaque data<>, within the RPC record cap
export const MAX_DIR_ENTRIES = 1 << 20; // entries in one READDIR/READDIRPLUS reply

export enum Nfs3Proc {
  NULL = 0,
  GETATTR = 1,
  SETATTR = 2,
  LOOKUP = 3,
  ACCESS = 4,
  READLINK = 5,
  READ = 6,
  WRITE = 7,
  CREATE = 8,
  MKDIR = 9,
  SYMLINK = 10,
  MKNOD = 11,
  REMOVE = 12,
  RMDIR = 13,
  RENAME = 14,
  LINK = 15,
  READDIR = 16,
  READDIRPLUS = 17,
  FSSTAT = 18,
  FSINFO = 19,
  PATHCONF = 20,
  COMMIT = 21,
}

export enum Nfs3Status {
  OK = 0,
  PERM = 1,
  NOENT = 2,
  IO = 5,
  NXIO = 6,
  ACCES = 13,
  EXIST = 17,
  XDEV = 18,
  NODEV = 19,
  NOTDIR = 20,
  ISDIR = 21,
  INVAL = 22,
  FBIG = 27,
  NOSPC = 28,
  ROFS = 30,
  MLINK = 31,
  NAMETOOLONG = 63,
  NOTEMPTY = 66,
  DQUOT = 69,
  STALE = 70,
  REMOTE = 71,
  BADHANDLE = 10001,
  NOT_SYNC = 10002,
  BAD_COOKIE = 10003,
  NOTSUPP = 10004,
  TOOSMALL = 10005,
  SERVERFAULT = 10006,
  BADTYPE = 10007,
  JUKEBOX = 10008,
}
export type Nfs3ErrorStatus = Exclude<Nfs3Status, Nfs3Status.OK>;

export enum Ftype3 {
  REG = 1,
  DIR = 2,
  BLK = 3,
  CHR = 4,
  LNK = 5,
  SOCK = 6,
  FIFO = 7,
}

export enum StableHow {
  UNSTABLE = 0,
  DATA_SYNC = 1,
  FILE_SYNC = 2,
}

export enum CreateMode {
  UNCHECKED = 0,
  GUARDED = 1,
  EXCLUSIVE = 2,
}

export enum TimeHow {
  DONT_CHANGE = 0,
  SET_TO_SERVER_TIME = 1,
  SET_TO_CLIENT_TIME = 2,
}

/** ACCESS bits (RFC 1813 s3.3.4). */
export const ACCESS3_READ = 0x0001;
export const ACCESS3_LOOKUP = 0x0002;
export const ACCESS3_MODIFY = 0x0004;
export const ACCESS3_EXTEND = 0x0008;
export const ACCESS3_DELETE = 0x0010;
export const ACCESS3_EXECUTE = 0x0020;
export const ACCESS3_ALL = 0x003f;

/** FSINFO properties (RFC 1813 s3.3.19). */
export const FSF3_LINK = 0x0001;
export const FSF3_SYMLINK = 0x0002;
export const FSF3_HOMOGENEOUS = 0x0008;
export const FSF3_CANSETTIME = 0x0010;

export type FileHandle = Uint8Array;

export interface NfsTime3 {
  seconds: number;
  nseconds: number;
}

export interface SpecData3 {
  specdata1: number;
  specdata2: number;
}

export interface Fattr3 {
  type: Ftype3;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: bigint;
  used: bigint;
  rdev: SpecData3;
  fsid: bigint;
  fileid: bigint;
  atime: NfsTime3;
  mtime: NfsTime3;
  ctime: NfsTime3;
}

export interface WccAttr {
  size: bigint;
  mtime: NfsTime3;
  ctime: NfsTime3;
}

/** Weak cache consistency data: attributes before and after an operation, each optional. */
export interface WccData {
  before?: WccAttr;
  after?: Fattr3;
}

export type SetTime = { how: TimeHow.SET_TO_SERVER_TIME } | { how: TimeHow.SET_TO_CLIENT_TIME; time: NfsTime3 };

/** Attributes to set; an absent field is left unchanged. */
export interface Sattr3 {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: bigint;
  atime?: SetTime;
  mtime?: SetTime;
}

export interface DirOpArgs3 {
  dir: FileHandle;
  name: string;
}

export type CreateHow3 =
  | { mode: CreateMode.UNCHECKED | CreateMode.GUARDED; attributes: Sattr3 }
  | { mode: CreateMode.EXCLUSIVE; verf: Uint8Array };

export type MknodData3 =
  | { type: Ftype3.CHR | Ftype3.BLK; attributes: Sattr3; spec: SpecData3 }
  | { type: Ftype3.SOCK | Ftype3.FIFO; attributes: Sattr3 }
  | { type: Ftype3.REG | Ftype3.DIR | Ftype3.LNK };

export interface Entry3 {
  fileid: bigint;
  name: string;
  cookie: bigint;
}

export interface EntryPlus3 extends Entry3 {
  nameAttributes?: Fattr3;
  nameHandle?: FileHandle;
}

/** A result: the OK arm with `Ok` fields, or an error status with `Fail` fields. */
export type Nfs3Result<Ok, Fail = {}> = ({ status: Nfs3Status.OK } & Ok) | ({ status: Nfs3ErrorStatus } & Fail);

// ---- arguments ----
export interface GetattrArgs { object: FileHandle }
export interface SetattrArgs { object: FileHandle; newAttributes: Sattr3; /** sattrguard3: only if ctime matches */ guard?: NfsTime3 }
export interface LookupArgs { what: DirOpArgs3 }
export interface AccessArgs { object: FileHandle; access: number }
export interface ReadlinkArgs { symlink: FileHandle }
export interface ReadArgs { file: FileHandle; offset: bigint; count: number }
export interface WriteArgs { file: FileHandle; offset: bigint; count: number; stable: StableHow; data: Uint8Array }
export interface CreateArgs { where: DirOpArgs3; how: CreateHow3 }
export interface MkdirArgs { where: DirOpArgs3; attributes: Sattr3 }
export interface SymlinkArgs { where: DirOpArgs3; symlinkAttributes: Sattr3; symlinkData: string }
export interface MknodArgs { where: DirOpArgs3; what: MknodData3 }
export interface RemoveArgs { object: DirOpArgs3 }
export interface RmdirArgs { object: DirOpArgs3 }
export interface RenameArgs { from: DirOpArgs3; to: DirOpArgs3 }
export interface LinkArgs { file: FileHandle; link: DirOpArgs3 }
export interface ReaddirArgs { dir: FileHandle; cookie: bigint; cookieverf: Uint8Array; count: number }
export interface ReaddirplusArgs { dir: FileHandle; cookie: bigint; cookieverf: Uint8Array; dircount: number; maxcount: number }
export interface FsstatArgs { fsroot: FileHandle }
export interface FsinfoArgs { fsroot: FileHandle }
export interface PathconfArgs { object: FileHandle }
export interface CommitArgs { file: FileHandle; offset: bigint; count: number }

// ---- results ----
export type GetattrRes = Nfs3Result<{ objAttributes: Fattr3 }>;
export type SetattrRes = Nfs3Result<{ objWcc: WccData }, { objWcc: WccData }>;
export type LookupRes = Nfs3Result<{ object: FileHandle; objAttributes?: Fattr3; dirAttributes?: Fattr3 }, { dirAttributes?: Fattr3 }>;
export type AccessRes = Nfs3Result<{ objAttributes?: Fattr3; access: number }, { objAttributes?: Fattr3 }>;
export type ReadlinkRes = Nfs3Result<{ symlinkAttributes?: Fattr3; data: string }, { symlinkAttributes?: Fattr3 }>;
/** `dataFile` (encoding only): the data is that file range, sent by reference; `data` is then empty. */
export type ReadRes = Nfs3Result<{ fileAttributes?: Fattr3; count: number; eof: boolean; data: Uint8Array; dataFile?: FileSlice }, { fileAttributes?: Fattr3 }>;
export type WriteRes = Nfs3Result<{ fileWcc: WccData; count: number; committed: StableHow; verf: Uint8Array }, { fileWcc: WccData }>;
/** CREATE, MKDIR, SYMLINK and MKNOD share this result shape (diropres3). */
export type DirOpRes = Nfs3Result<{ obj?: FileHandle; objAttributes?: Fattr3; dirWcc: WccData }, { dirWcc: WccData }>;
export type CreateRes = DirOpRes;
export type MkdirRes = DirOpRes;
export type SymlinkRes = DirOpRes;
export type MknodRes = DirOpRes;
export type RemoveRes = Nfs3Result<{ dirWcc: WccData }, { dirWcc: WccData }>;
export type RmdirRes = RemoveRes;
export type RenameRes = Nfs3Result<{ fromdirWcc: WccData; todirWcc: WccData }, { fromdirWcc: WccData; todirWcc: WccData }>;
export type LinkRes = Nfs3Result<{ fileAttributes?: Fattr3; linkdirWcc: WccData }, { fileAttributes?: Fattr3; linkdirWcc: WccData }>;
export type ReaddirRes = Nfs3Result<
  { dirAttributes?: Fattr3; cookieverf: Uint8Array; entries: Entry3[]; eof: boolean },
  { dirAttributes?: Fattr3 }
>;
export type ReaddirplusRes = Nfs3Result<
  { dirAttributes?: Fattr3; cookieverf: Uint8Array; entries: EntryPlus3[]; eof: boolean },
  { dirAttributes?: Fattr3 }
>;
export type FsstatRes = Nfs3Result<
  { objAttributes?: Fattr3; tbytes: bigint; fbytes: bigint; abytes: bigint; tfiles: bigint; ffiles: bigint; afiles: bigint; invarsec: number },
  { objAttributes?: Fattr3 }
>;
export type FsinfoRes = Nfs3Result<
  {
    objAttributes?: Fattr3;
    rtmax: number;
    rtpref: number;
    rtmult: number;
    wtmax: number;
    wtpref: number;
    wtmult: number;
    dtpref: number;
    maxfilesize: bigint;
    timeDelta: NfsTime3;
    properties: number;
  },
  { objAttributes?: Fattr3 }
>;
export type PathconfRes = Nfs3Result<
  {
    objAttributes?: Fattr3;
    linkmax: number;
    nameMax: number;
    noTrunc: boolean;
    chownRestricted: boolean;
    caseInsensitive: boolean;
    casePreserving: boolean;
  },
  { objAttributes?: Fattr3 }
>;
export type CommitRes = Nfs3Result<{ fileWcc: WccData; verf: Uint8Array }, { fileWcc: WccData }>;
