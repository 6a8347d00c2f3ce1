// Codecs of the NFSv3 procedures on one object (RFC 1813 s3.3.0-7, s3.3.21): NULL, GETATTR,
// SETATTR, LOOKUP, ACCESS, READLINK, READ, WRITE, COMMIT.
import type { XdrReader } from '../xdr/reader.js';
import type { XdrWriter } from '../xdr/writer.js';
import type { ProcedureCodec } from '../rpc/procedure-codec.js';
import {
  readDirOp,
  readFattr,
  readFh,
  readPostOpAttr,
  readSattr,
  readTime,
  readVerf,
  readWcc,
  writeDirOp,
  writeFattr,
  writeFh,
  writePostOpAttr,
  writeSattr,
  writeTime,
  writeVerf,
  writeWcc,
} from './basic-codec.js';
import { resultCodec, none, writeNone, postOp, optionalField } from './codec-arms.js';
import {
  MAX_DATA_BYTES,
  MAX_PATH_BYTES,
  Nfs3Proc,
  StableHow,
  type AccessArgs,
  type AccessRes,
  type CommitArgs,
  type CommitRes,
  type GetattrArgs,
  type GetattrRes,
  type LookupArgs,
  type LookupRes,
  type ReadArgs,
  type ReadlinkArgs,
  type ReadlinkRes,
  type ReadRes,
  type SetattrArgs,
  type SetattrRes,
  type WriteArgs,
  type WriteRes,
} from './types.js';

const STABLE = new Set([0, 1, 2]);

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
