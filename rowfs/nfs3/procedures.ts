// Codecs for all 22 NFSv3 procedures (RFC 1813 s3.3): arguments and results, each both ways, so
// the same table serves the client (encode args, decode results), the server (decode args, encode
// results) and a proxy (all four).
import { XdrError } from '../xdr/errors.js';
import type { XdrReader } from '../xdr/reader.js';
import type { XdrWriter } from '../xdr/writer.js';
import type { ProcedureCodec } from '../rpc/procedure-codec.js';
import {
  readDirOp,
  readFattr,
  readFh,
  readName,
  readPostOpAttr,
  readPostOpFh,
  readSattr,
  readSpec,
  readStatus,
  readTime,
  readVerf,
  readWcc,
  writeDirOp,
  writeFattr,
  writeFh,
  writeName,
  writePostOpAttr,
  writePostOpFh,
  writeSattr,
  writeSpec,
  writeStatus,
  writeTime,
  writeVerf,
  writeWcc,
} from './basic-codec.js';
import {
  CreateMode,
  Ftype3,
  MAX_DATA_BYTES,
  MAX_DIR_ENTRIES,
  MAX_PATH_BYTES,
  Nfs3Proc,
  Nfs3Status,
  StableHow,
  type AccessArgs,
  type AccessRes,
  type CommitArgs,
  type CommitRes,
  type CreateArgs,
  type CreateHow3,
  type DirOpRes,
  type Entry3,
  type EntryPlus3,
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
  type MknodData3,
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
} from './types.js';


const STABLE = new Set([0, 1, 2]);

/** Builds result codecs from the OK-arm and fail-arm field codecs. */
function resultCodec<R extends { status: Nfs3Status }>(
  readOk: (r: XdrReader) => object,
  writeOk: (w: XdrWriter, res: any) => void,
  readFail: (r: XdrReader) => object,
  writeFail: (w: XdrWriter, res: any) => void,
): Pick<ProcedureCodec<unknown, R>, 'encodeRes' | 'decodeRes'> {
  return {
    encodeRes(w, res) {
      writeStatus(w, res.status);
      if (res.status === Nfs3Status.OK) writeOk(w, res);
      else writeFail(w, res);
    },
    decodeRes(r) {
      const status = readStatus(r);
      return { status, ...(status === Nfs3Status.OK ? readOk(r) : readFail(r)) } as unknown as R;
    },
  };
}

const none = () => ({});
const writeNone = () => undefined;

function postOp<K extends string>(key: K) {
  return {
    read: (r: XdrReader) => optionalField(key, readPostOpAttr(r)),
    write: (w: XdrWriter, res: Record<string, any>) => writePostOpAttr(w, res[key]),
  };
}
/** Omits undefined optional fields, so decoded values compare equal to what was encoded. */
function optionalField<K extends string, V>(key: K, v: V | undefined): Partial<Record<K, V>> {
  return v === undefined ? {} : ({ [key]: v } as Record<K, V>);
}

export const NULL: ProcedureCodec<void, void> = {
  proc: Nfs3Proc.NULL,
  name: 'NULL',
  encodeArgs: () => undefined,
  decodeArgs: () => undefined,
  encodeRes: () => undefined,
  decodeRes: () => undefined,
};

export const GETATTR: ProcedureCodec<GetattrArgs, GetattrRes> = {
  proc: Nfs3Proc.GETATTR,
  name: 'GETATTR',
  encodeArgs: (w, a) => writeFh(w, a.object),
  decodeArgs: (r) => ({ object: readFh(r) }),
  ...resultCodec<GetattrRes>((r) => ({ objAttributes: readFattr(r) }), (w, res) => writeFattr(w, res.objAttributes), none, writeNone),
};

export const SETATTR: ProcedureCodec<SetattrArgs, SetattrRes> = {
  proc: Nfs3Proc.SETATTR,
  name: 'SETATTR',
  encodeArgs: (w, a) => {
    writeFh(w, a.object);
    writeSattr(w, a.newAttributes);
    w.optional(a.guard, writeTime);
  },
  decodeArgs: (r) => {
    const object = readFh(r);
    const newAttributes = readSattr(r);
    return { object, newAttributes, ...optionalField('guard', r.optional(readTime)) };
  },
  ...resultCodec<SetattrRes>(
    (r) => ({ objWcc: readWcc(r) }),
    (w, res) => writeWcc(w, res.objWcc),
    (r) => ({ objWcc: readWcc(r) }),
    (w, res) => writeWcc(w, res.objWcc),
  ),
};

export const LOOKUP: ProcedureCodec<LookupArgs, LookupRes> = {
  proc: Nfs3Proc.LOOKUP,
  name: 'LOOKUP',
  encodeArgs: (w, a) => writeDirOp(w, a.what),
  decodeArgs: (r) => ({ what: readDirOp(r) }),
  ...resultCodec<LookupRes>(
    (r) => ({ object: readFh(r), ...optionalField('objAttributes', readPostOpAttr(r)), ...optionalField('dirAttributes', readPostOpAttr(r)) }),
    (w, res) => {
      writeFh(w, res.object);
      writePostOpAttr(w, res.objAttributes);
      writePostOpAttr(w, res.dirAttributes);
    },
    postOp('dirAttributes').read,
    postOp('dirAttributes').write,
  ),
};

export const ACCESS: ProcedureCodec<AccessArgs, AccessRes> = {
  proc: Nfs3Proc.ACCESS,
  name: 'ACCESS',
  encodeArgs: (w, a) => {
    writeFh(w, a.object);
    w.uint32(a.access);
  },
  decodeArgs: (r) => ({ object: readFh(r), access: r.uint32() }),
  ...resultCodec<AccessRes>(
    (r) => ({ ...optionalField('objAttributes', readPostOpAttr(r)), access: r.uint32() }),
    (w, res) => {
      writePostOpAttr(w, res.objAttributes);
      w.uint32(res.access);
    },
    postOp('objAttributes').read,
    postOp('objAttributes').write,
  ),
};

export const READLINK: ProcedureCodec<ReadlinkArgs, ReadlinkRes> = {
  proc: Nfs3Proc.READLINK,
  name: 'READLINK',
  encodeArgs: (w, a) => writeFh(w, a.symlink),
  decodeArgs: (r) => ({ symlink: readFh(r) }),
  ...resultCodec<ReadlinkRes>(
    (r) => ({ ...optionalField('symlinkAttributes', readPostOpAttr(r)), data: r.string(MAX_PATH_BYTES) }),
    (w, res) => {
      writePostOpAttr(w, res.symlinkAttributes);
      w.string(res.data, MAX_PATH_BYTES);
    },
    postOp('symlinkAttributes').read,
    postOp('symlinkAttributes').write,
  ),
};

export const READ: ProcedureCodec<ReadArgs, ReadRes> = {
  proc: Nfs3Proc.READ,
  name: 'READ',
  encodeArgs: (w, a) => {
    writeFh(w, a.file);
    w.uint64(a.offset).uint32(a.count);
  },
  decodeArgs: (r) => ({ file: readFh(r), offset: r.uint64(), count: r.uint32() }),
  ...resultCodec<ReadRes>(
    (r) => ({ ...optionalField('fileAttributes', readPostOpAttr(r)), count: r.uint32(), eof: r.bool(), data: r.opaque(MAX_DATA_BYTES) }),
    (w, res) => {
      writePostOpAttr(w, res.fileAttributes);
      // By reference: a READ reply's data goes to the socket without being copied (from a file
      // range by sendfile when the transport can).
      w.uint32(res.count).bool(res.eof);
      if (res.dataFile) w.opaqueFile(res.dataFile, MAX_DATA_BYTES);
      else w.opaqueRef(res.data, MAX_DATA_BYTES);
    },
    postOp('fileAttributes').read,
    postOp('fileAttributes').write,
  ),
};

export const WRITE: ProcedureCodec<WriteArgs, WriteRes> = {
  proc: Nfs3Proc.WRITE,
  name: 'WRITE',
  encodeArgs: (w, a) => {
    writeFh(w, a.file);
    w.uint64(a.offset).uint32(a.count).int32(a.stable).opaqueRef(a.data, MAX_DATA_BYTES);
  },
  decodeArgs: (r) => ({
    file: readFh(r),
    offset: r.uint64(),
    count: r.uint32(),
    stable: r.enumOf<StableHow>(STABLE, 'stable_how'),
    data: r.opaque(MAX_DATA_BYTES),
  }),
  ...resultCodec<WriteRes>(
    (r) => ({ fileWcc: readWcc(r), count: r.uint32(), committed: r.enumOf<StableHow>(STABLE, 'stable_how'), verf: readVerf(r) }),
    (w, res) => {
      writeWcc(w, res.fileWcc);
      w.uint32(res.count).int32(res.committed);
      writeVerf(w, res.verf);
    },
    (r) => ({ fileWcc: readWcc(r) }),
    (w, res) => writeWcc(w, res.fileWcc),
  ),
};

/** diropres3, shared by CREATE, MKDIR, SYMLINK, MKNOD. */
const dirOpRes = resultCodec<DirOpRes>(
  (r) => ({ ...optionalField('obj', readPostOpFh(r)), ...optionalField('objAttributes', readPostOpAttr(r)), dirWcc: readWcc(r) }),
  (w, res) => {
    writePostOpFh(w, res.obj);
    writePostOpAttr(w, res.objAttributes);
    writeWcc(w, res.dirWcc);
  },
  (r) => ({ dirWcc: readWcc(r) }),
  (w, res) => writeWcc(w, res.dirWcc),
);

function readCreateHow(r: XdrReader): CreateHow3 {
  const mode = r.uint32();
  if (mode === CreateMode.UNCHECKED || mode === CreateMode.GUARDED) return { mode, attributes: readSattr(r) };
  if (mode === CreateMode.EXCLUSIVE) return { mode, verf: readVerf(r) };
  throw new XdrError('BAD_VALUE', `createmode3 ${mode}`);
}
function writeCreateHow(w: XdrWriter, h: CreateHow3): void {
  w.uint32(h.mode);
  if (h.mode === CreateMode.EXCLUSIVE) writeVerf(w, h.verf);
  else writeSattr(w, h.attributes);
}

export const CREATE: ProcedureCodec<CreateArgs, DirOpRes> = {
  proc: Nfs3Proc.CREATE,
  name: 'CREATE',
  encodeArgs: (w, a) => {
    writeDirOp(w, a.where);
    writeCreateHow(w, a.how);
  },
  decodeArgs: (r) => ({ where: readDirOp(r), how: readCreateHow(r) }),
  ...dirOpRes,
};

export const MKDIR: ProcedureCodec<MkdirArgs, DirOpRes> = {
  proc: Nfs3Proc.MKDIR,
  name: 'MKDIR',
  encodeArgs: (w, a) => {
    writeDirOp(w, a.where);
    writeSattr(w, a.attributes);
  },
  decodeArgs: (r) => ({ where: readDirOp(r), attributes: readSattr(r) }),
  ...dirOpRes,
};

export const SYMLINK: ProcedureCodec<SymlinkArgs, DirOpRes> = {
  proc: Nfs3Proc.SYMLINK,
  name: 'SYMLINK',
  encodeArgs: (w, a) => {
    writeDirOp(w, a.where);
    writeSattr(w, a.symlinkAttributes);
    w.string(a.symlinkData, MAX_PATH_BYTES);
  },
  decodeArgs: (r) => ({ where: readDirOp(r), symlinkAttributes: readSattr(r), symlinkData: r.string(MAX_PATH_BYTES) }),
  ...dirOpRes,
};

const FTYPES = new Set([1, 2, 3, 4, 5, 6, 7]);
function readMknodData(r: XdrReader): MknodData3 {
  const type = r.enumOf<Ftype3>(FTYPES, 'ftype3');
  if (type === Ftype3.CHR || type === Ftype3.BLK) return { type, attributes: readSattr(r), spec: readSpec(r) };
  if (type === Ftype3.SOCK || type === Ftype3.FIFO) return { type, attributes: readSattr(r) };
  return { type };
}
function writeMknodData(w: XdrWriter, d: MknodData3): void {
  w.int32(d.type);
  if (d.type === Ftype3.CHR || d.type === Ftype3.BLK) {
    writeSattr(w, d.attributes);
    writeSpec(w, d.spec);
  } else if (d.type === Ftype3.SOCK || d.type === Ftype3.FIFO) {
    writeSattr(w, d.attributes);
  }
}

export const MKNOD: ProcedureCodec<MknodArgs, DirOpRes> = {
  proc: Nfs3Proc.MKNOD,
  name: 'MKNOD',
  encodeArgs: (w, a) => {
    writeDirOp(w, a.where);
    writeMknodData(w, a.what);
  },
  decodeArgs: (r) => ({ where: readDirOp(r), what: readMknodData(r) }),
  ...dirOpRes,
};

const dirWccRes = resultCodec<RemoveRes>(
  (r) => ({ dirWcc: readWcc(r) }),
  (w, res) => writeWcc(w, res.dirWcc),
  (r) => ({ dirWcc: readWcc(r) }),
  (w, res) => writeWcc(w, res.dirWcc),
);

export const REMOVE: ProcedureCodec<RemoveArgs, RemoveRes> = {
  proc: Nfs3Proc.REMOVE,
  name: 'REMOVE',
  encodeArgs: (w, a) => writeDirOp(w, a.object),
  decodeArgs: (r) => ({ object: readDirOp(r) }),
  ...dirWccRes,
};

export const RMDIR: ProcedureCodec<RmdirArgs, RemoveRes> = {
  proc: Nfs3Proc.RMDIR,
  name: 'RMDIR',
  encodeArgs: (w, a) => writeDirOp(w, a.object),
  decodeArgs: (r) => ({ object: readDirOp(r) }),
  ...dirWccRes,
};

const renameArms = {
  read: (r: XdrReader) => ({ fromdirWcc: readWcc(r), todirWcc: readWcc(r) }),
  write: (w: XdrWriter, res: RenameRes) => {
    writeWcc(w, res.fromdirWcc);
    writeWcc(w, res.todirWcc);
  },
};
export const RENAME: ProcedureCodec<RenameArgs, RenameRes> = {
  proc: Nfs3Proc.RENAME,
  name: 'RENAME',
  encodeArgs: (w, a) => {
    writeDirOp(w, a.from);
    writeDirOp(w, a.to);
  },
  decodeArgs: (r) => ({ from: readDirOp(r), to: readDirOp(r) }),
  ...resultCodec<RenameRes>(renameArms.read, renameArms.write, renameArms.read, renameArms.write),
};

const linkArms = {
  read: (r: XdrReader) => ({ ...optionalField('fileAttributes', readPostOpAttr(r)), linkdirWcc: readWcc(r) }),
  write: (w: XdrWriter, res: LinkRes) => {
    writePostOpAttr(w, res.fileAttributes);
    writeWcc(w, res.linkdirWcc);
  },
};
export const LINK: ProcedureCodec<LinkArgs, LinkRes> = {
  proc: Nfs3Proc.LINK,
  name: 'LINK',
  encodeArgs: (w, a) => {
    writeFh(w, a.file);
    writeDirOp(w, a.link);
  },
  decodeArgs: (r) => ({ file: readFh(r), link: readDirOp(r) }),
  ...resultCodec<LinkRes>(linkArms.read, linkArms.write, linkArms.read, linkArms.write),
};

function readEntry(r: XdrReader): Entry3 {
  return { fileid: r.uint64(), name: readName(r), cookie: r.uint64() };
}
function writeEntry(w: XdrWriter, e: Entry3): void {
  w.uint64(e.fileid);
  writeName(w, e.name);
  w.uint64(e.cookie);
}
function readEntryPlus(r: XdrReader): EntryPlus3 {
  const e: EntryPlus3 = readEntry(r);
  const attrs = readPostOpAttr(r);
  const fh = readPostOpFh(r);
  if (attrs) e.nameAttributes = attrs;
  if (fh) e.nameHandle = fh;
  return e;
}
function writeEntryPlus(w: XdrWriter, e: EntryPlus3): void {
  writeEntry(w, e);
  writePostOpAttr(w, e.nameAttributes);
  writePostOpFh(w, e.nameHandle);
}

export const READDIR: ProcedureCodec<ReaddirArgs, ReaddirRes> = {
  proc: Nfs3Proc.READDIR,
  name: 'READDIR',
  encodeArgs: (w, a) => {
    writeFh(w, a.dir);
    w.uint64(a.cookie);
    writeVerf(w, a.cookieverf);
    w.uint32(a.count);
  },
  decodeArgs: (r) => ({ dir: readFh(r), cookie: r.uint64(), cookieverf: readVerf(r), count: r.uint32() }),
  ...resultCodec<ReaddirRes>(
    (r) => ({
      ...optionalField('dirAttributes', readPostOpAttr(r)),
      cookieverf: readVerf(r),
      entries: r.list(MAX_DIR_ENTRIES, readEntry),
      eof: r.bool(),
    }),
    (w, res) => {
      writePostOpAttr(w, res.dirAttributes);
      writeVerf(w, res.cookieverf);
      w.list(res.entries, MAX_DIR_ENTRIES, writeEntry);
      w.bool(res.eof);
    },
    postOp('dirAttributes').read,
    postOp('dirAttributes').write,
  ),
};

export const READDIRPLUS: ProcedureCodec<ReaddirplusArgs, ReaddirplusRes> = {
  proc: Nfs3Proc.READDIRPLUS,
  name: 'READDIRPLUS',
  encodeArgs: (w, a) => {
    writeFh(w, a.dir);
    w.uint64(a.cookie);
    writeVerf(w, a.cookieverf);
    w.uint32(a.dircount).uint32(a.maxcount);
  },
  decodeArgs: (r) => ({ dir: readFh(r), cookie: r.uint64(), cookieverf: readVerf(r), dircount: r.uint32(), maxcount: r.uint32() }),
  ...resultCodec<ReaddirplusRes>(
    (r) => ({
      ...optionalField('dirAttributes', readPostOpAttr(r)),
      cookieverf: readVerf(r),
      entries: r.list(MAX_DIR_ENTRIES, readEntryPlus),
      eof: r.bool(),
    }),
    (w, res) => {
      writePostOpAttr(w, res.dirAttributes);
      writeVerf(w, res.cookieverf);
      w.list(res.entries, MAX_DIR_ENTRIES, writeEntryPlus);
      w.bool(res.eof);
    },
    postOp('dirAttributes').read,
    postOp('dirAttributes').write,
  ),
};

export const FSSTAT: ProcedureCodec<FsstatArgs, FsstatRes> = {
  proc: Nfs3Proc.FSSTAT,
  name: 'FSSTAT',
  encodeArgs: (w, a) => writeFh(w, a.fsroot),
  decodeArgs: (r) => ({ fsroot: readFh(r) }),
  ...resultCodec<FsstatRes>(
    (r) => ({
      ...optionalField('objAttributes', readPostOpAttr(r)),
      tbytes: r.uint64(),
      fbytes: r.uint64(),
      abytes: r.uint64(),
      tfiles: r.uint64(),
      ffiles: r.uint64(),
      afiles: r.uint64(),
      invarsec: r.uint32(),
    }),
    (w, res) => {
      writePostOpAttr(w, res.objAttributes);
      w.uint64(res.tbytes).uint64(res.fbytes).uint64(res.abytes).uint64(res.tfiles).uint64(res.ffiles).uint64(res.afiles);
      w.uint32(res.invarsec);
    },
    postOp('objAttributes').read,
    postOp('objAttributes').write,
  ),
};

export const FSINFO: ProcedureCodec<FsinfoArgs, FsinfoRes> = {
  proc: Nfs3Proc.FSINFO,
  name: 'FSINFO',
  encodeArgs: (w, a) => writeFh(w, a.fsroot),
  decodeArgs: (r) => ({ fsroot: readFh(r) }),
  ...resultCodec<FsinfoRes>(
    (r) => ({
      ...optionalField('objAttributes', readPostOpAttr(r)),
      rtmax: r.uint32(),
      rtpref: r.uint32(),
      rtmult: r.uint32(),
      wtmax: r.uint32(),
      wtpref: r.uint32(),
      wtmult: r.uint32(),
      dtpref: r.uint32(),
      maxfilesize: r.uint64(),
      timeDelta: readTime(r),
      properties: r.uint32(),
    }),
    (w, res) => {
      writePostOpAttr(w, res.objAttributes);
      w.uint32(res.rtmax).uint32(res.rtpref).uint32(res.rtmult).uint32(res.wtmax).uint32(res.wtpref).uint32(res.wtmult);
      w.uint32(res.dtpref).uint64(res.maxfilesize);
      writeTime(w, res.timeDelta);
      w.uint32(res.properties);
    },
    postOp('objAttributes').read,
    postOp('objAttributes').write,
  ),
};

export const PATHCONF: ProcedureCodec<PathconfArgs, PathconfRes> = {
  proc: Nfs3Proc.PATHCONF,
  name: 'PATHCONF',
  encodeArgs: (w, a) => writeFh(w, a.object),
  decodeArgs: (r) => ({ object: readFh(r) }),
  ...resultCodec<PathconfRes>(
    (r) => ({
      ...optionalField('objAttributes', readPostOpAttr(r)),
      linkmax: r.uint32(),
      nameMax: r.uint32(),
      noTrunc: r.bool(),
      chownRestricted: r.bool(),
      caseInsensitive: r.bool(),
      casePreserving: r.bool(),
    }),
    (w, res) => {
      writePostOpAttr(w, res.objAttributes);
      w.uint32(res.linkmax).uint32(res.nameMax).bool(res.noTrunc).bool(res.chownRestricted).bool(res.caseInsensitive).bool(res.casePreserving);
    },
    postOp('objAttributes').read,
    postOp('objAttributes').write,
  ),
};

export const COMMIT: ProcedureCodec<CommitArgs, CommitRes> = {
  proc: Nfs3Proc.COMMIT,
  name: 'COMMIT',
  encodeArgs: (w, a) => {
    writeFh(w, a.file);
    w.uint64(a.offset).uint32(a.count);
  },
  decodeArgs: (r) => ({ file: readFh(r), offset: r.uint64(), count: r.uint32() }),
  ...resultCodec<CommitRes>(
    (r) => ({ fileWcc: readWcc(r), verf: readVerf(r) }),
    (w, res) => {
      writeWcc(w, res.fileWcc);
      writeVerf(w, res.verf);
    },
    (r) => ({ fileWcc: readWcc(r) }),
    (w, res) => writeWcc(w, res.fileWcc),
  ),
};

/** Every procedure by name, in procedure-number order. */
export const NFS3_PROCEDURES = {
  NULL,
  GETATTR,
  SETATTR,
  LOOKUP,
  ACCESS,
  READLINK,
  READ,
  WRITE,
  CREATE,
  MKDIR,
  SYMLINK,
  MKNOD,
  REMOVE,
  RMDIR,
  RENAME,
  LINK,
  READDIR,
  READDIRPLUS,
  FSSTAT,
  FSINFO,
  PATHCONF,
  COMMIT,
} as const;

export type Nfs3ProcedureName = keyof typeof NFS3_PROCEDURES;
type ArgsOf<C> = C extends ProcedureCodec<infer A, any> ? A : never;
type ResOf<C> = C extends ProcedureCodec<any, infer R> ? R : never;
export type Nfs3ArgsOf<N extends Nfs3ProcedureName> = ArgsOf<(typeof NFS3_PROCEDURES)[N]>;
export type Nfs3ResOf<N extends Nfs3ProcedureName> = ResOf<(typeof NFS3_PROCEDURES)[N]>;
