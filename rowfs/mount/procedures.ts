// Codecs for the MOUNT v3 procedures, both directions, in the same shape as the NFSv3 table.
import type { ProcedureCodec } from '../rpc/procedure-codec.js';
import type { XdrReader } from '../xdr/reader.js';
import type { XdrWriter } from '../xdr/writer.js';
import { FHSIZE3, MAX_MOUNT_LIST, MNTNAMLEN, MNTPATHLEN, MountProc, MountStatus, type ExportEntry, type MntRes, type MountEntry } from './types.js';

const STATUSES = new Set(Object.values(MountStatus).filter((v): v is number => typeof v === 'number'));
/** Auth flavors listed in a MNT reply (RFC 2623 s2.7); a handful in practice. */
const MAX_AUTH_FLAVORS = 64;

const readPath = (r: XdrReader) => r.string(MNTPATHLEN);
const writePath = (w: XdrWriter, p: string) => void w.string(p, MNTPATHLEN);

export const NULL: ProcedureCodec<void, void> = {
  proc: MountProc.NULL,
  name: 'NULL',
  encodeArgs: () => undefined,
  decodeArgs: () => undefined,
  encodeRes: () => undefined,
  decodeRes: () => undefined,
};

export const MNT: ProcedureCodec<{ dirpath: string }, MntRes> = {
  proc: MountProc.MNT,
  name: 'MNT',
  encodeArgs: (w, a) => writePath(w, a.dirpath),
  decodeArgs: (r) => ({ dirpath: readPath(r) }),
  encodeRes: (w, res) => {
    w.int32(res.status);
    if (res.status === MountStatus.OK) {
      w.opaque(res.fhandle, FHSIZE3);
      w.array(res.authFlavors, MAX_AUTH_FLAVORS, (w, f) => w.uint32(f));
    }
  },
  decodeRes: (r) => {
    const status = r.enumOf<MountStatus>(STATUSES, 'mountstat3');
    if (status !== MountStatus.OK) return { status };
    return { status, fhandle: r.opaque(FHSIZE3), authFlavors: r.array(MAX_AUTH_FLAVORS, (r) => r.uint32()) };
  },
};

export const DUMP: ProcedureCodec<void, MountEntry[]> = {
  proc: MountProc.DUMP,
  name: 'DUMP',
  encodeArgs: () => undefined,
  decodeArgs: () => undefined,
  encodeRes: (w, list) => void w.list(list, MAX_MOUNT_LIST, (w, m) => void w.string(m.hostname, MNTNAMLEN).string(m.directory, MNTPATHLEN)),
  decodeRes: (r) => r.list(MAX_MOUNT_LIST, (r) => ({ hostname: r.string(MNTNAMLEN), directory: readPath(r) })),
};

export const UMNT: ProcedureCodec<{ dirpath: string }, void> = {
  proc: MountProc.UMNT,
  name: 'UMNT',
  encodeArgs: (w, a) => writePath(w, a.dirpath),
  decodeArgs: (r) => ({ dirpath: readPath(r) }),
  encodeRes: () => undefined,
  decodeRes: () => undefined,
};

export const UMNTALL: ProcedureCodec<void, void> = {
  proc: MountProc.UMNTALL,
  name: 'UMNTALL',
  encodeArgs: () => undefined,
  decodeArgs: () => undefined,
  encodeRes: () => undefined,
  decodeRes: () => undefined,
};

export const EXPORT: ProcedureCodec<void, ExportEntry[]> = {
  proc: MountProc.EXPORT,
  name: 'EXPORT',
  encodeArgs: () => undefined,
  decodeArgs: () => undefined,
  encodeRes: (w, list) =>
    void w.list(list, MAX_MOUNT_LIST, (w, e) => {
      writePath(w, e.dir);
      w.list(e.groups, MAX_MOUNT_LIST, (w, g) => void w.string(g, MNTNAMLEN));
    }),
  decodeRes: (r) => r.list(MAX_MOUNT_LIST, (r) => ({ dir: readPath(r), groups: r.list(MAX_MOUNT_LIST, (r) => r.string(MNTNAMLEN)) })),
};

export const MOUNT_PROCEDURES = { NULL, MNT, DUMP, UMNT, UMNTALL, EXPORT } as const;
