// Names of the image service: app names, version strings, their order, and the DHT keys of the
// registry. All keys live under "image/", apart from the virtual-IP leases ("dhcp/<net>/<ip>").
import { ImageError, quote } from './errors.js';

export const MAX_NAME_BYTES = 64;
// ASCII only, so characters and bytes count the same.
const APP_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

/** Returns `s` if it is an app name: 1..64 of [a-z0-9._-], starting with a letter or digit. */
export function checkAppName(s: string): string {
  if (typeof s !== 'string' || !APP_NAME.test(s)) {
    throw new ImageError('BAD_NAME', `bad app name ${quote(String(s))}: use 1-64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
  return s;
}

/** Returns `s` if it is a version: 1..64 of [A-Za-z0-9._+-], starting with a letter or digit. */
export function checkVersion(s: string): string {
  if (typeof s !== 'string' || !VERSION.test(s)) {
    throw new ImageError('BAD_NAME', `bad version ${quote(String(s))}: use 1-64 letters, digits, '.', '_', '+' or '-', starting with a letter or digit`);
  }
  return s;
}

// A version is a run of tokens: digit runs and non-digit runs. Token classes, in order:
//   0 a non-digit run starting with '-' (a pre-release: 1.2-rc < 1.2)
//   1 the end of the version
//   2 a digit run (compared as a number: 1.10 > 1.9)
//   3 any other non-digit run ('.', '+', letters: 1.2 < 1.2.1 < 1.2a)
// Comparing the token lists (end appended) lexicographically is a total preorder; ties (1.01 vs
// 1.1) fall back to plain string order, which makes it a total order.
const TOKEN = /[0-9]+|[^0-9]+/g;

function tokenClass(t: string | undefined): number {
  if (t === undefined) return 1;
  const c = t.charCodeAt(0);
  if (c >= 48 && c <= 57) return 2;
  return c === 45 ? 0 : 3;
}

function compareTokens(a: string | undefined, b: string | undefined): number {
  const ca = tokenClass(a);
  const cb = tokenClass(b);
  if (ca !== cb) return ca - cb;
  if (ca === 1) return 0;
  if (ca === 2) {
    const x = a!.replace(/^0+(?=.)/, '');
    const y = b!.replace(/^0+(?=.)/, '');
    if (x.length !== y.length) return x.length - y.length;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a! < b! ? -1 : a! > b! ? 1 : 0;
}

/** Numeric-aware order of versions: 1.2-rc < 1.2 < 1.2.1 < 1.9 < 1.10. A total order (0 only for equal strings). */
export function compareVersions(a: string, b: string): number {
  const ta = a.match(TOKEN) ?? [];
  const tb = b.match(TOKEN) ?? [];
  for (let i = 0; i <= Math.max(ta.length, tb.length); i++) {
    const c = compareTokens(ta[i], tb[i]);
    if (c !== 0) return c;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

const utf8 = new TextEncoder();

/** DHT keys of the registry (the paper's three tables, plus the claim of an app name). */
export const registryKeys = {
  /** The app's owner: one exclusive value (DHT `create`). */
  claim: (app: string): Uint8Array => utf8.encode(`image/claim/${checkAppName(app)}`),
  /** One VersionsRecord per publisher (the owner and the keys it names). */
  versions: (app: string): Uint8Array => utf8.encode(`image/versions/${checkAppName(app)}`),
  /** One ServerRecord per node serving the version. */
  servers: (app: string, version: string): Uint8Array => utf8.encode(`image/servers/${checkAppName(app)}/${checkVersion(version)}`),
  /** One SharerRecord per node mounting the version: their count is its reference count. */
  sharers: (app: string, version: string): Uint8Array => utf8.encode(`image/sharers/${checkAppName(app)}/${checkVersion(version)}`),
  /** One TraceRecord per node that attached its boot trace to the version. */
  trace: (app: string, version: string): Uint8Array => utf8.encode(`image/trace/${checkAppName(app)}/${checkVersion(version)}`),
};
