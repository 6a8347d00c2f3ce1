// How `overlay up` retries its bootstrap endpoints (issue 14 item 4): each failed attempt is sorted
// into a kind, and each kind has its own number of attempts, so an endpoint that refuses or does not
// exist is given up within seconds while one that answers but fails the link setup gets more tries.
// Endpoints are tried in turn, in rounds with a doubling pause between rounds; one whose attempts
// are used up is dropped, and the join fails once every endpoint is dropped. Bounds per endpoint
// (pauses BOOTSTRAP_BACKOFF_FIRST_MS, doubling, at most BOOTSTRAP_BACKOFF_MAX_MS):
//   refused, unreachable     3 attempts, each immediate: given up after about 3 s
//   unknown host             2 attempts, each at most one connect timeout: within 11 s
//   no answer (dropped)      2 attempts of BOOTSTRAP_CONNECT_TIMEOUT_MS: within 11 s
//   link setup failed        3 attempts of at most --dial-timeout + 5 s each
// A wrong secret or network is not retried at all (JoinError, refused).
import { BootstrapError } from '../overlay/bootstrap/errors.js';
import { LinkDialError } from '../overlay/link/webrtc/errors.js';

/** Name lookup, TCP connect and WebSocket handshake of one attempt: an endpoint silent this long is not answering. */
export const BOOTSTRAP_CONNECT_TIMEOUT_MS = 5_000;
export const BOOTSTRAP_BACKOFF_FIRST_MS = 1_000;
export const BOOTSTRAP_BACKOFF_MAX_MS = 8_000;

export type BootstrapFailureKind = 'refused' | 'unreachable' | 'unknown-host' | 'no-answer' | 'link-failed';

/** Attempts an endpoint gets when its latest attempt failed this way. */
export const BOOTSTRAP_ATTEMPTS: Record<BootstrapFailureKind, number> = {
  refused: 3,
  unreachable: 3,
  'unknown-host': 2,
  'no-answer': 2,
  'link-failed': 3,
};

export interface BootstrapFailure {
  kind: BootstrapFailureKind;
  /** A few words for the progress line, e.g. "connection refused". */
  text: string;
}

const UNKNOWN_HOST = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA']);
const UNREACHABLE = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'ECONNRESET', 'EADDRNOTAVAIL']);

/** Sorts the error of one failed dialViaBootstrap (other than a refusal, which is final). */
export function classifyBootstrapFailure(err: unknown): BootstrapFailure {
  if (err instanceof BootstrapError && err.code === 'unreachable') {
    const code = (err.cause as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ECONNREFUSED') return { kind: 'refused', text: 'connection refused' };
    if (code && UNKNOWN_HOST.has(code)) return { kind: 'unknown-host', text: `unknown host (${code})` };
    if (code && UNREACHABLE.has(code)) return { kind: 'unreachable', text: `unreachable (${code})` };
    if (code === 'ETIMEDOUT' || /timed out/i.test((err.cause as Error | undefined)?.message ?? '')) {
      return { kind: 'no-answer', text: `no answer within ${BOOTSTRAP_CONNECT_TIMEOUT_MS / 1000} s` };
    }
    return { kind: 'unreachable', text: (err.cause as Error | undefined)?.message ?? err.message };
  }
  if (err instanceof BootstrapError || err instanceof LinkDialError) return { kind: 'link-failed', text: err.message };
  return { kind: 'link-failed', text: (err as Error).message ?? String(err) };
}

/** The pause before round `round` (1-based; round 1 starts at once). */
export function bootstrapBackoffMs(round: number): number {
  return round <= 1 ? 0 : Math.min(BOOTSTRAP_BACKOFF_FIRST_MS * 2 ** (round - 2), BOOTSTRAP_BACKOFF_MAX_MS);
}
