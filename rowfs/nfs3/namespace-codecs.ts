// Codecs of the NFSv3 procedures that change the namespace (RFC 1813 s3.3.8-15): CREATE, MKDIR,
// SYMLINK, MKNOD, REMOVE, RMDIR, RENAME, LINK.
import { XdrDecodeError } from '../xdr/errors.js';
import type { XdrReader } from '../xdr/reader.js';
import type { XdrWriter } from '../xdr/writer.js';
import type { ProcedureCodec } from '../rpc/procedure-codec.js';
import {
  readDirOp,
  readFh,
  readPostOpAttr,
  readPostOpFh,
  readSattr,
  readSpec,
  readVerf,
  readWcc,
  writeDirOp,
  writeFh,
  writePostOpAttr,
  writePostOpFh,
  writeSattr,
  writeSpec,
  writeVerf,
  writeWcc,
} from './basic-codec.js';
import { resultCodec, optionalField } from './codec-arms.js';
import {
  CreateMode,
  Ftype3,
  MAX_PATH_BYTES,
  Nfs3Proc,
  type CreateArgs,
  type CreateHow3,
  type DirOpRes,
  type LinkArgs,
  type LinkRes,
  type MkdirArgs,
  type MknodArgs,
  type MknodData3,
  type RemoveArgs,
  type RemoveRes,
  type RenameArgs,
  type RenameRes,
  type RmdirArgs,
  type SymlinkArgs,
} from './types.js';

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
  throw new XdrDecodeError('BAD_VALUE', `createmode3 ${mode}`);
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
