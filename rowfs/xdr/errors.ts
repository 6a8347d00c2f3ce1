// The XDR layer's error (RFC 4506), with a code; the direction is its class. A decoder throws
// XdrDecodeError: the bytes are not a valid encoding (callers at the network edge catch it to
// answer GARBAGE_ARGS, or count and drop the message). An encoder throws XdrEncodeError: the value
// cannot be encoded (a caller's bug or an over-long value), never the peer's fault. Catch XdrError
// for either.
import { CodedError } from '../../lib/coded-error.js';

export type XdrErrorCode =
  | 'SHORT_BUFFER' // a read would pass the end of the input
  | 'NONZERO_PADDING' // RFC 4506 s3: fill bytes must be zero
  | 'TOO_LONG' // a variable-length item exceeds its declared maximum
  | 'BAD_VALUE' // enum/bool/union discriminant outside its domain, or a value out of range on encode
  | 'TRAILING_BYTES'; // bytes left after a complete message

export class XdrError extends CodedError<XdrErrorCode> {
  constructor(
    code: XdrErrorCode,
    message: string,
  ) {
    super(code, `${code}: ${message}`);
  }
}

/** Bytes that are not a valid XDR encoding of what was expected. */
export class XdrDecodeError extends XdrError {}

/** A value that cannot be encoded as asked (out of range, longer than its maximum). */
export class XdrEncodeError extends XdrError {}
