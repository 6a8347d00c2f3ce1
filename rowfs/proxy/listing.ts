// Merged directory listings for READDIR and READDIRPLUS: the shadow directory's entries, then the
// main directory's entries that are neither in the shadow nor whited out, each with its vid as
// fileid and a cookie derived from its name (../nfs3/dir-cookies.ts), ordered by cookie so a page
// resumes after any cookie whatever changed meanwhile. A listing is built when a client starts
// reading a directory (cookie 0) and kept for the following pages; any change to the directory
// drops it, and the next page rebuilds it (same cookies, so nothing is skipped or repeated).
import { isPlainComponent } from '../nfs3/names.js';
import { Ftype3, Nfs3Status, type Fattr3, type FileHandle } from '../nfs3/types.js';
import { byCookie, DOT_COOKIE, DOTDOT_COOKIE, nameCookie } from '../nfs3/dir-cookies.js';
import { ROOT_VID, type FileType, type NodeRecord } from '../state/store.js';
import { readBackendDir, type BackendEntry } from './backend-listing.js';
import { ORPHAN_DIR, type ProxyCore } from './core.js';
import type { LockHold } from './namespace-lock.js';
import { virtualAttrs } from './attrs.js';
import type { DirFile } from './small-file-ahead.js';

export interface ListingEntry {
  name: string;
  cookie: number;
  vid: number;
  /** A shadow entry's virtualised attributes as seen when the listing was built. */
  attrs?: Fattr3;
  /**
   * A main-only entry: its attributes are main's, which the proxy keeps packed (ProxyCore
   * rememberedMainAttrs), read when a page is sent rather than held here (~330 bytes an entry).
   */
  fromMain?: boolean;
}

export interface Listing {
  /** Ordered by byCookie; '.' and '..' first. */
  entries: ListingEntry[];
}

/** Directories whose listing is kept between pages. */
const MAX_CACHED_LISTINGS = 256;
/**
 * Entries kept over all cached listings (tens of bytes each, a few hundred with a shadow entry's
 * attributes); past it the oldest listings go, but the newest is always kept so one huge
 * directory still pages in O(page).
 */
const MAX_CACHED_ENTRIES = 100_000;
/**
 * Main-only entries refer to the proxy's kept main attributes (16,384 nodes) in a directory of at
 * most this many main names; a larger one could push its own early entries out of them.
 */
const MAIN_ATTRS_BY_REFERENCE = 4096;

export class Listings {
  private readonly cache = new Map<number, Listing>();
  private cachedEntries = 0;
  /** Builds in progress, by directory: marked when the directory changes meanwhile (not cached then). */
  private readonly building = new Map<number, Set<{ changed: boolean }>>();

  constructor(private readonly core: ProxyCore) {
    core.onDirChanged = (vid) => {
      this.drop(vid);
      for (const b of this.building.get(vid) ?? []) b.changed = true;
    };
  }

  /** The listing of `dir`: a fresh one when `fresh`, else the kept one if there is one. */
  async get(dir: NodeRecord, fresh: boolean): Promise<Listing> {
    if (!fresh) {
      const kept = this.cache.get(dir.vid);
      if (kept) return kept;
    }
    const mark = { changed: false };
    const marks = this.building.get(dir.vid) ?? new Set();
    this.building.set(dir.vid, marks.add(mark));
    let listing: Listing;
    try {
      listing = await this.build(dir);
    } finally {
      marks.delete(mark);
      if (marks.size === 0 && this.building.get(dir.vid) === marks) this.building.delete(dir.vid);
    }
    // A listing read while the directory changed may miss the change: serve it, do not keep it.
    if (!mark.changed) this.keep(dir.vid, listing);
    return listing;
  }

  private keep(vid: number, listing: Listing): void {
    this.drop(vid);
    this.cache.set(vid, listing);
    this.cachedEntries += listing.entries.length;
    while (this.cache.size > 1 && (this.cache.size > MAX_CACHED_LISTINGS || this.cachedEntries > MAX_CACHED_ENTRIES)) {
      this.drop(this.cache.keys().next().value as number);
    }
  }

  private drop(vid: number): void {
    const l = this.cache.get(vid);
    if (!l) return;
    this.cache.delete(vid);
    this.cachedEntries -= l.entries.length;
  }

  /** True when the merged directory has no entries besides . and .. */
  async isEmpty(dir: NodeRecord, hold?: LockHold): Promise<boolean> {
    const l = await this.build(dir, hold);
    return l.entries.length <= 2;
  }

  private async build(dir: NodeRecord, hold?: LockHold): Promise<Listing> {
    const core = this.core;
    const shadowList = dir.shadow ? await readBackendDir(core.shadow, dir.shadow) : [];
    const whiteouts = core.store.whiteoutsIn(dir.vid);
    // A listed name that is not one plain component (a hostile or broken backend) is never used.
    const skip = (name: string) => !isPlainComponent(name) || (dir.vid === ROOT_VID && name === ORPHAN_DIR);
    const inShadow = new Set<string>();
    const picked: Array<BackendEntry & { side: 'shadow' | 'main' }> = [];
    for (const e of shadowList) {
      if (skip(e.name)) continue;
      inShadow.add(e.name);
      picked.push({ ...e, side: 'shadow' });
    }
    const mainList = dir.main ? await core.mainEntries(dir, (name) => !skip(name) && !inShadow.has(name) && !whiteouts.has(name)) : [];
    for (const e of mainList) {
      if (skip(e.name) || inShadow.has(e.name) || whiteouts.has(e.name)) continue;
      picked.push({ ...e, side: 'main' });
    }

    // Entries the proxy has not named yet get vids (one transaction for the whole directory).
    const unknown: typeof picked = [];
    for (const e of picked) if (core.store.lookupName(dir.vid, e.name) === undefined) unknown.push(e);
    let mainComplete = true;
    const toRegister: Array<{ name: string; type: FileType; main: FileHandle | null; shadow: FileHandle | null }> = [];
    for (const e of unknown) {
      const backend = e.side === 'shadow' ? core.shadow : core.main;
      let fh = e.fh;
      let attrs = e.attrs;
      if (!fh || !attrs) {
        // The server left out handle or attributes in READDIRPLUS: ask for them.
        const res = await backend.call('LOOKUP', { what: { dir: (e.side === 'shadow' ? dir.shadow : dir.main)!, name: e.name } });
        if (res.status !== Nfs3Status.OK) {
          if (e.side === 'main') mainComplete = false;
          continue; // vanished meanwhile
        }
        fh = res.object;
        attrs = res.objAttributes ?? (await backend.ok('GETATTR', { object: fh })).objAttributes;
        e.attrs = attrs;
      }
      toRegister.push({ name: e.name, type: attrs.type as FileType, main: e.side === 'main' ? fh : null, shadow: e.side === 'shadow' ? fh : null });
    }
    if (toRegister.length > 0) await core.registerMany(dir, toRegister, hold);
    // Every main name is now recorded, whited out or in the shadow (asked first): a name the
    // proxy does not know needs no LOOKUP to main from now on.
    if (dir.main && mainComplete) core.mainDirs.markComplete(dir.vid);

    const entries: ListingEntry[] = [];
    const mainFiles: DirFile[] = [];
    let mainNames = 0;
    for (const e of picked) if (e.side === 'main') mainNames++;
    for (const e of picked) {
      const vid = core.store.lookupName(dir.vid, e.name);
      if (vid === undefined) continue;
      if (e.side === 'main') {
        if (!e.attrs) {
          entries.push({ name: e.name, cookie: nameCookie(e.name), vid });
          continue;
        }
        core.rememberMainAttrs(vid, e.attrs); // for this listing's pages and LOOKUP, GETATTR and ACCESS replies
        if (e.attrs.type === Ftype3.REG) mainFiles.push({ vid, name: e.name, size: Number(e.attrs.size) });
        // A directory of more main names than the kept attributes' share holds its own.
        if (mainNames > MAIN_ATTRS_BY_REFERENCE) entries.push({ name: e.name, cookie: nameCookie(e.name), vid, attrs: virtualAttrs(e.attrs, vid) });
        else entries.push({ name: e.name, cookie: nameCookie(e.name), vid, fromMain: true });
      } else entries.push({ name: e.name, cookie: nameCookie(e.name), vid, attrs: e.attrs ? virtualAttrs(e.attrs, vid) : undefined });
    }
    if (dir.main && mainComplete) core.onMainFilesListed(dir.vid, mainFiles);
    entries.sort(byCookie);
    entries.unshift({ name: '.', cookie: DOT_COOKIE, vid: dir.vid }, { name: '..', cookie: DOTDOT_COOKIE, vid: dir.parent });
    return { entries };
  }
}
