// readBackendDir against a fake main: every page is read to eof; a page with no entries that is
// not eof is an I/O error (there is no cookie to resume from), never a listing that passes for
// complete (core.ts and listing.ts mark a directory complete from it, and unlisted names would
// then read as absent).
import test from 'ava';
import { Backend, type Nfs3Caller } from '../../../rowfs/proxy/backend.js';
import { readBackendDir } from '../../../rowfs/proxy/backend-listing.js';
import { StatusError } from '../../../rowfs/proxy/errors.js';
import { Counters } from '../../../rowfs/counters.js';
import { Nfs3Status } from '../../../rowfs/nfs3/types.js';

/** A main whose READDIRPLUS answers `pages` in turn (each page: its names, and whether it is eof). */
function fakeMain(pages: Array<{ names: string[]; eof: boolean }>): { backend: Backend; cookies: bigint[] } {
  const cookies: bigint[] = [];
  let next = 0;
  let cookie = 0n;
  const caller = {
    async call(name: string, args: { cookie: bigint }) {
      if (name !== 'READDIRPLUS') throw new Error(`unexpected ${name}`);
      cookies.push(args.cookie);
      const page = pages[next++];
      if (!page) throw new Error('read past the last page');
      const entries = page.names.map((n) => ({ fileid: 1n, name: n, cookie: ++cookie }));
      return { status: Nfs3Status.OK, cookieverf: new Uint8Array(8), entries, eof: page.eof };
    },
  } as unknown as Nfs3Caller;
  return { backend: new Backend('main', caller, new Uint8Array([1]), new Counters()), cookies };
}

test('pages are read until eof, each from the last cookie of the one before', async (t) => {
  const { backend, cookies } = fakeMain([
    { names: ['a', 'b'], eof: false },
    { names: ['c'], eof: false },
    { names: [], eof: true },
  ]);
  t.deepEqual((await readBackendDir(backend, new Uint8Array([1]))).map((e) => e.name), ['a', 'b', 'c']);
  t.deepEqual(cookies, [0n, 2n, 3n]);
});

test('an empty page before eof is NFS3ERR_IO, not the end of the listing', async (t) => {
  const { backend, cookies } = fakeMain([
    { names: ['a', 'b'], eof: false },
    { names: [], eof: false },
    { names: ['c'], eof: true },
  ]);
  const err = await t.throwsAsync(readBackendDir(backend, new Uint8Array([1])), { instanceOf: StatusError });
  t.is(err!.status, Nfs3Status.IO);
  t.deepEqual(cookies, [0n, 2n], 'not retried as a changed directory (BAD_COOKIE)');
});
