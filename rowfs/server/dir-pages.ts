// READDIR/READDIRPLUS pages of the embedded server: each directory's names kept in cookie order
// (../nfs3/dir-cookies.ts) as a snapshot while the directory is unchanged, bounded in count and in
// names; a page is cut from the snapshot and its entries get fresh attributes.
import type { BigIntStats } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { byCookie, firstAfter, nameCookie, pageEnd, type CookieEntry } from '../nfs3/dir-cookies.js';
import { Nfs3Status, type Fattr3 } from '../nfs3/types.js';
import { fattrOf, statusOfError } from './attributes.js';
import type { ExportTree, Fail } from './export-tree.js';
import type { Resolved } from './file-handles.js';

/** Directory listings kept for paging with cookies. */
const MAX_DIR_SNAPSHOTS = 32;
/** Names kept over all snapshots (the newest is always kept, so one huge directory pages in O(page)). */
const MAX_SNAPSHOT_ENTRIES = 200_000;
/**
 * A snapshot is trusted as current only while the directory's mtime is unchanged and it was read
 * at least this long after that mtime: mtimes are as coarse as the file system's clock (a kernel
 * tick, 1 s or 2 s on some), so a change in the same tick as the read leaves the mtime unchanged
 * (git's "racy" index entries, the same rule).
 */
const RACY_MTIME_MS = 2_000;
/** Rereads of a directory for one page whose entries vanished meanwhile. */
const PAGE_ATTEMPTS = 3;

/** A directory's names in cookie order, as read at `mtimeNs`. */
interface DirSnapshot {
  mtimeNs: bigint;
  readAtMs: number;
  entries: CookieEntry[];
}

/** The entries of one READDIR/READDIRPLUS page with fresh attributes, and whether it ends the directory. */
export interface DirPage {
  entries: Array<{ name: string; cookie: number; stat: BigIntStats }>;
  eof: boolean;
}

export type PageFail = Fail & { dirAttributes?: Fattr3 };

export class DirPages {
  private readonly snapshots = new Map<string, DirSnapshot>();
  private snapshotEntries = 0;

  constructor(
    private readonly tree: ExportTree,
    /** Wall clock in ms (compared with directory mtimes). */
    private readonly wallNow: () => number,
  ) {}

  /**
   * The page of directory `d` after cookie `after` whose entries `fits` accepts (it accounts for
   * their size), each with fresh attributes, or the failure reply. Names gone since the snapshot
   * are left out (POSIX lets a removed entry go either way); when a page loses entries so, the
   * directory is read again (it changed) and the page recomputed.
   */
  async page(d: Resolved, after: number, fits: () => (e: CookieEntry) => boolean): Promise<{ fail: PageFail } | { page: DirPage }> {
    try {
      for (let attempt = 1; ; attempt++) {
        const snap = await this.snapshot(d, attempt > 1);
        const start = firstAfter(snap.entries, after);
        const end = pageEnd(snap.entries, start, fits());
        if (end === start && start < snap.entries.length) return { fail: { status: Nfs3Status.TOOSMALL, dirAttributes: fattrOf(d.stat) } };
        const chosen = snap.entries.slice(start, end);
        const stats = await this.tree.inDir(d, async (dir) => chosen.map((e) => this.tree.attrsOfNow(join(dir, e.name))));
        const entries: DirPage['entries'] = [];
        chosen.forEach((e, i) => {
          const stat = stats[i];
          if (stat) entries.push({ ...e, stat });
        });
        const eof = end >= snap.entries.length;
        if (entries.length === chosen.length || attempt >= PAGE_ATTEMPTS) {
          // Everything in a page vanished again and again: a client cannot take an empty non-final page.
          if (entries.length === 0 && !eof) return { fail: { status: Nfs3Status.JUKEBOX, dirAttributes: fattrOf(d.stat) } };
          for (const e of entries) this.tree.table.remember(d.stat, e.name, e.stat);
          return { page: { entries, eof } };
        }
      }
    } catch (e) {
      return { fail: { status: statusOfError(e) as Fail['status'], dirAttributes: fattrOf(d.stat) } };
    }
  }

  /** The names of directory `d` in cookie order: the kept snapshot while it is current, else read now. */
  private async snapshot(d: Resolved, reread: boolean): Promise<DirSnapshot> {
    const key = this.tree.key(d.stat);
    const kept = this.snapshots.get(key);
    if (kept && !reread && kept.mtimeNs === d.stat.mtimeNs && kept.readAtMs - Number(kept.mtimeNs / 1_000_000n) > RACY_MTIME_MS) return kept;
    const readAtMs = this.wallNow();
    const entries = (await this.tree.inDir(d, (dir) => readdir(dir))).map((name) => ({ name, cookie: nameCookie(name) })).sort(byCookie);
    this.tree.touched(d.stat); // reading it may have set its atime
    const snap = { mtimeNs: d.stat.mtimeNs, readAtMs, entries };
    this.drop(key);
    this.snapshots.set(key, snap);
    this.snapshotEntries += entries.length;
    while (this.snapshots.size > 1 && (this.snapshots.size > MAX_DIR_SNAPSHOTS || this.snapshotEntries > MAX_SNAPSHOT_ENTRIES)) {
      this.drop(this.snapshots.keys().next().value as string);
    }
    return snap;
  }

  private drop(key: string): void {
    const snap = this.snapshots.get(key);
    if (!snap) return;
    this.snapshots.delete(key);
    this.snapshotEntries -= snap.entries.length;
  }
}
