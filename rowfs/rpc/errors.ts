// Typed RPC-layer failures. A call that reaches the server but is refused (program unavailable,
// garbage arguments, authentication) is an RpcReplyError carrying the protocol status; transport
// trouble is an RpcTransportError; broken framing is a RecordMarkingError.
import { CodedError } from '../../lib/coded-error.js';

export type RpcTransportErrorCode = 'TIMEOUT' | 'CONNECT_FAILED' | 'CLIENT_CLOSED' | 'TOO_LARGE';

export class RpcTransportError extends CodedError<RpcTransportErrorCode> {
  constructor(
    code: RpcTransportErrorCode,
    message: string,
  ) {
    super(code, `${code}: ${message}`);
  }
}

export type RpcReplyErrorCode =
  | 'PROG_UNAVAIL'
  | 'PROG_MISMATCH'
  | 'PROC_UNAVAIL'
  | 'GARBAGE_ARGS'
  | 'SYSTEM_ERR'
  | 'RPC_MISMATCH'
  | 'AUTH_ERROR'
  | 'BAD_REPLY'; // the reply itself could not be decoded

export class RpcReplyError extends CodedError<RpcReplyErrorCode> {
  constructor(
    code: RpcReplyErrorCode,
    message: string,
    /** For PROG_MISMATCH/RPC_MISMATCH: supported version range; for AUTH_ERROR: the auth_stat. */
    readonly detail?: { low?: number; high?: number; authStat?: number },
  ) {
    super(code, `${code}: ${message}`);
  }
}

export type RecordMarkingErrorCode = 'RECORD_TOO_LARGE' | 'EMPTY_FRAGMENT';

export class RecordMarkingError extends CodedError<RecordMarkingErrorCode> {
  constructor(
    code: RecordMarkingErrorCode,
    message: string,
  ) {
    super(code, `${code}: ${message}`);
  }
}
