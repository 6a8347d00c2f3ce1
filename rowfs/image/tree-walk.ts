// Walks a directory tree with lstat (symlinks are recorded, never followed; sockets, fifos and
// devices are recorded as 'other'), checking every name against the manifest's rules. Returns the
// entries sorted by path (UTF-8 byte order), without block hashes. Nothing is skipped: a name the
// manifest cannot hold (not UTF-8, too long) is an ImageError, not a silent gap.
import * as fs from 'node:fs';
import type { Stats } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { ImageError, quote } from './errors.js';
import { MAX_MANIFEST_ENTRIES, checkManifestPath, comparePaths, type ManifestEntry } from './manifest-codec.js';

/** lstat calls in flight at once within one directory (the thread pool runs 4 by default). */
const LSTAT_BATCH = 32;
// The callback API through promisify costs fewer microseconds per call than fs/promises.
const lstat = promisify(fs.lstat);
const stat = promisify(fs.stat);
const readdir = promisify(fs.readdir);
const readlink = promisify(fs.readlink);
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

const ioError = (path: string, err: unknown) => new ImageError('IO', `cannot read ${quote(path)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);

function utf8Name(raw: Buffer, dir: string): string {
  try {
    return utf8Strict.decode(raw);
  } catch {
    throw new ImageError('BAD_NAME', `a name in ${quote(dir || '/')} is not valid UTF-8 (${raw.toString('hex').slice(0, 40)})`);
  }
}

async function entryOf(rel: string, abs: string, st: Stats): Promise<ManifestEntry> {
  const base = { path: rel, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  if (st.isDirectory()) return { ...base, type: 'dir', size: 0 };
  if (st.isFile()) return { ...base, type: 'file', size: st.size };
  if (st.isSymbolicLink()) {
    let raw: Buffer;
    try {
      raw = await readlink(abs, { encoding: 'buffer' });
    } catch (err) {
      throw ioError(rel, err);
    }
    return { ...base, type: 'symlink', size: raw.length, target: utf8Name(raw, rel) };
  }
  return { ...base, type: 'other', size: 0 };
}

/** The tree under `root` (the root itself may be a symlink to a directory; nothing below is followed). */
export async function walkTree(root: string, signal?: AbortSignal): Promise<ManifestEntry[]> {
  let rootStat: Stats;
  try {
    rootStat = await stat(root);
  } catch (err) {
    throw ioError(root, err);
  }
  if (!rootStat.isDirectory()) throw new ImageError('IO', `${quote(root)} is not a directory`);
  const entries: ManifestEntry[] = [{ path: '', type: 'dir', mode: rootStat.mode & 0o7777, uid: rootStat.uid, gid: rootStat.gid, size: 0 }];
  const pending = [''];
  while (pending.length > 0) {
    signal?.throwIfAborted();
    const dir = pending.pop()!;
    let names: Buffer[];
    try {
      names = await readdir(join(root, dir), { encoding: 'buffer' });
    } catch (err) {
      throw ioError(dir || '/', err);
    }
    if (entries.length + names.length > MAX_MANIFEST_ENTRIES) throw new ImageError('TOO_LARGE', `the tree has more than ${MAX_MANIFEST_ENTRIES} entries`);
    const rels = names.map((raw) => checkManifestPath(dir === '' ? utf8Name(raw, dir) : `${dir}/${utf8Name(raw, dir)}`));
    for (let i = 0; i < rels.length; i += LSTAT_BATCH) {
      const batch = rels.slice(i, i + LSTAT_BATCH);
      const found = await Promise.all(
        batch.map(async (rel) => {
          const abs = join(root, rel);
          let st: Stats;
          try {
            st = await lstat(abs);
          } catch (err) {
            throw ioError(rel, err);
          }
          return entryOf(rel, abs, st);
        }),
      );
      for (const e of found) {
        entries.push(e);
        if (e.type === 'dir') pending.push(e.path);
      }
    }
  }
  return entries.sort((a, b) => comparePaths(a.path, b.path));
}
