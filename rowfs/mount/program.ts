// Server side of MOUNT v3: one handler per procedure -> RpcProgram.
import type { RpcCallContext, RpcProcedure, RpcProgram } from '../rpc/server.js';
import { MOUNT_PROCEDURES } from './procedures.js';
import { MOUNT_PROGRAM, MOUNT_VERSION, type ExportEntry, type MntRes, type MountEntry } from './types.js';

export interface MountHandlers {
  mnt(dirpath: string, ctx: RpcCallContext): MntRes | Promise<MntRes>;
  dump(ctx: RpcCallContext): MountEntry[] | Promise<MountEntry[]>;
  umnt(dirpath: string, ctx: RpcCallContext): void | Promise<void>;
  umntall(ctx: RpcCallContext): void | Promise<void>;
  export(ctx: RpcCallContext): ExportEntry[] | Promise<ExportEntry[]>;
}

export function mountProgram(h: MountHandlers): RpcProgram {
  const P = MOUNT_PROCEDURES;
  const proc = <A, R>(codec: { decodeArgs: (r: any) => A; encodeRes: (w: any, r: R) => void }, run: (a: A, ctx: RpcCallContext) => R | Promise<R>): RpcProcedure<A, R> => ({
    decodeArgs: codec.decodeArgs,
    run,
    encodeResult: codec.encodeRes,
  });
  const procedures = new Map<number, RpcProcedure>([
    [P.NULL.proc, proc(P.NULL, () => undefined)],
    [P.MNT.proc, proc(P.MNT, (a, ctx) => h.mnt(a.dirpath, ctx))],
    [P.DUMP.proc, proc(P.DUMP, (_a, ctx) => h.dump(ctx))],
    [P.UMNT.proc, proc(P.UMNT, (a, ctx) => h.umnt(a.dirpath, ctx))],
    [P.UMNTALL.proc, proc(P.UMNTALL, (_a, ctx) => h.umntall(ctx))],
    [P.EXPORT.proc, proc(P.EXPORT, (_a, ctx) => h.export(ctx))],
  ]);
  return { prog: MOUNT_PROGRAM, vers: MOUNT_VERSION, procedures };
}
