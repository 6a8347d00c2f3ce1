// File handles of the embedded server: 32 bytes built from what identifies a file on disk, so they
// survive a server restart without any stored state:
//   magic "RWF1" (4) | flags (4, 0) | st_dev (8) | st_ino (8) | birth time in ns (8, the generation)
// The birth time tells a reused inode number apart from the file a client still holds.
// Paths are found through a table of (parent, name) per inode, filled by every LOOKUP, CREATE and
// READDIRPLUS; a handle the table does not know (after a restart, or a change made behind our
// back) triggers one bounded scan of the export. A handle always resolves to a path inside the
// export, or to STALE: nothing outside the exported tree is reachable.
import { lstat, readdir } from 'node:fs/promises';
import { lstatSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { pathUnder } from './entry-path.js';
import { isDirectory } from './attributes.js';
import { NFS3_FHSIZE } from '../nfs3/types.js';

export const HANDLE_BYTES = 32;
const MAGIC = 0x52574631; // "RWF1"
/** Maximum directory depth followed when building a path from parent links. */
const MAX_DEPTH = 4096;

export interface FileId {
  dev: bigint;
  ino: bigint;
  birthNs: bigint;
}

export function fileIdOf(st: BigIntStats): FileId {
  return { dev: st.dev, ino: st.ino, birthNs: st.birthtimeNs };
}

export function encodeHandle(id: FileId): Uint8Array {
  const out = new Uint8Array(HANDLE_BYTES);
  const v = new DataView(out.buffer);
  v.setUint32(0, MAGIC);
  v.setUint32(4, 0);
  v.setBigUint64(8, id.dev);
  v.setBigUint64(16, id.ino);
  v.setBigUint64(24, id.birthNs < 0n ? 0n : id.birthNs);
  return out;
}

/** Parses a handle; undefined when it is not one of ours (NFS3ERR_BADHANDLE). */
export function decodeHandle(fh: Uint8Array): FileId | undefined {
  if (fh.length !== HANDLE_BYTES || fh.length > NFS3_FHSIZE) return undefined;
  const v = new DataView(fh.buffer, fh.byteOffset, fh.byteLength);
  if (v.getUint32(0) !== MAGIC || v.getUint32(4) !== 0) return undefined;
  return { dev: v.getBigUint64(8), ino: v.getBigUint64(16), birthNs: v.getBigUint64(24) };
}

const keyOf = (dev: bigint, ino: bigint) => `${dev}:${ino}`;

export function sameFile(id: FileId, st: BigIntStats): boolean {
  return st.dev === id.dev && st.ino === id.ino && (id.birthNs === 0n || st.birthtimeNs === id.birthNs);
}

interface Link {
  parent: string | undefined; // key of the parent directory; undefined for the export root
  name: string;
}

export interface Resolved {
  /** Absolute path on the local file system. */
  path: string;
  stat: BigIntStats;
  /** A held O_PATH descriptor of the directory (ExportTree's HeldDirs): reach it through this, not `path`. */
  fd?: number;
}

/** What one look at a handle's recorded path found (see HandleTable.tryResolve). */
export type Attempt = Resolved | 'absent' | 'broken' | 'replaced';

export class HandleTable {
  private links = new Map<string, Link>();
  /** While a scan runs, links learned by LOOKUP/CREATE are also kept here so the swap keeps them. */
  private learnedDuringScan: Map<string, Link> | undefined;
  private rootKey = '';
  private lastScanMs = -Infinity;
  /**
   * Bumped when a scan starts and when it ends (odd while one runs): a scan reads every directory,
   * which changes their atime, so whoever remembers attributes (the proxy's shadow-attrs.ts) can tell.
   */
  scanEdges = 0;
  private scanning: Promise<void> | undefined;

  /** `root` normalized, as join would give it: the base of every recorded path. */
  private readonly rootPath: string;

  /**
   * @param root absolute path of the exported directory
   * @param now clock for scan throttling (ms)
   * @param minScanIntervalMs unknown handles within this time of the last scan are STALE without rescanning
   */
  constructor(
    readonly root: string,
    private readonly now: () => number,
    private readonly minScanIntervalMs = 2000,
  ) {
    this.rootPath = join(root);
  }

  async init(): Promise<BigIntStats> {
    const st = await lstat(this.root, { bigint: true });
    this.rootKey = keyOf(st.dev, st.ino);
    this.links.set(this.rootKey, { parent: undefined, name: '' });
    return st;
  }

  /** Records that `child` is reachable as `name` in directory `parent`. */
  remember(parent: BigIntStats, name: string, child: BigIntStats): void {
    const key = keyOf(child.dev, child.ino);
    if (key === this.rootKey) return;
    const link = { parent: keyOf(parent.dev, parent.ino), name };
    this.links.set(key, link);
    this.learnedDuringScan?.set(key, link);
  }

  forget(st: BigIntStats): void {
    const key = keyOf(st.dev, st.ino);
    if (key === this.rootKey) return;
    this.links.delete(key);
    this.learnedDuringScan?.delete(key);
  }

  isRoot(st: BigIntStats): boolean {
    return keyOf(st.dev, st.ino) === this.rootKey;
  }

  /** The path recorded for `key` (dev:ino), or undefined. */
  pathOfKey(key: string): string | undefined {
    const parts: string[] = [];
    let k: string | undefined = key;
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      if (k === this.rootKey) return pathUnder(this.rootPath, parts.reverse());
      const link: Link | undefined = this.links.get(k!);
      if (!link) return undefined;
      parts.push(link.name);
      k = link.parent;
    }
    return undefined;
  }

  /** The path and current attributes of the file a handle names, or undefined (STALE). */
  async resolve(id: FileId): Promise<Resolved | undefined> {
    return this.resolveAfter(id, this.tryResolve(id));
  }

  /** Like resolve, given the first attempt (ExportTree.resolveNow made it already). */
  async resolveAfter(id: FileId, first: Attempt): Promise<Resolved | undefined> {
    let r = first;
    if (typeof r === 'object') return r;
    if (r === 'replaced') return undefined; // same inode number, another file: the old one is gone
    // Concurrent misses (a client resending many old handles after a restart) share one scan.
    if (this.scanning) {
      await this.scanning;
      r = this.tryResolve(id);
      return typeof r === 'object' ? r : undefined;
    }
    // A known file whose recorded name is gone (renamed or unlinked behind our back, or the
    // remembered one of several hard links removed) always earns a rescan; after it the stale
    // entry is gone, so repeated misses fall under the throttle for unknown handles.
    if (r === 'absent' && this.now() - this.lastScanMs < this.minScanIntervalMs) return undefined;
    this.scanning = this.scan().finally(() => (this.scanning = undefined));
    await this.scanning;
    r = this.tryResolve(id);
    return typeof r === 'object' ? r : undefined;
  }

  /** The path recorded for `id`, looked at now (no scan): the file, or why not. */
  tryResolve(id: FileId): Attempt {
    const path = this.pathOfKey(keyOf(id.dev, id.ino));
    if (path === undefined) return 'absent';
    try {
      const st = lstatSync(path, { bigint: true }); // every call resolves a handle: on this thread
      if (sameFile(id, st)) return { path, stat: st };
      if (st.dev === id.dev && st.ino === id.ino) return 'replaced';
    } catch {
      /* gone */
    }
    return 'broken';
  }

  /**
   * Walks the whole export once and replaces the table with what it found (plus links learned
   * while it ran), so entries of vanished files disappear.
   */
  async scan(): Promise<void> {
    this.lastScanMs = this.now();
    this.scanEdges++;
    const fresh = new Map<string, Link>();
    const learned = new Map<string, Link>();
    this.learnedDuringScan = learned;
    try {
      const rootStat = await lstat(this.root, { bigint: true });
      fresh.set(this.rootKey, { parent: undefined, name: '' });
      const queue: Array<[string, BigIntStats]> = [[this.root, rootStat]];
      while (queue.length > 0) {
        const [dir, dirStat] = queue.shift()!;
        let names: string[];
        try {
          names = await readdir(dir);
        } catch {
          continue;
        }
        for (const name of names) {
          const p = join(dir, name);
          let st: BigIntStats;
          try {
            st = await lstat(p, { bigint: true });
          } catch {
            continue;
          }
          const key = keyOf(st.dev, st.ino);
          if (key !== this.rootKey) fresh.set(key, { parent: keyOf(dirStat.dev, dirStat.ino), name });
          if (isDirectory(st)) queue.push([p, st]);
        }
      }
    } finally {
      this.learnedDuringScan = undefined;
      this.scanEdges++;
    }
    for (const [k, v] of learned) fresh.set(k, v);
    this.links = fresh;
  }
}
