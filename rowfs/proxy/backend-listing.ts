// Every entry of one backend directory, read with READDIRPLUS pages: what the merged listings
// (listing.ts) and the registration of a main directory's names (core.ts) are built from.
import { Nfs3Status, type Fattr3, type FileHandle } from '../nfs3/types.js';
import type { Backend } from './backend.js';
import { StatusError } from './errors.js';

/** Times a backend listing restarts when the backend says BAD_COOKIE (it changed under us). */
const BACKEND_LIST_ATTEMPTS = 3;
/** Entries one backend directory may contribute (guards memory against a runaway server). */
export const MAX_BACKEND_ENTRIES = 1_000_000;
const BACKEND_DIRCOUNT_BYTES = 64 * 1024;
const BACKEND_MAXCOUNT_BYTES = 1024 * 1024;

export interface BackendEntry {
  name: string;
  fh?: FileHandle;
  attrs?: Fattr3;
}

/**
 * Every entry of a backend directory, through READDIRPLUS pages; started again when the backend
 * no longer honours a cookie it gave (RFC 1813 s3.3.17 BAD_COOKIE: it changed meanwhile). More
 * than `maxEntries` entries is NFS3ERR_IO (a directory too large for the caller).
 */
export async function readBackendDir(backend: Backend, dir: FileHandle, maxEntries = MAX_BACKEND_ENTRIES): Promise<BackendEntry[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await readOnce(backend, dir, maxEntries);
    } catch (e) {
      if (!(e instanceof StatusError && e.status === Nfs3Status.BAD_COOKIE) || attempt >= BACKEND_LIST_ATTEMPTS) throw e;
    }
  }
}

async function readOnce(backend: Backend, dir: FileHandle, maxEntries: number): Promise<BackendEntry[]> {
  const out: BackendEntry[] = [];
  let cookie = 0n;
  let cookieverf: Uint8Array = new Uint8Array(8);
  for (;;) {
    const res = await backend.call('READDIRPLUS', { dir, cookie, cookieverf, dircount: BACKEND_DIRCOUNT_BYTES, maxcount: BACKEND_MAXCOUNT_BYTES });
    if (res.status !== Nfs3Status.OK) throw new StatusError(res.status, `${backend.role} READDIRPLUS`);
    for (const e of res.entries) out.push({ name: e.name, fh: e.nameHandle, attrs: e.nameAttributes });
    if (out.length > maxEntries) throw new StatusError(Nfs3Status.IO, 'directory too large');
    if (res.eof) break;
    // No entries and no eof: nothing to resume from. Ending here would pass a partial listing off
    // as complete (and unlisted names would then read as absent).
    if (res.entries.length === 0) throw new StatusError(Nfs3Status.IO, `${backend.role} READDIRPLUS: empty page before eof`);
    cookie = res.entries[res.entries.length - 1]!.cookie;
    cookieverf = res.cookieverf;
  }
  return out;
}
