// What a boot read of the image, per file: the proxy's per-file READ tallies (by path handle, hex)
// joined to the image's paths (a path handle is a hash of the path, so the tree names them), then
// summed per directory. Fetched beyond read is the proxy's own over-fetch (readahead, whole blocks).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CountersSnapshot } from '../../rowfs/counters.js';
import { pathHandle } from '../../rowfs/proxy/replicated-main.js';
import { hex } from '../../rowfs/state/store.js';

/** Files listed one by one in the detail file (most fetched first); the rest only in the sums. */
const LISTED_FILES = 60;
/** Path components that name a directory group ("usr/lib/modules"). */
const GROUP_DEPTH = 3;

export interface FileRead {
  path: string;
  read: number;
  fetched: number;
}

export interface FileReads {
  /** Bytes the VM read of image files, and bytes the proxy fetched from the server for them. */
  read: number;
  fetched: number;
  /** Sum over files of what was fetched beyond what was read. */
  overFetched: number;
  files: number;
  top: FileRead[];
  groups: FileRead[];
}

/** Hex path handle -> path of every regular file under `root` (relative, '/'-separated). */
export function imagePaths(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.set(hex(pathHandle(p)), p);
    }
  };
  walk('');
  return out;
}

export function fileReads(c: CountersSnapshot, paths: Map<string, string>): FileReads | undefined {
  if (!c.files) return undefined;
  const all: FileRead[] = Object.entries(c.files).map(([k, [read, fetched]]) => ({ path: paths.get(k) ?? `?${k}`, read, fetched }));
  const groups = new Map<string, FileRead>();
  for (const f of all) {
    const dir = f.path.split('/').slice(0, -1).slice(0, GROUP_DEPTH).join('/') || '.';
    const g = groups.get(dir) ?? { path: dir, read: 0, fetched: 0 };
    g.read += f.read;
    g.fetched += f.fetched;
    groups.set(dir, g);
  }
  const byFetched = (a: FileRead, b: FileRead) => b.fetched - a.fetched || b.read - a.read;
  return {
    read: all.reduce((n, f) => n + f.read, 0),
    fetched: all.reduce((n, f) => n + f.fetched, 0),
    overFetched: all.reduce((n, f) => n + Math.max(0, f.fetched - f.read), 0),
    files: all.length,
    top: all.sort(byFetched).slice(0, LISTED_FILES),
    groups: [...groups.values()].sort(byFetched),
  };
}

/** The directory sums and the most fetched files, KB, for the progress output. */
export function fileTable(r: FileReads, rows = 15): string {
  const kb = (n: number) => String(Math.round(n / 1024)).padStart(8);
  const line = (f: FileRead) => `${kb(f.read)} ${kb(f.fetched)}  ${f.path}`;
  return [`${'read KB'.padStart(8)} ${'fetch KB'.padStart(8)}  directory`, ...r.groups.slice(0, rows).map(line), `${'read KB'.padStart(8)} ${'fetch KB'.padStart(8)}  file`, ...r.top.slice(0, rows).map(line)].join('\n');
}
