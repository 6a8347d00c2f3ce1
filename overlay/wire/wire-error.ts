/** A malformed frame or message. Decoders throw only this; receivers count and drop, never crash. */
export class WireError extends Error {
  override name = 'WireError';
  constructor(readonly code: 'truncated' | 'unknown-type' | 'bad-field' | 'trailing-bytes' | 'too-large', message: string) {
    super(message);
  }
}
