// Building blocks of the NFSv3 procedure codecs: a result as its status and the OK or fail arm,
// post_op_attr fields, optional fields left out when absent.
import type { XdrReader } from '../xdr/reader.js';
import type { XdrWriter } from '../xdr/writer.js';
import type { ProcedureCodec } from '../rpc/procedure-codec.js';
import { readPostOpAttr, readStatus, writePostOpAttr, writeStatus } from './basic-codec.js';
import { Nfs3Status } from './types.js';

/** Builds result codecs from the OK-arm and fail-arm field codecs. */
export function resultCodec<R extends { status: Nfs3Status }>(
  readOk: (r: XdrReader) => object,
  writeOk: (w: XdrWriter, res: any) => void,
  readFail: (r: XdrReader) => object,
  writeFail: (w: XdrWriter, res: any) => void,
): Pick<ProcedureCodec<unknown, R>, 'encodeRes' | 'decodeRes'> {
  return {
    encodeRes(w, res) {
      writeStatus(w, res.status);
      if (res.status === Nfs3Status.OK) writeOk(w, res);
      else writeFail(w, res);
    },
    decodeRes(r) {
      const status = readStatus(r);
      return { status, ...(status === Nfs3Status.OK ? readOk(r) : readFail(r)) } as unknown as R;
    },
  };
}

export const none = () => ({});
export const writeNone = () => undefined;

export function postOp<K extends string>(key: K) {
  return {
    read: (r: XdrReader) => optionalField(key, readPostOpAttr(r)),
    write: (w: XdrWriter, res: Record<string, any>) => writePostOpAttr(w, res[key]),
  };
}
/** Omits undefined optional fields, so decoded values compare equal to what was encoded. */
export function optionalField<K extends string, V>(key: K, v: V | undefined): Partial<Record<K, V>> {
  return v === undefined ? {} : ({ [key]: v } as Record<K, V>);
}
