// XDR codecs for the NFSv3 data types shared by many procedures (RFC 1813 s2.5-2.6).
import { XdrDecodeError } from '../xdr/errors.js';
import type { XdrReader } from '../xdr/reader.js';
import type { XdrWriter } from '../xdr/writer.js';
import {
  Ftype3,
  MAX_NAME_BYTES,
  NFS3_FHSIZE,
  Nfs3Status,
  TimeHow,
  type DirOpArgs3,
  type Fattr3,
  type FileHandle,
  type NfsTime3,
  type Sattr3,
  type SetTime,
  type SpecData3,
  type WccAttr,
  type WccData,
} from './types.js';

const FTYPES = new Set([1, 2, 3, 4, 5, 6, 7]);
const STATUSES = new Set(Object.values(Nfs3Status).filter((v): v is number => typeof v === 'number'));

export function readStatus(r: XdrReader): Nfs3Status {
  return r.enumOf<Nfs3Status>(STATUSES, 'nfsstat3');
}
export function writeStatus(w: XdrWriter, s: Nfs3Status): void {
  w.int32(s);
}

export function readFtype(r: XdrReader): Ftype3 {
  return r.enumOf<Ftype3>(FTYPES, 'ftype3');
}

export function readFh(r: XdrReader): FileHandle {
  return r.opaque(NFS3_FHSIZE);
}
export function writeFh(w: XdrWriter, fh: FileHandle): void {
  w.opaque(fh, NFS3_FHSIZE);
}

export function readName(r: XdrReader): string {
  return r.string(MAX_NAME_BYTES);
}
export function writeName(w: XdrWriter, name: string): void {
  w.string(name, MAX_NAME_BYTES);
}

export function readTime(r: XdrReader): NfsTime3 {
  return { seconds: r.uint32(), nseconds: r.uint32() };
}
export function writeTime(w: XdrWriter, t: NfsTime3): void {
  w.uint32(t.seconds).uint32(t.nseconds);
}

export function readSpec(r: XdrReader): SpecData3 {
  return { specdata1: r.uint32(), specdata2: r.uint32() };
}
export function writeSpec(w: XdrWriter, s: SpecData3): void {
  w.uint32(s.specdata1).uint32(s.specdata2);
}

export function readFattr(r: XdrReader): Fattr3 {
  return {
    type: readFtype(r),
    mode: r.uint32(),
    nlink: r.uint32(),
    uid: r.uint32(),
    gid: r.uint32(),
    size: r.uint64(),
    used: r.uint64(),
    rdev: readSpec(r),
    fsid: r.uint64(),
    fileid: r.uint64(),
    atime: readTime(r),
    mtime: readTime(r),
    ctime: readTime(r),
  };
}
export function writeFattr(w: XdrWriter, a: Fattr3): void {
  w.int32(a.type).uint32(a.mode).uint32(a.nlink).uint32(a.uid).uint32(a.gid).uint64(a.size).uint64(a.used);
  writeSpec(w, a.rdev);
  w.uint64(a.fsid).uint64(a.fileid);
  writeTime(w, a.atime);
  writeTime(w, a.mtime);
  writeTime(w, a.ctime);
}

/** post_op_attr */
export function readPostOpAttr(r: XdrReader): Fattr3 | undefined {
  return r.optional(readFattr);
}
export function writePostOpAttr(w: XdrWriter, a: Fattr3 | undefined): void {
  w.optional(a, writeFattr);
}

/** post_op_fh3 */
export function readPostOpFh(r: XdrReader): FileHandle | undefined {
  return r.optional(readFh);
}
export function writePostOpFh(w: XdrWriter, fh: FileHandle | undefined): void {
  w.optional(fh, writeFh);
}

function readWccAttr(r: XdrReader): WccAttr {
  return { size: r.uint64(), mtime: readTime(r), ctime: readTime(r) };
}
function writeWccAttr(w: XdrWriter, a: WccAttr): void {
  w.uint64(a.size);
  writeTime(w, a.mtime);
  writeTime(w, a.ctime);
}

export function readWcc(r: XdrReader): WccData {
  const before = r.optional(readWccAttr);
  const after = r.optional(readFattr);
  const out: WccData = {};
  if (before) out.before = before;
  if (after) out.after = after;
  return out;
}
export function writeWcc(w: XdrWriter, d: WccData): void {
  w.optional(d.before, writeWccAttr);
  w.optional(d.after, writeFattr);
}

function readSetTime(r: XdrReader): SetTime | undefined {
  const how = r.uint32();
  if (how === TimeHow.DONT_CHANGE) return undefined;
  if (how === TimeHow.SET_TO_SERVER_TIME) return { how };
  if (how === TimeHow.SET_TO_CLIENT_TIME) return { how, time: readTime(r) };
  throw new XdrDecodeError('BAD_VALUE', `time_how ${how}`);
}
function writeSetTime(w: XdrWriter, t: SetTime | undefined): void {
  if (!t) {
    w.uint32(TimeHow.DONT_CHANGE);
    return;
  }
  w.uint32(t.how);
  if (t.how === TimeHow.SET_TO_CLIENT_TIME) writeTime(w, t.time);
}

export function readSattr(r: XdrReader): Sattr3 {
  const s: Sattr3 = {};
  const mode = r.optional((r) => r.uint32());
  const uid = r.optional((r) => r.uint32());
  const gid = r.optional((r) => r.uint32());
  const size = r.optional((r) => r.uint64());
  const atime = readSetTime(r);
  const mtime = readSetTime(r);
  if (mode !== undefined) s.mode = mode;
  if (uid !== undefined) s.uid = uid;
  if (gid !== undefined) s.gid = gid;
  if (size !== undefined) s.size = size;
  if (atime) s.atime = atime;
  if (mtime) s.mtime = mtime;
  return s;
}
export function writeSattr(w: XdrWriter, s: Sattr3): void {
  w.optional(s.mode, (w, v) => w.uint32(v));
  w.optional(s.uid, (w, v) => w.uint32(v));
  w.optional(s.gid, (w, v) => w.uint32(v));
  w.optional(s.size, (w, v) => w.uint64(v));
  writeSetTime(w, s.atime);
  writeSetTime(w, s.mtime);
}

export function readDirOp(r: XdrReader): DirOpArgs3 {
  return { dir: readFh(r), name: readName(r) };
}
export function writeDirOp(w: XdrWriter, d: DirOpArgs3): void {
  writeFh(w, d.dir);
  writeName(w, d.name);
}

export function readVerf(r: XdrReader): Uint8Array {
  return r.fixedOpaque(8);
}
export function writeVerf(w: XdrWriter, v: Uint8Array): void {
  w.fixedOpaque(v, 8);
}
