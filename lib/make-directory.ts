// `mkdir -p` with a bounded loop. Node 20's mkdirSync(path, { recursive: true }) spins forever on
// paths such as /proc/self/nope/x (issue 11, item 10: `boot --lease-file /proc/self/nope/x` then
// ignored SIGTERM at 96% CPU); this creates one component at a time, at most once each, and fails
// with the system's error (ENOENT, ENOTDIR, EACCES, ...) instead.
import { mkdirSync, statSync } from 'node:fs';
import { resolve, sep } from 'node:path';

/** Creates directory `path` and its missing parents (each with `mode`); an existing directory is fine. */
export function makeDirectory(path: string, mode = 0o777): void {
  const parts = resolve(path).split(sep).filter(Boolean);
  let cur = '';
  for (const part of parts) {
    cur += sep + part;
    try {
      mkdirSync(cur, { mode });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (!statSync(cur).isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${cur}'`), { code: 'ENOTDIR', path: cur });
    }
  }
}
