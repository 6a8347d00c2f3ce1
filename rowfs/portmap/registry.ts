// A small portmapper server program: an in-memory table of mappings, for clients that ask
// GETPORT before mounting. RFC 1833 s3.1: SET fails if (prog, vers, prot) is already mapped;
// UNSET removes every protocol of (prog, vers).
import type { RpcProcedure, RpcProgram } from '../rpc/server.js';
import { PORTMAP_PROCEDURES } from './procedures.js';
import { MAX_PORTMAP_ENTRIES, PORTMAP_PROGRAM, PORTMAP_VERSION, type PortMapping } from './types.js';

export class PortmapRegistry {
  private readonly mappings: PortMapping[] = [];

  set(m: PortMapping): boolean {
    if (this.mappings.some((x) => x.prog === m.prog && x.vers === m.vers && x.prot === m.prot)) return false;
    if (this.mappings.length >= MAX_PORTMAP_ENTRIES) return false;
    this.mappings.push({ ...m });
    return true;
  }

  unset(m: PortMapping): boolean {
    const before = this.mappings.length;
    for (let i = this.mappings.length - 1; i >= 0; i--) {
      const x = this.mappings[i]!;
      if (x.prog === m.prog && x.vers === m.vers) this.mappings.splice(i, 1);
    }
    return this.mappings.length < before;
  }

  getport(m: PortMapping): number {
    return this.mappings.find((x) => x.prog === m.prog && x.vers === m.vers && x.prot === m.prot)?.port ?? 0;
  }

  dump(): PortMapping[] {
    return this.mappings.map((m) => ({ ...m }));
  }

  program(): RpcProgram {
    const P = PORTMAP_PROCEDURES;
    const proc = <A, R>(codec: { decodeArgs: (r: any) => A; encodeRes: (w: any, r: R) => void }, run: (a: A) => R): RpcProcedure<A, R> => ({
      decodeArgs: codec.decodeArgs,
      run,
      encodeResult: codec.encodeRes,
    });
    return {
      prog: PORTMAP_PROGRAM,
      vers: PORTMAP_VERSION,
      procedures: new Map<number, RpcProcedure>([
        [P.NULL.proc, proc(P.NULL, () => undefined)],
        [P.SET.proc, proc(P.SET, (m) => this.set(m))],
        [P.UNSET.proc, proc(P.UNSET, (m) => this.unset(m))],
        [P.GETPORT.proc, proc(P.GETPORT, (m) => this.getport(m))],
        [P.DUMP.proc, proc(P.DUMP, () => this.dump())],
      ]),
    };
  }
}
