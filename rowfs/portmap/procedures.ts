// Codecs for the portmapper v2 procedures we implement (CALLIT is answered PROC_UNAVAIL).
import type { ProcedureCodec } from '../rpc/procedure-codec.js';
import type { XdrReader } from '../xdr/reader.js';
import type { XdrWriter } from '../xdr/writer.js';
import { MAX_PORTMAP_ENTRIES, PortmapProc, type PortMapping } from './types.js';

export function readMapping(r: XdrReader): PortMapping {
  return { prog: r.uint32(), vers: r.uint32(), prot: r.uint32(), port: r.uint32() };
}
export function writeMapping(w: XdrWriter, m: PortMapping): void {
  w.uint32(m.prog).uint32(m.vers).uint32(m.prot).uint32(m.port);
}

const voidCodec = { encodeArgs: () => undefined, decodeArgs: () => undefined, encodeRes: () => undefined, decodeRes: () => undefined };
const boolRes = { encodeRes: (w: XdrWriter, v: boolean) => void w.bool(v), decodeRes: (r: XdrReader) => r.bool() };
const mappingArgs = { encodeArgs: writeMapping, decodeArgs: readMapping };

export const NULL: ProcedureCodec<void, void> = { proc: PortmapProc.NULL, name: 'NULL', ...voidCodec };
export const SET: ProcedureCodec<PortMapping, boolean> = { proc: PortmapProc.SET, name: 'SET', ...mappingArgs, ...boolRes };
export const UNSET: ProcedureCodec<PortMapping, boolean> = { proc: PortmapProc.UNSET, name: 'UNSET', ...mappingArgs, ...boolRes };
export const GETPORT: ProcedureCodec<PortMapping, number> = {
  proc: PortmapProc.GETPORT,
  name: 'GETPORT',
  ...mappingArgs,
  encodeRes: (w, port) => void w.uint32(port),
  decodeRes: (r) => r.uint32(),
};
export const DUMP: ProcedureCodec<void, PortMapping[]> = {
  proc: PortmapProc.DUMP,
  name: 'DUMP',
  encodeArgs: () => undefined,
  decodeArgs: () => undefined,
  encodeRes: (w, list) => void w.list(list, MAX_PORTMAP_ENTRIES, writeMapping),
  decodeRes: (r) => r.list(MAX_PORTMAP_ENTRIES, readMapping),
};

export const PORTMAP_PROCEDURES = { NULL, SET, UNSET, GETPORT, DUMP } as const;
