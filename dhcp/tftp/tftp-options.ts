// RFC 2347 option negotiation for a read request: blksize (RFC 2348), timeout and tsize (RFC 2349),
// windowsize (RFC 7440).
// Unknown options are ignored (RFC 2347: the server omits them from the OACK); values out of range
// are ignored too, except that a blksize above our maximum is lowered to it (RFC 2348 allows a
// smaller reply).
import { DEFAULT_BLOCK_BYTES, MAX_BLKSIZE_BYTES, MIN_BLKSIZE_BYTES } from './tftp-packet.js';

export interface NegotiationLimits {
  /** Largest block we agree to; default 65464. Keep it under the path MTU minus 32 bytes to avoid IP fragmentation. */
  maxBlockBytes: number;
  defaultTimeoutMs: number;
  /** Largest RFC 7440 window granted; 1 disables windowing (lock-step only). */
  maxWindowBlocks: number;
}

export interface Negotiated {
  blockBytes: number;
  timeoutMs: number;
  windowBlocks: number;
  /** Options to acknowledge; undefined when none was accepted (then data starts with block 1, RFC 2347). */
  oack?: Map<string, string>;
}

/** RFC 7440 windowsize bounds, in blocks. */
const MAX_WINDOWSIZE_BLOCKS = 65535;
/** RFC 2349 timeout bounds, in seconds. */
const MIN_TIMEOUT_S = 1;
const MAX_TIMEOUT_S = 255;

function parseDecimal(value: string): number | undefined {
  return /^\d{1,10}$/.test(value) ? Number(value) : undefined;
}

export function negotiate(requested: ReadonlyMap<string, string>, fileBytes: number, limits: NegotiationLimits): Negotiated {
  const oack = new Map<string, string>();
  let blockBytes = DEFAULT_BLOCK_BYTES;
  let timeoutMs = limits.defaultTimeoutMs;
  const blk = requested.get('blksize');
  if (blk !== undefined) {
    const n = parseDecimal(blk);
    if (n !== undefined && n >= MIN_BLKSIZE_BYTES) {
      blockBytes = Math.min(n, limits.maxBlockBytes, MAX_BLKSIZE_BYTES);
      oack.set('blksize', String(blockBytes));
    }
  }
  const timeout = requested.get('timeout');
  if (timeout !== undefined) {
    const n = parseDecimal(timeout);
    if (n !== undefined && n >= MIN_TIMEOUT_S && n <= MAX_TIMEOUT_S) {
      timeoutMs = n * 1000;
      oack.set('timeout', String(n));
    }
  }
  let windowBlocks = 1;
  const win = requested.get('windowsize');
  if (win !== undefined && limits.maxWindowBlocks > 1) {
    const n = parseDecimal(win);
    if (n !== undefined && n >= 1 && n <= MAX_WINDOWSIZE_BLOCKS) {
      windowBlocks = Math.min(n, limits.maxWindowBlocks);
      oack.set('windowsize', String(windowBlocks));
    }
  }
  // RFC 2349: in a read request tsize is 0 and the server answers the file's size.
  if (requested.has('tsize')) oack.set('tsize', String(fileBytes));
  return { blockBytes, timeoutMs, windowBlocks, oack: oack.size > 0 ? oack : undefined };
}
