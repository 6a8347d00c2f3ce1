// RPC call dispatch, transport-free: decode the call header, check the credential flavor, find
// program -> version -> procedure, decode the arguments completely, reserve reply memory, run the
// procedure, encode the reply. Refusals follow RFC 5531 s9 (PROG_UNAVAIL, PROG_MISMATCH with the
// supported range, PROC_UNAVAIL, GARBAGE_ARGS, SYSTEM_ERR, RPC_MISMATCH, AUTH_ERROR). A message
// whose header does not decode is counted and dropped; nothing here throws upward.
import { XdrDecodeError } from '../xdr/errors.js';
import { XdrReader } from '../xdr/reader.js';
import { XdrWriter } from '../xdr/writer.js';
import { DuplicateCache, duplicateKey, type DuplicateKey } from './duplicate-cache.js';
import { AuthSysCache } from './auth-sys-cache.js';
import type { ReplyAccount, ReplyBudget } from './reply-budget.js';
import {
  AcceptStat,
  AUTH_NONE,
  AuthFlavor,
  AuthStat,
  decodeCallHeader,
  encodeReplyHeader,
  RejectStat,
  ReplyStat,
  RpcVersionMismatch,
  RPC_VERSION,
  type AuthSysParams,
  type CallHeader,
  type OpaqueAuth,
  type ReplyHeader,
} from './message.js';

export interface RpcCallContext {
  xid: number;
  prog: number;
  vers: number;
  proc: number;
  cred: OpaqueAuth;
  /** Present when the caller used AUTH_SYS. */
  authSys?: AuthSysParams;
  transport: 'tcp' | 'udp';
  remoteAddress: string;
  remotePort: number;
  /**
   * Runs `fn` once this call's reply has been handed to the kernel, or dropped (connection gone,
   * no reply): a handler whose result references pooled memory releases it there.
   */
  afterReply?: (fn: () => void) => void;
  /** The reply may carry file-range bodies (XdrWriter.opaqueFile): this TCP connection sends them with sendfile. */
  sendsFiles?: boolean;
}

/** One procedure: argument decoder, the work, result encoder. */
export interface RpcProcedure<A = any, R = any> {
  decodeArgs(r: XdrReader): A;
  run(args: A, ctx: RpcCallContext): R | Promise<R>;
  encodeResult(w: XdrWriter, res: R): void;
  /**
   * Bytes the encoded result will take in the reply buffer (bodies sent by reference excluded), so
   * the buffer is allocated once instead of grown by doubling. An estimate: too small only costs a copy.
   */
  resultSizeHint?(args: A, res: R): number;
  /**
   * The most bytes this call's reply may hold in memory (READ: its count), reserved from the
   * connection's reply budget before it runs; without it, a small reply is assumed.
   */
  replyBytesBound?(args: A): number;
}

export interface RpcProgram {
  prog: number;
  vers: number;
  procedures: ReadonlyMap<number, RpcProcedure>;
  /** Procedures whose replies are kept in the duplicate request cache (not idempotent). */
  nonIdempotent?: ReadonlySet<number>;
}

export interface RpcServerStats {
  calls: number;
  /** Frames that broke record marking or whose header did not decode. */
  malformedFrames: number;
  garbageArgs: number;
  progUnavail: number;
  progMismatch: number;
  procUnavail: number;
  authErrors: number;
  systemErrors: number;
  rpcMismatch: number;
  connections: number;
  /** Retransmitted non-idempotent calls answered from the duplicate request cache. */
  duplicateReplays: number;
  /** Replies whose bodies went out by sendfile (file ranges). */
  fileReplies: number;
}

/** An encoded reply and its release hooks (see RpcCallContext.afterReply). */
export interface RpcReply {
  readonly writer: XdrWriter;
  /** Run once, when the reply is handed to the kernel or dropped; undefined when there is nothing to release. */
  readonly afterSent: (() => void) | undefined;
}

/** Where a call comes from: its transport and peer, and on TCP its connection's reply account. */
export interface CallOrigin {
  transport: 'tcp' | 'udp';
  remoteAddress: string;
  remotePort: number;
  /** The connection sends file-range bodies by sendfile. */
  sendsFiles: boolean;
  /** TCP: the reply memory of the call is reserved from this account before it runs. */
  account?: ReplyAccount;
}

export interface DispatcherOptions {
  /** Replies kept for retransmitted non-idempotent calls (0 disables the cache). */
  duplicateCacheEntries: number;
  /** Told about procedure failures answered with SYSTEM_ERR, and argument decoders that threw something other than XdrDecodeError. */
  onError?: (err: unknown, ctx: RpcCallContext) => void;
}

/** Reservation of a call whose procedure gives no bound (its real size is counted once encoded). */
const SMALL_REPLY_BYTES = 1024;
/** No reservation is larger than the largest reply a procedure makes (READ data is capped at 4 MiB). */
const MAX_REPLY_RESERVATION_BYTES = 4 * 1024 * 1024;
/** Reply header (xid, REPLY, MSG_ACCEPTED, AUTH_NONE verifier, SUCCESS) plus the record mark. */
const REPLY_HEADER_BYTES = 4 + 24;
/** Reply buffer for results whose procedure gives no size hint. */
const DEFAULT_RESULT_BYTES = 512;

/** A procedure's outcome: its reply, and whether it is a SYSTEM_ERR (never replayed: a retry may succeed). */
interface Executed {
  writer: XdrWriter;
  systemError: boolean;
}

/**
 * The bytes of a reply the duplicate request cache keeps (a copy), none for a SYSTEM_ERR. One
 * function, not an arrow made per call: see docs/rowfs.md, "TurboFan compiling the same functions again".
 */
const replyToKeep = (e: Executed): Uint8Array | undefined => (e.systemError ? undefined : e.writer.bytes().slice());

/** A call's context as the dispatcher makes it: one class (one shape), no closure per call. */
class DispatchedCall implements RpcCallContext {
  readonly xid: number;
  readonly prog: number;
  readonly vers: number;
  readonly proc: number;
  readonly cred: OpaqueAuth;
  authSys: AuthSysParams | undefined = undefined;
  readonly transport: 'tcp' | 'udp';
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly sendsFiles: boolean | undefined;
  /** Release hooks: most calls register none, so the list is made at the first. */
  hooks: Array<() => void> | undefined = undefined;

  constructor(header: CallHeader, origin: CallOrigin) {
    this.xid = header.xid;
    this.prog = header.prog;
    this.vers = header.vers;
    this.proc = header.proc;
    this.cred = header.cred;
    this.transport = origin.transport;
    this.remoteAddress = origin.remoteAddress;
    this.remotePort = origin.remotePort;
    this.sendsFiles = origin.sendsFiles;
  }

  afterReply(fn: () => void): void {
    (this.hooks ??= []).push(fn);
  }
}

export class RpcDispatcher {
  private readonly drc: DuplicateCache;
  private readonly authSys = new AuthSysCache();
  private readonly programs = new Map<number, Map<number, RpcProgram>>();

  constructor(
    private readonly opts: DispatcherOptions,
    private readonly stats: RpcServerStats,
    private readonly budget: ReplyBudget,
  ) {
    this.drc = new DuplicateCache(opts.duplicateCacheEntries);
  }

  addProgram(p: RpcProgram): void {
    let versions = this.programs.get(p.prog);
    if (!versions) this.programs.set(p.prog, (versions = new Map()));
    versions.set(p.vers, p);
  }

  /** Handles one RPC message; resolves with the reply, or undefined to drop it. Never rejects. */
  async dispatch(msg: Uint8Array, origin: CallOrigin): Promise<RpcReply | undefined> {
    const r = new XdrReader(msg);
    let header;
    try {
      header = decodeCallHeader(r);
    } catch (e) {
      if (e instanceof RpcVersionMismatch) {
        this.stats.rpcMismatch++;
        return refusal({ xid: e.xid, stat: ReplyStat.MSG_DENIED, reject: RejectStat.RPC_MISMATCH, low: RPC_VERSION, high: RPC_VERSION });
      }
      this.stats.malformedFrames++;
      return undefined;
    }
    this.stats.calls++;
    const { xid } = header;
    const ctx = new DispatchedCall(header, origin);
    if (header.cred.flavor === AuthFlavor.AUTH_SYS) {
      try {
        ctx.authSys = this.authSys.decode(header.cred.body);
      } catch {
        this.stats.authErrors++;
        return refusal({ xid, stat: ReplyStat.MSG_DENIED, reject: RejectStat.AUTH_ERROR, authStat: AuthStat.AUTH_BADCRED });
      }
    } else if (header.cred.flavor !== AuthFlavor.AUTH_NONE) {
      this.stats.authErrors++;
      return refusal({ xid, stat: ReplyStat.MSG_DENIED, reject: RejectStat.AUTH_ERROR, authStat: AuthStat.AUTH_BADCRED });
    }
    const versions = this.programs.get(header.prog);
    if (!versions) {
      this.stats.progUnavail++;
      return refusal(acceptedHeader(xid, AcceptStat.PROG_UNAVAIL));
    }
    const program = versions.get(header.vers);
    if (!program) {
      this.stats.progMismatch++;
      const vs = [...versions.keys()];
      return refusal({
        xid,
        stat: ReplyStat.MSG_ACCEPTED,
        verf: AUTH_NONE,
        accept: AcceptStat.PROG_MISMATCH,
        low: Math.min(...vs),
        high: Math.max(...vs),
      });
    }
    const proc = program.procedures.get(header.proc);
    if (!proc) {
      this.stats.procUnavail++;
      return refusal(acceptedHeader(xid, AcceptStat.PROC_UNAVAIL));
    }
    let drcKey: DuplicateKey | undefined;
    if (program.nonIdempotent?.has(header.proc) && this.opts.duplicateCacheEntries > 0) {
      drcKey = duplicateKey({ remoteAddress: ctx.remoteAddress, xid, prog: ctx.prog, vers: ctx.vers, proc: ctx.proc, args: msg.subarray(r.pos) });
      const earlier = this.drc.lookup(drcKey);
      const bytes = earlier && (await earlier);
      if (bytes) {
        this.stats.duplicateReplays++;
        const w = new XdrWriter(bytes.length + 8, 4);
        w.raw(bytes);
        return { writer: w, afterSent: undefined };
      }
      // No earlier reply, or the earlier attempt failed (SYSTEM_ERR): run it (again).
    }
    const result = this.execute(proc, r, ctx, origin.account);
    if (drcKey) this.drc.store(drcKey, result.then(replyToKeep));
    const e = await result;
    // afterReply hooks must be registered while the handler runs: one added after it returned is not run.
    const registered = ctx.hooks;
    return { writer: e.writer, afterSent: registered === undefined ? undefined : () => runAll(registered) };
  }

  private async execute(proc: RpcProcedure, r: XdrReader, ctx: RpcCallContext, account?: ReplyAccount): Promise<Executed> {
    const xid = ctx.xid;
    let args;
    try {
      args = proc.decodeArgs(r);
      r.expectEnd();
    } catch (e) {
      if (!(e instanceof XdrDecodeError)) this.opts.onError?.(e, ctx);
      this.stats.garbageArgs++;
      return { writer: encodeReply(acceptedHeader(xid, AcceptStat.GARBAGE_ARGS)), systemError: false };
    }
    // Room for the reply before the work (whose result may be a large buffer); the encoded reply
    // is counted again when it is queued.
    let reserved = 0;
    if (account) {
      reserved = Math.min(proc.replyBytesBound?.(args) ?? SMALL_REPLY_BYTES, MAX_REPLY_RESERVATION_BYTES);
      const wait = this.budget.reserve(account, reserved);
      if (wait) await wait;
    }
    try {
      const res = await proc.run(args, ctx);
      const w = new XdrWriter(REPLY_HEADER_BYTES + (proc.resultSizeHint?.(args, res) ?? DEFAULT_RESULT_BYTES), 4);
      encodeReplyHeader(w, { xid, stat: ReplyStat.MSG_ACCEPTED, verf: AUTH_NONE, accept: AcceptStat.SUCCESS });
      proc.encodeResult(w, res);
      return { writer: w, systemError: false };
    } catch (e) {
      this.stats.systemErrors++;
      this.opts.onError?.(e, ctx);
      return { writer: encodeReply(acceptedHeader(xid, AcceptStat.SYSTEM_ERR)), systemError: true };
    } finally {
      if (account) this.budget.release(account, reserved);
    }
  }
}

function acceptedHeader(xid: number, accept: AcceptStat.PROG_UNAVAIL | AcceptStat.PROC_UNAVAIL | AcceptStat.GARBAGE_ARGS | AcceptStat.SYSTEM_ERR): ReplyHeader {
  return { xid, stat: ReplyStat.MSG_ACCEPTED, verf: AUTH_NONE, accept };
}

function encodeReply(h: ReplyHeader): XdrWriter {
  const w = new XdrWriter(64, 4);
  encodeReplyHeader(w, h);
  return w;
}

/** A reply made before any procedure ran: nothing to release. */
function refusal(h: ReplyHeader): RpcReply {
  return { writer: encodeReply(h), afterSent: undefined };
}

function runAll(hooks: Array<() => void>): void {
  for (const fn of hooks) {
    try {
      fn();
    } catch {
      /* a release hook must not break the connection */
    }
  }
}
