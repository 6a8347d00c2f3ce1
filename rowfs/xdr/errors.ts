// The one error class every XDR decoder and encoder throws (RFC 4506). Callers at the network edge
// catch it to answer GARBAGE_ARGS or to count and drop a malformed message.

export type XdrErrorCode =
  | 'SHORT_BUFFER' // a read would pass the end of the input
  | 'NONZERO_PADDING' // RFC 4506 s3: fill bytes must be zero
  | 'TOO_LONG' // a variable-length item exceeds its declared maximum
  | 'BAD_VALUE' // enum/bool/union discriminant outside its domain, or a value out of range on encode
  | 'TRAILING_BYTES'; // bytes left after a complete message

export class XdrError extends Error {
  static readonly errorName = 'XdrError';
  override readonly name = 'XdrError';
  constructor(
    readonly code: XdrErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}
