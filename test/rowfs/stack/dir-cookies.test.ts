// The directory cookie scheme (rowfs/nfs3/dir-cookies.ts) as pure logic: paging with firstAfter and
// pageEnd over listings with many equal cookies (collisions are too rare to meet over RPC), names
// removed and added between pages, against a model; the cookie range and the verifier check.
import test from 'ava';
import fc from 'fast-check';
import { byCookie, DIR_COOKIE_VERF, firstAfter, MAX_DIR_COOKIE, nameCookie, pageEnd, resumeCookie, type CookieEntry } from '../../../rowfs/nfs3/dir-cookies.js';

test('name cookies are above . and .., within the scheme, and the same for the same name', (t) => {
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 255 }), (name) => {
      const c = nameCookie(name);
      return Number.isSafeInteger(c) && c > 2 && c <= MAX_DIR_COOKIE && c === nameCookie(name);
    }),
  );
  t.not(nameCookie('f004'), nameCookie('f005'));
});

test('resumeCookie: 0 starts; our verifier or zero resumes; a foreign verifier or an out-of-range cookie cannot be honoured', (t) => {
  const zero = new Uint8Array(8);
  t.is(resumeCookie(0n, Buffer.from('anything')), 0);
  t.is(resumeCookie(12345n, DIR_COOKIE_VERF), 12345);
  t.is(resumeCookie(12345n, zero), 12345);
  t.is(resumeCookie(12345n, Buffer.from('notavrf!')), undefined);
  t.is(resumeCookie(BigInt(MAX_DIR_COOKIE), DIR_COOKIE_VERF), MAX_DIR_COOKIE);
  t.is(resumeCookie(BigInt(MAX_DIR_COOKIE) + 1n, DIR_COOKIE_VERF), undefined);
});

/** Cookies from a tiny range, so groups of equal cookies are common. */
const entries = fc.uniqueArray(fc.record({ name: fc.string({ minLength: 1, maxLength: 6 }), cookie: fc.integer({ min: 3, max: 12 }) }), {
  selector: (e) => e.name,
  maxLength: 30,
});

test('paging with random page budgets and random removes/adds between pages: each survivor once, no group split', (t) => {
  fc.assert(
    fc.property(entries, entries, fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 40 }), fc.array(fc.nat(), { maxLength: 40 }), (initial, more, pageBudgets, removals) => {
      let listing: CookieEntry[] = [...initial].sort(byCookie);
      const added = more.map((e) => ({ ...e, name: `+${e.name}` })); // new names, never initial ones
      const budgets = [...pageBudgets];
      const survivors = new Set(initial.map((e) => e.name));
      const seen: string[] = [];
      let after = 0;
      for (let page = 0; page < 200; page++) {
        const start = firstAfter(listing, after);
        let budget = budgets[page % budgets.length]!;
        const end = pageEnd(listing, start, () => budget-- > 0);
        if (end === start) {
          if (start >= listing.length) break;
          // TOOSMALL: a group larger than the budget; the client retries with a larger one.
          budgets[page % budgets.length]! += 10;
          continue;
        }
        const got = listing.slice(start, end);
        // A page never ends inside a group of equal cookies.
        if (end < listing.length && listing[end]!.cookie === got[got.length - 1]!.cookie) return false;
        seen.push(...got.map((e) => e.name));
        after = got[got.length - 1]!.cookie;
        // Between pages: remove one entry (seen or not), add one.
        const r = removals[page];
        if (r !== undefined && listing.length > 0) {
          const gone = listing[r % listing.length]!;
          survivors.delete(gone.name);
          listing = listing.filter((e) => e !== gone);
        }
        const add = added[page];
        if (add && !listing.some((e) => e.name === add.name)) listing = [...listing, add].sort(byCookie);
      }
      const counts = new Map<string, number>();
      for (const n of seen) counts.set(n, (counts.get(n) ?? 0) + 1);
      return [...counts.values()].every((c) => c === 1) && [...survivors].every((n) => counts.has(n));
    }),
    { numRuns: 2000 },
  );
  t.pass();
});
