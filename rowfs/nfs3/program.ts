// Server side of NFSv3: turns one handler per procedure into an RpcProgram for RpcServer. The
// embedded server and the proxy both implement Nfs3Handlers; decoding, GARBAGE_ARGS and encoding
// are done here once.
import type { RpcCallContext, RpcProcedure, RpcProgram } from '../rpc/server.js';
import { NFS3_PROCEDURES, type Nfs3ArgsOf, type Nfs3ProcedureName, type Nfs3ResOf } from './procedures.js';
import { MAX_PATH_BYTES, NFS3_PROGRAM, NFS3_VERSION, Nfs3Proc } from './types.js';

/** Procedures a retransmission must not run twice (their replies go to the duplicate request cache). */
export const NFS3_NON_IDEMPOTENT: ReadonlySet<number> = new Set([
  Nfs3Proc.CREATE,
  Nfs3Proc.MKDIR,
  Nfs3Proc.SYMLINK,
  Nfs3Proc.MKNOD,
  Nfs3Proc.REMOVE,
  Nfs3Proc.RMDIR,
  Nfs3Proc.RENAME,
  Nfs3Proc.LINK,
]);

/**
 * Reply sizes of procedures whose results can be large: the client's own limit on the reply, so the
 * reply buffer is allocated once. (READ data is sent by reference, so READ needs no hint.)
 */
const RESULT_SIZE_HINTS: Partial<Record<Nfs3ProcedureName, (args: any) => number>> = {
  READDIR: (a: Nfs3ArgsOf<'READDIR'>) => Math.min(a.count, MAX_HINT_BYTES),
  READDIRPLUS: (a: Nfs3ArgsOf<'READDIRPLUS'>) => Math.min(a.maxcount, MAX_HINT_BYTES),
};
/**
 * The most memory a reply may hold (RpcProcedure.replyBytesBound), reserved from the connection's
 * reply budget before the call runs: data and listings are as large as the client's count.
 */
const REPLY_BOUNDS: Partial<Record<Nfs3ProcedureName, (args: any) => number>> = {
  READ: (a: Nfs3ArgsOf<'READ'>) => a.count + REPLY_OVERHEAD_BYTES,
  READDIR: (a: Nfs3ArgsOf<'READDIR'>) => a.count + REPLY_OVERHEAD_BYTES,
  READDIRPLUS: (a: Nfs3ArgsOf<'READDIRPLUS'>) => a.maxcount + REPLY_OVERHEAD_BYTES,
  READLINK: () => MAX_PATH_BYTES + REPLY_OVERHEAD_BYTES,
};
/** Status, attributes and the record's header around the data. */
const REPLY_OVERHEAD_BYTES = 256;
/** A hint never allocates more than this up front (a hostile count must not). */
const MAX_HINT_BYTES = 1024 * 1024;

export type Nfs3Handlers = {
  [N in Nfs3ProcedureName]: (args: Nfs3ArgsOf<N>, ctx: RpcCallContext) => Nfs3ResOf<N> | Promise<Nfs3ResOf<N>>;
};

export function nfs3Program(handlers: Nfs3Handlers): RpcProgram {
  const procedures = new Map<number, RpcProcedure>();
  for (const name of Object.keys(NFS3_PROCEDURES) as Nfs3ProcedureName[]) {
    const codec = NFS3_PROCEDURES[name] as any;
    const handler = handlers[name] as (a: unknown, ctx: RpcCallContext) => unknown;
    procedures.set(codec.proc, {
      decodeArgs: (r) => codec.decodeArgs(r),
      run: (a, ctx) => handler.call(handlers, a, ctx),
      encodeResult: (w, res) => codec.encodeRes(w, res),
      ...(RESULT_SIZE_HINTS[name] ? { resultSizeHint: RESULT_SIZE_HINTS[name] } : {}),
      ...(REPLY_BOUNDS[name] ? { replyBytesBound: REPLY_BOUNDS[name] } : {}),
    });
  }
  return { prog: NFS3_PROGRAM, vers: NFS3_VERSION, procedures, nonIdempotent: NFS3_NON_IDEMPOTENT };
}
