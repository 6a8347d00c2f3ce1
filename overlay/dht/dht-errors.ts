import type { DhtErrorCode } from './dht-messages.js';

/** A DHT operation failed (no route, timeouts, refused as invalid or stale). */
export class DhtError extends Error {
  override name = 'DhtError';
  constructor(readonly code: DhtErrorCode | 'no-route', message: string, readonly heldSeq?: number) {
    super(message);
  }
}

/** `create` lost: another owner holds a live value under the key. */
export class DhtConflictError extends Error {
  override name = 'DhtConflictError';
}
