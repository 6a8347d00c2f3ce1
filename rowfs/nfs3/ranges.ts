// Byte ranges from the wire (RFC 1813: offset3 is a uint64, count3 a uint32). Servers and the
// proxy here compute with JavaScript numbers, exact up to 2^53 - 1, so that is the largest file
// size they serve (FSINFO maxfilesize) and every READ, WRITE and COMMIT range is checked against
// it before any arithmetic: offset 2^64 - 1 is a status, never an overflow deeper down.
import { Nfs3Status } from './types.js';

/** Largest file size served (bytes): the largest integer a JavaScript number holds exactly. */
export const MAX_FILE_BYTES = Number.MAX_SAFE_INTEGER;

/** True when [offset, offset + count) ends past MAX_FILE_BYTES (no bigint arithmetic: hot path). */
export function endsPastMaxFile(offset: bigint, count: number): boolean {
  // Number() of an offset above 2^53 rounds to at least 2^53, still past the maximum; below it the
  // conversion and the sum are exact.
  return Number(offset) + count > MAX_FILE_BYTES;
}

/**
 * The status for a range past MAX_FILE_BYTES, or undefined when it is in range. WRITE: FBIG (RFC
 * 1813 s3.3.7); READ and COMMIT: INVAL (what knfsd answers to an offset past its maximum).
 */
export function rangeFault(proc: 'READ' | 'WRITE' | 'COMMIT', offset: bigint, count: number): Nfs3Status.FBIG | Nfs3Status.INVAL | undefined {
  if (!endsPastMaxFile(offset, count)) return undefined;
  return proc === 'WRITE' ? Nfs3Status.FBIG : Nfs3Status.INVAL;
}
