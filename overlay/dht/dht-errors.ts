import type { DhtErrorCode } from './dht-messages.js';
import { CodedError } from '../../lib/coded-error.js';

/** A DHT operation failed (no route, timeouts, refused as invalid or stale). */
export class DhtError extends CodedError<DhtErrorCode | 'no-route'> {
  constructor(
    code: DhtErrorCode | 'no-route',
    message: string,
    readonly heldSeq?: number,
  ) {
    super(code, message);
  }
}

/** `create` lost: another owner holds a live value under the key. */
export class DhtConflictError extends DhtError {
  constructor(message: string) {
    super('conflict', message);
  }
}
