// Errors inside the proxy. A StatusError carries the NFS status a handler should answer with; it
// is thrown from deep helpers (copy-up, resolution) and turned into the reply's failure arm at the
// handler boundary, never sent upward as an exception. ProxyStartError is for `overlay rowfs` users.
import { Nfs3Status, type Nfs3ErrorStatus } from '../nfs3/types.js';
import { RpcReplyError, RpcTransportError } from '../rpc/errors.js';
import { CodedError } from '../../lib/coded-error.js';

export class StatusError extends CodedError<string> {
  constructor(
    readonly status: Nfs3ErrorStatus,
    why: string,
  ) {
    super(Nfs3Status[status] ?? String(status), `NFS3ERR_${Nfs3Status[status]}: ${why}`);
  }
}

export class ProxyStartError extends CodedError<'unreachable' | 'refused' | 'not-nfs3'> {}

/** Maps an exception from a backend call or a helper to the status the client should see. */
export function statusOf(err: unknown): Nfs3ErrorStatus {
  if (err instanceof StatusError) return err.status;
  // Backend unreachable or slow: tell the client to retry later (RFC 1813 s2.6, NFS3ERR_JUKEBOX).
  if (err instanceof RpcTransportError) return Nfs3Status.JUKEBOX;
  if (err instanceof RpcReplyError) return Nfs3Status.IO;
  return Nfs3Status.SERVERFAULT;
}
