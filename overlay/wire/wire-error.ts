import { CodedError } from '../../lib/coded-error.js';
/** A malformed frame or message. Decoders throw only this; receivers count and drop, never crash. */
export class WireError extends CodedError<'truncated' | 'unknown-type' | 'bad-field' | 'trailing-bytes' | 'too-large'> {}
