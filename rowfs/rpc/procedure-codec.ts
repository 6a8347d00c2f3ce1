// The wire format of one RPC procedure (arguments and results), shared by clients and servers of every
// program here: NFSv3, MOUNT, portmap.
import type { XdrReader } from '../xdr/reader.js';
import type { XdrWriter } from '../xdr/writer.js';

/** One procedure's wire format, usable from either side. */
export interface ProcedureCodec<A, R> {
  proc: number;
  name: string;
  encodeArgs(w: XdrWriter, args: A): void;
  decodeArgs(r: XdrReader): A;
  encodeRes(w: XdrWriter, res: R): void;
  decodeRes(r: XdrReader): R;
}
