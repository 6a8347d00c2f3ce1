// ONC RPC v2 messages (RFC 5531 s9): call and reply headers, AUTH_NONE and AUTH_SYS credentials.
// Procedure arguments and results follow the header in the same buffer and are decoded by the
// program's own codecs, so these functions return the header and the offset where the body starts.
import { XdrDecodeError } from '../xdr/errors.js';
import { XdrReader } from '../xdr/reader.js';
import { XdrWriter } from '../xdr/writer.js';
import { CodedError } from '../../lib/coded-error.js';

export const RPC_VERSION = 2;

export enum MsgType {
  CALL = 0,
  REPLY = 1,
}
export enum ReplyStat {
  MSG_ACCEPTED = 0,
  MSG_DENIED = 1,
}
export enum AcceptStat {
  SUCCESS = 0,
  PROG_UNAVAIL = 1,
  PROG_MISMATCH = 2,
  PROC_UNAVAIL = 3,
  GARBAGE_ARGS = 4,
  SYSTEM_ERR = 5,
}
export enum RejectStat {
  RPC_MISMATCH = 0,
  AUTH_ERROR = 1,
}
export enum AuthFlavor {
  AUTH_NONE = 0,
  AUTH_SYS = 1,
}
export enum AuthStat {
  AUTH_OK = 0,
  AUTH_BADCRED = 1,
  AUTH_REJECTEDCRED = 2,
  AUTH_BADVERF = 3,
  AUTH_REJECTEDVERF = 4,
  AUTH_TOOWEAK = 5,
}

/** RFC 5531 s8.2: opaque_auth body is at most 400 bytes. */
export const MAX_AUTH_BYTES = 400;
/** RFC 5531 appendix A: machinename<255>, gids<16>. */
export const MAX_MACHINE_NAME = 255;
export const MAX_AUTH_SYS_GIDS = 16;

export interface OpaqueAuth {
  flavor: number;
  body: Uint8Array;
}
export const AUTH_NONE: OpaqueAuth = { flavor: AuthFlavor.AUTH_NONE, body: new Uint8Array(0) };

export interface AuthSysParams {
  stamp: number;
  machineName: string;
  uid: number;
  gid: number;
  gids: number[];
}

export function encodeAuthSys(p: AuthSysParams): OpaqueAuth {
  const w = new XdrWriter(64);
  w.uint32(p.stamp).string(p.machineName, MAX_MACHINE_NAME).uint32(p.uid).uint32(p.gid);
  w.array(p.gids, MAX_AUTH_SYS_GIDS, (w, g) => w.uint32(g));
  return { flavor: AuthFlavor.AUTH_SYS, body: w.bytes().slice() };
}

/** AUTH_SYS as root, the usual credential for test clients and for a proxy acting for its clients. */
export function rootCred(machineName = 'rowfs'): OpaqueAuth {
  return encodeAuthSys({ stamp: 0, machineName, uid: 0, gid: 0, gids: [] });
}

export function decodeAuthSys(body: Uint8Array): AuthSysParams {
  const r = new XdrReader(body);
  const p: AuthSysParams = {
    stamp: r.uint32(),
    machineName: r.string(MAX_MACHINE_NAME),
    uid: r.uint32(),
    gid: r.uint32(),
    gids: r.array(MAX_AUTH_SYS_GIDS, (r) => r.uint32()),
  };
  r.expectEnd();
  return p;
}

function writeAuth(w: XdrWriter, a: OpaqueAuth): void {
  w.uint32(a.flavor).opaque(a.body, MAX_AUTH_BYTES);
}
function readAuth(r: XdrReader): OpaqueAuth {
  return { flavor: r.uint32(), body: r.opaque(MAX_AUTH_BYTES) };
}

export interface CallHeader {
  xid: number;
  prog: number;
  vers: number;
  proc: number;
  cred: OpaqueAuth;
  verf: OpaqueAuth;
}

export function encodeCallHeader(w: XdrWriter, h: CallHeader): void {
  w.uint32(h.xid).uint32(MsgType.CALL).uint32(RPC_VERSION).uint32(h.prog).uint32(h.vers).uint32(h.proc);
  writeAuth(w, h.cred);
  writeAuth(w, h.verf);
}

/**
 * Decodes a call header. An rpcvers other than 2 throws RpcVersionMismatch (the caller answers
 * RPC_MISMATCH with the xid it carries); anything else malformed throws XdrDecodeError.
 */
export function decodeCallHeader(r: XdrReader): CallHeader {
  const xid = r.uint32();
  const type = r.uint32();
  if (type !== MsgType.CALL) throw new XdrDecodeError('BAD_VALUE', `msg_type ${type}, expected CALL`);
  const rpcvers = r.uint32();
  if (rpcvers !== RPC_VERSION) throw new RpcVersionMismatch(xid, rpcvers);
  const prog = r.uint32();
  const vers = r.uint32();
  const proc = r.uint32();
  const cred = readAuth(r);
  const verf = readAuth(r);
  return { xid, prog, vers, proc, cred, verf };
}

export class RpcVersionMismatch extends CodedError<'RPC_MISMATCH'> {
  constructor(
    readonly xid: number,
    readonly rpcvers: number,
  ) {
    super('RPC_MISMATCH', `rpcvers ${rpcvers}`);
  }
}

export type ReplyHeader =
  | { xid: number; stat: ReplyStat.MSG_ACCEPTED; verf: OpaqueAuth; accept: AcceptStat.SUCCESS }
  | { xid: number; stat: ReplyStat.MSG_ACCEPTED; verf: OpaqueAuth; accept: AcceptStat.PROG_MISMATCH; low: number; high: number }
  | {
      xid: number;
      stat: ReplyStat.MSG_ACCEPTED;
      verf: OpaqueAuth;
      accept: AcceptStat.PROG_UNAVAIL | AcceptStat.PROC_UNAVAIL | AcceptStat.GARBAGE_ARGS | AcceptStat.SYSTEM_ERR;
    }
  | { xid: number; stat: ReplyStat.MSG_DENIED; reject: RejectStat.RPC_MISMATCH; low: number; high: number }
  | { xid: number; stat: ReplyStat.MSG_DENIED; reject: RejectStat.AUTH_ERROR; authStat: number };

export function encodeReplyHeader(w: XdrWriter, h: ReplyHeader): void {
  w.uint32(h.xid).uint32(MsgType.REPLY).uint32(h.stat);
  if (h.stat === ReplyStat.MSG_ACCEPTED) {
    writeAuth(w, h.verf);
    w.uint32(h.accept);
    if (h.accept === AcceptStat.PROG_MISMATCH) w.uint32(h.low).uint32(h.high);
  } else {
    w.uint32(h.reject);
    if (h.reject === RejectStat.RPC_MISMATCH) w.uint32(h.low).uint32(h.high);
    else w.uint32(h.authStat);
  }
}

const ACCEPT_STATS = new Set([0, 1, 2, 3, 4, 5]);

export function decodeReplyHeader(r: XdrReader): ReplyHeader {
  const xid = r.uint32();
  const type = r.uint32();
  if (type !== MsgType.REPLY) throw new XdrDecodeError('BAD_VALUE', `msg_type ${type}, expected REPLY`);
  const stat = r.uint32();
  if (stat === ReplyStat.MSG_ACCEPTED) {
    const verf = readAuth(r);
    const accept = r.enumOf<AcceptStat>(ACCEPT_STATS, 'accept_stat');
    if (accept === AcceptStat.PROG_MISMATCH) return { xid, stat, verf, accept, low: r.uint32(), high: r.uint32() };
    return { xid, stat, verf, accept } as ReplyHeader;
  }
  if (stat === ReplyStat.MSG_DENIED) {
    const reject = r.uint32();
    if (reject === RejectStat.RPC_MISMATCH) return { xid, stat, reject, low: r.uint32(), high: r.uint32() };
    if (reject === RejectStat.AUTH_ERROR) return { xid, stat, reject, authStat: r.uint32() };
    throw new XdrDecodeError('BAD_VALUE', `reject_stat ${reject}`);
  }
  throw new XdrDecodeError('BAD_VALUE', `reply_stat ${stat}`);
}
