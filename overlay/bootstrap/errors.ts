// Failures of the bootstrap endpoint and of joining through one.
import { CodedError } from '../../lib/coded-error.js';
export type BootstrapErrorCode = 'bad-url' | 'unreachable' | 'protocol' | 'network-mismatch' | 'timeout' | 'listen';

/** For 'unreachable', `cause` is the socket's error (its `code`, e.g. ECONNREFUSED, tells a retry policy what happened). */
export class BootstrapError extends CodedError<BootstrapErrorCode> {}

/** Checks a `--bootstrap` URL: ws:// or wss://, with a host and a port. */
export function parseBootstrapUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new BootstrapError('bad-url', `bad bootstrap URL '${url}' (want ws://HOST:PORT)`);
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new BootstrapError('bad-url', `bootstrap URL '${url}' must start with ws:// or wss://`);
  if (!u.hostname) throw new BootstrapError('bad-url', `bootstrap URL '${url}' has no host`);
  if (!u.port) throw new BootstrapError('bad-url', `bootstrap URL '${url}' has no port (want ws://HOST:PORT)`);
  return u;
}
