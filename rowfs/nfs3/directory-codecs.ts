// Codecs of the NFSv3 directory and file-system procedures (RFC 1813 s3.3.16-20): READDIR,
// READDIRPLUS, FSSTAT, FSINFO, PATHCONF.
import type { XdrReader } from '../xdr/reader.js';
import type { XdrWriter } from '../xdr/writer.js';
import type { ProcedureCodec } from '../rpc/procedure-codec.js';
import {
  readFh,
  readName,
  readPostOpAttr,
  readPostOpFh,
  readTime,
  readVerf,
  writeFh,
  writeName,
  writePostOpAttr,
  writePostOpFh,
  writeTime,
  writeVerf,
} from './basic-codec.js';
import { resultCodec, postOp, optionalField } from './codec-arms.js';
import {
  MAX_DIR_ENTRIES,
  Nfs3Proc,
  type Entry3,
  type EntryPlus3,
  type FsinfoArgs,
  type FsinfoRes,
  type FsstatArgs,
  type FsstatRes,
  type PathconfArgs,
  type PathconfRes,
  type ReaddirArgs,
  type ReaddirplusArgs,
  type ReaddirplusRes,
  type ReaddirRes,
} from './types.js';

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
