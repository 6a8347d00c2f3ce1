// Small files of a listed main directory fetched ahead of a client that reads them one after
// another in an order the proxy can see: the proxy's listing order (by cookie: what a tree walker,
// tar or cp -r follows), the names sorted as text (`cat *`), or sorted with digit runs compared as
// numbers (numbered files: f1, f2, ..., f10). One client reading 4 KB files one at a time waits for
// main's round trip on every READ; fetched ahead, its READs are cache hits and main's round trips
// overlap the client's own calls.
//
// Every READ at offset 0 of a main-only file counts (only small ones, one block at most, are fetched
// ahead). Each is compared with the file read before it in the same directory: a file that follows
// it in an order extends that order's streak, any other file starts every streak anew. Nothing is
// fetched until a streak is STREAK_FILES files long; then the next files in that order are fetched,
// as many as the streak has grown beyond that (at most AHEAD_FILES, topped up AHEAD_BATCH at a
// time): a reader that stops leaves fewer unread files fetched than it read in order. A directory
// becomes known when the proxy lists it whole (main-dir-names.ts, or a client's complete listing);
// random, reverse or scattered readers never start a streak, so they get nothing.
// Bounded: DIRS directories remembered (of at most MAX_FILES files each), AHEAD_INFLIGHT fetches at once.
import { nameCookie } from '../nfs3/dir-cookies.js';

/** Files read one after another in one order before anything is fetched ahead. */
export const STREAK_FILES = 4;
/** Most files fetched ahead of the reader in its order. */
export const AHEAD_FILES = 8;
/** Files fetched ahead together once the reader has some ahead already. */
export const AHEAD_BATCH = 4;
/** Fetches ahead under way at once, over all directories. */
export const AHEAD_INFLIGHT = 8;
/** Directories whose files' orders are remembered (least recently read forgotten first). */
const DIRS = 8;
/**
 * Largest directory remembered (files); a larger one gets no read-ahead. Names are held only until
 * a directory's first read sorts them; then ~40 bytes a file: at most ~1.5 MB over DIRS directories.
 */
const MAX_FILES = 4096;

/** A regular main-only file of a listed directory: its vid, name and size in bytes. */
export interface DirFile {
  vid: number;
  name: string;
  size: number;
}

/** The orders a reader may follow. */
const ORDERS: Array<(a: DirFile, b: DirFile) => number> = [
  (a, b) => cookieOf(a) - cookieOf(b) || textOrder(a, b),
  textOrder,
  (a, b) => numericNameOrder(a.name, b.name) || textOrder(a, b),
];

const cookies = new WeakMap<DirFile, number>();
function cookieOf(f: DirFile): number {
  let c = cookies.get(f);
  if (c === undefined) cookies.set(f, (c = nameCookie(f.name)));
  return c;
}

function textOrder(a: DirFile, b: DirFile): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Names compared with runs of digits taken as numbers ("f9" < "f10"), the rest as text. */
export function numericNameOrder(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(j);
    if (isDigit(ca) && isDigit(cb)) {
      let ea = i;
      let eb = j;
      while (ea < a.length && isDigit(a.charCodeAt(ea))) ea++;
      while (eb < b.length && isDigit(b.charCodeAt(eb))) eb++;
      // Leading zeros aside, a longer run is the larger number; equal lengths compare as text.
      let za = i;
      let zb = j;
      while (za < ea - 1 && a.charCodeAt(za) === 48) za++;
      while (zb < eb - 1 && b.charCodeAt(zb) === 48) zb++;
      if (ea - za !== eb - zb) return ea - za - (eb - zb);
      const ra = a.slice(za, ea);
      const rb = b.slice(zb, eb);
      if (ra !== rb) return ra < rb ? -1 : 1;
      i = ea;
      j = eb;
      continue;
    }
    if (ca !== cb) return ca - cb;
    i++;
    j++;
  }
  return a.length - i - (b.length - j);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

interface DirState {
  /** The files until their orders are built (at the directory's first read), then empty. */
  files: DirFile[];
  vids: Float64Array;
  sizes: Float64Array;
  /** Index in `vids` by vid. */
  index: Map<number, number>;
  /** Per order: the files' indexes in that order, and each file's position in it (built at the first read). */
  sorted?: Int32Array[];
  position?: Int32Array[];
  /** The file read last (index in `files`), -1 before the first. */
  last: number;
  /** Per order: files read one after another so far, and the furthest position fetched ahead. */
  streak: number[];
  ahead: number[];
}

export interface SmallFileAheadStats {
  /** Files fetched ahead (started). */
  fetched: number;
  /** Fetches ahead that failed (the client's own READ fetches the file then). */
  failed: number;
}

export class SmallFileAhead {
  private readonly dirs = new Map<number, DirState>();
  private inflight = 0;
  readonly stats: SmallFileAheadStats = { fetched: 0, failed: 0 };

  constructor(
    /** Largest file fetched ahead (one block: one READ to main). */
    private readonly maxFileBytes: number,
    /** Fetches file `vid` into the cache (nothing when it is cached or under way already). */
    private readonly fetch: (vid: number) => Promise<unknown>,
  ) {}

  /** The regular main-only files of directory `dirVid`, all of them (the directory was listed whole). */
  noteDirectory(dirVid: number, files: DirFile[]): void {
    this.dirs.delete(dirVid);
    if (files.length < 2 || files.length > MAX_FILES) return;
    if (this.dirs.size >= DIRS) this.dirs.delete(this.dirs.keys().next().value as number);
    const index = new Map<number, number>();
    for (let i = 0; i < files.length; i++) index.set(files[i]!.vid, i);
    const vids = Float64Array.from(files, (f) => f.vid);
    const sizes = Float64Array.from(files, (f) => f.size);
    this.dirs.set(dirVid, { files, vids, sizes, index, last: -1, streak: ORDERS.map(() => 0), ahead: ORDERS.map(() => -1) });
  }

  /** Forgets a directory whose names changed (its orders no longer hold). */
  forget(dirVid: number): void {
    this.dirs.delete(dirVid);
  }

  /** A client READ at offset 0 of main-only file `vid` in directory `dirVid`. */
  noteRead(dirVid: number, vid: number): void {
    const d = this.dirs.get(dirVid);
    if (!d) return;
    const i = d.index.get(vid);
    if (i === undefined || i === d.last) return;
    this.dirs.delete(dirVid); // most recently read last
    this.dirs.set(dirVid, d);
    const prev = d.last;
    d.last = i;
    const position = this.positions(d);
    let best = -1;
    for (let o = 0; o < ORDERS.length; o++) {
      const at = position[o]![i]!;
      if (prev >= 0 && at === position[o]![prev]! + 1) d.streak[o]!++;
      else {
        d.streak[o] = 1;
        d.ahead[o] = at;
      }
      if (best < 0 || d.streak[o]! > d.streak[best]!) best = o;
    }
    const streak = d.streak[best]!;
    if (streak < STREAK_FILES) return;
    const sorted = d.sorted![best]!;
    const at = position[best]![i]!;
    const to = Math.min(sorted.length - 1, at + Math.min(AHEAD_FILES, streak - STREAK_FILES + 1));
    const from = Math.max(d.ahead[best]!, at) + 1;
    // Topped up AHEAD_BATCH files at a time while some are still ahead: their READs go to main in
    // one write (each socket write costs tens of microseconds on loopback in these VMs).
    if (from > at + 1 && to - from + 1 < AHEAD_BATCH && to < sorted.length - 1) return;
    for (let p = from; p <= to; p++) {
      if (this.inflight >= AHEAD_INFLIGHT) return;
      d.ahead[best] = p;
      const k = sorted[p]!;
      if (d.sizes[k] === 0 || d.sizes[k]! > this.maxFileBytes) continue;
      this.start(d.vids[k]!);
    }
  }

  private start(vid: number): void {
    this.inflight++;
    this.stats.fetched++;
    this.fetch(vid)
      .catch(() => void this.stats.failed++)
      .finally(() => this.inflight--);
  }

  private positions(d: DirState): Int32Array[] {
    if (!d.position) {
      d.sorted = [];
      d.position = [];
      for (const order of ORDERS) {
        const idx = Array.from({ length: d.files.length }, (_, k) => k).sort((a, b) => order(d.files[a]!, d.files[b]!));
        const sorted = Int32Array.from(idx);
        const position = new Int32Array(d.files.length);
        for (let p = 0; p < sorted.length; p++) position[sorted[p]!] = p;
        d.sorted.push(sorted);
        d.position.push(position);
      }
      d.files = []; // the names are no longer needed
    }
    return d.position;
  }
}
