// Directory cookies that stay valid while the directory changes (RFC 1813 s3.3.16-17), shared by
// the proxy and the embedded server. An entry's cookie is a function of its name alone: 52 bits of
// SHA-256 of the name, plus NAME_COOKIE_BASE (0 starts a listing, 1 and 2 are '.' and '..'). A
// listing is served in cookie order, so "resume after cookie c" means "the entries whose cookie is
// greater than c", whatever was created or removed meanwhile: every entry that exists throughout a
// listing comes back exactly once, and a cookie never names another entry. Nothing is stored, so
// cookies survive restarts and crashes of the server.
//
// Two names may share a cookie (a collision: about one pair in 8,000 for a directory of a million
// names; crafted ones need ~2^26 hashes). Entries with equal cookies are a group that a page never
// splits (as ext4 returns the names of one hash together), so resuming after their cookie is still
// exact; a group that cannot fit in the client's page is TOOSMALL (RFC 1813 s3.3.16).
//
// The verifier names this scheme. A cookie sent with any other non-zero verifier (another server,
// an earlier version's positional cookies) is BAD_COOKIE; a zero verifier is accepted (clients may
// send one and the cookie alone is meaningful).
import { createHash, hash } from 'node:crypto';

/** Cookie of '.' and '..'; names start above them. */
export const DOT_COOKIE = 1;
export const DOTDOT_COOKIE = 2;
const NAME_COOKIE_BASE = 3;
const NAME_HASH_BITS = 52;
/** Largest cookie this scheme hands out (a safe integer, so cookies compare as numbers). */
export const MAX_DIR_COOKIE = NAME_COOKIE_BASE + 2 ** NAME_HASH_BITS - 1;

/** The cookie verifier of this scheme (8 bytes, RFC 1813 cookieverf3). */
export const DIR_COOKIE_VERF: Uint8Array = new Uint8Array(createHash('sha256').update('rowfs directory cookies v1: 3 + sha256(name)[52 bits]').digest().subarray(0, 8));

/** The cookie of the entry `name` (not '.' or '..'). */
export function nameCookie(name: string): number {
  const h = hash('sha256', name, 'buffer');
  // 52 bits: the top 20 of the first word, then 32.
  return NAME_COOKIE_BASE + (h.readUInt32BE(0) >>> 12) * 2 ** 32 + h.readUInt32BE(4);
}

/** The cookie to resume after, or undefined when this scheme cannot honour it (BAD_COOKIE). */
export function resumeCookie(cookie: bigint, verf: Uint8Array): number | undefined {
  if (cookie === 0n) return 0;
  if (cookie > BigInt(MAX_DIR_COOKIE)) return undefined;
  if (!verf.every((b) => b === 0) && !Buffer.from(verf).equals(DIR_COOKIE_VERF)) return undefined;
  return Number(cookie);
}

export interface CookieEntry {
  name: string;
  cookie: number;
}

/** Orders a listing by cookie (names break ties, so a group's order is fixed too). */
export function byCookie(a: CookieEntry, b: CookieEntry): number {
  return a.cookie - b.cookie || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** Index of the first entry of `sorted` (ordered by byCookie) whose cookie is greater than `after`. */
export function firstAfter(sorted: readonly CookieEntry[], after: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]!.cookie <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * End (exclusive) of the page starting at `start`: entries are taken while `fits` accepts them
 * (it accounts for their size), then a trailing group of equal cookies cut by the page end is
 * left for the next page. Returns `start` when not even the first group fits (TOOSMALL).
 */
export function pageEnd<E extends CookieEntry>(sorted: readonly E[], start: number, fits: (e: E) => boolean): number {
  let end = start;
  while (end < sorted.length && fits(sorted[end]!)) end++;
  if (end < sorted.length) {
    const cut = sorted[end]!.cookie;
    while (end > start && sorted[end - 1]!.cookie === cut) end--;
  }
  return end;
}
