// The proxy's crash-safe state, kept in LMDB (one environment per proxy state directory):
//   nodes      vid -> NodeRecord (what a virtual handle stands for)
//   names      [parentVid, name] -> vid (every name the proxy has handed out or created)
//   whiteouts  [parentVid, name] -> 1 (a main entry hidden by a remove or rename)
//   bitmaps    vid -> bytes (block presence bitmap: which blocks live in the shadow)
//   mainIndex  main handle (hex) -> vid (so hard links and re-lookups of one main object share a vid)
//   meta       'instance' (8 random bytes in every handle), 'blockSize', 'main' (which export)
//   extra tables opened by name (sideTable), e.g. the replicated main's path ids; in the same file,
//   so a commit's fdatasync also covers what was put into them before it
// Ordering rule: callers `await commit(...)` before sending any reply that depends on it. A commit
// is one record appended to the change journal (change-journal.ts) and kept in memory until a batch
// of them is written to LMDB in one transaction (pending-changes.ts; reads see it at once).
// Durability 'process' resolves once the record is in the OS page cache (survives a crash or
// SIGKILL of the proxy: the next open replays the journal); 'soon' is 'process' plus a batch write
// and an fdatasync started at most flushDelayMs later (group commit: one sync for every change in
// that window); 'disk' does both before it resolves (survives a machine crash; concurrent 'disk'
// commits share one fdatasync). LMDB itself runs with noSync, so the explicit fdatasync is the only
// flush; a journal file is deleted once a synced batch holds its records. Vids are reserved in
// durable chunks, so even a machine crash that loses 'process' commits never reuses a vid a client
// holds.
// Namespace changes (create, remove, rename, link, copy-up) commit 'soon': an fdatasync per change
// cost 4-5 ms on this disk, so a client creating files one at a time ran at ~220/s against ganesha's
// ~2,000/s. That is the promise the shadow itself makes: the embedded server, like ganesha's VFS
// backend, does not fsync a directory after a create or remove (knfsd does, with the `sync` export
// option), so after a machine crash the shadow's own last changes are as lost as the state's. Data
// promises stay exact: COMMIT, FILE_SYNC and DATA_SYNC writes wait for `flushed()`, which syncs
// every earlier change, namespace changes included.
import { CodedError } from '../../lib/coded-error.js';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { BlockBitmap } from './bitmap.js';
import { makeDirectory } from '../../lib/make-directory.js';
import { LMDB_MAP_BYTES } from './lmdb-map.js';
import type { ChangeJournal, JournalChange } from './change-journal.js';
import { GroupSync } from './group-sync.js';
import { replayJournal } from './journal-replay.js';
import { bitmapChange, nodeChange, PendingChanges, type StoreTables } from './pending-changes.js';
import { nodeRecord } from './node-record.js';
import { DirIndex, type DirEntries } from './dir-index.js';
import { keepBytes } from './handle-arena.js';

export const ROOT_VID = 1;
export const DEFAULT_BLOCK_SIZE_BYTES = 64 * 1024;
/** Vids reserved per durable high-water update. */
const VID_CHUNK = 4096;

export type Durability = 'disk' | 'soon' | 'process';

/** Longest a 'soon' commit waits for its fdatasync (ext4's journal commits every 5 s). */
export const DEFAULT_FLUSH_DELAY_MS = 200;

/** Nodes remembered in memory (a few hundred bytes each). */
const NODE_CACHE_ENTRIES = 4096;
/** Names and whiteouts of whole directories kept in memory (~80 bytes each; see dir-index.ts). */
const DIR_INDEX_ENTRIES = 16_384;
/**
 * Journalled changes that start a batch write to LMDB (and its fdatasync) without waiting for the
 * flush timer: they are held in memory until then (a few hundred bytes each).
 */
const BATCH_CHANGES = 2048;
/**
 * Journalled changes kept in memory at most: past it a commit first writes the batch itself, so a
 * failing LMDB fails commits instead of growing the batch.
 */
const MAX_PENDING_CHANGES = 8 * BATCH_CHANGES;
/** Changes a commit may have to be journalled; a larger one is written to LMDB at once. */
const JOURNAL_MAX_CHANGES = 64;

export type StateStoreErrorCode =
  | 'OPEN_FAILED' // the LMDB environment could not be opened
  | 'BAD_BLOCK_SIZE' // not a power of two in 4096..1048576
  | 'WRONG_MAIN' // the state was made for another main export
  | 'BAD_TABLE_NAME' // a side table name outside x-[a-z-]{1,24}
  | 'JOURNAL_FAILED'; // the change journal could not start a new file

export class StateStoreError extends CodedError<StateStoreErrorCode> {
  constructor(
    code: StateStoreErrorCode,
    message: string,
  ) {
    super(code, message); // shown to `overlay rowfs` users as is
  }
}

/** NFSv3 ftype3 values (RFC 1813 section 2.6), kept numeric. */
export type FileType = 1 | 2 | 3 | 4 | 5 | 6 | 7;

export interface NodeRecord {
  vid: number;
  type: FileType;
  /** Primary link: where this object lives in the merged namespace (used to place copy-ups). */
  parent: number;
  name: string;
  /** Handle on the read-only main server, or null (created in the overlay / opaque directory). */
  main: Uint8Array | null;
  /** Handle on the shadow server, or null (not copied up yet). */
  shadow: Uint8Array | null;
  /**
   * Regular files with a shadow: blocks below this index whose bit is clear still come from main;
   * blocks at or beyond it come from the (sparse) shadow. Lowered by truncate so main data never
   * reappears past a truncation point.
   */
  mainBlocks: number;
}

export interface StateTx {
  putNode(node: NodeRecord): void;
  removeNode(vid: number): void;
  setName(parent: number, name: string, vid: number): void;
  removeName(parent: number, name: string): void;
  setWhiteout(parent: number, name: string): void;
  clearWhiteout(parent: number, name: string): void;
  putBitmap(vid: number, bitmap: BlockBitmap): void;
  setMainIndex(mainHandle: Uint8Array, vid: number): void;
}

/** A table of another component inside the state store (see StateStore.sideTable). */
export interface SideTable {
  get(key: string): string | undefined;
  /** Stores every pair in one transaction (committed to the OS before it resolves). */
  putMany(entries: ReadonlyArray<readonly [string, string]>): Promise<void>;
}

export interface StateStoreOptions {
  /** Block size for new stores; an existing store keeps the size it was created with. */
  blockSizeBytes?: number;
  /** Identity of the main export; reopening a store made for another export is an error. */
  mainId?: string;
  /** Longest a 'soon' commit waits before its fdatasync starts (default DEFAULT_FLUSH_DELAY_MS). */
  flushDelayMs?: number;
  /** Names and whiteouts the directory index holds at most (default DIR_INDEX_ENTRIES; tests use small ones). */
  dirIndexEntries?: number;
}

type Key = number | string | (number | string)[];

export class StateStore {
  readonly instance: Uint8Array;
  readonly blockSize: number;
  private nextVid: number;
  private vidHighWater: number;
  private readonly syncer: GroupSync;
  private reserving: Promise<void> | undefined;
  /** The pending group flush of 'soon' commits, if one is scheduled. */
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly flushDelayMs: number;
  /** Commits made so far, and how many of them an fdatasync has covered (see syncNow). */
  private commitGen = 0;
  private syncedGen = 0;
  private readonly bitmapCache = new Map<number, BlockBitmap>();
  /** Recently read nodes (see getNode), at most NODE_CACHE_ENTRIES, oldest dropped first. */
  private readonly nodeCache = new Map<number, NodeRecord>();
  /** Journalled commits not in LMDB yet; reads look here first. */
  private pending = new PendingChanges<NodeRecord>();
  /** Whole directories' names and whiteouts (LMDB and pending together). */
  private readonly dirIndex: DirIndex;
  private readonly tables: StoreTables<NodeRecord>;

  private constructor(
    dir: string,
    private readonly journal: ChangeJournal,
    private readonly env: RootDatabase,
    private readonly nodes: Database<NodeRecord, number>,
    private readonly names: Database<number, Key>,
    private readonly whiteoutDb: Database<number, Key>,
    private readonly bitmaps: Database<Uint8Array, number>,
    private readonly mainIndex: Database<number, string>,
    private readonly meta: Database<unknown, string>,
    flushDelayMs: number,
    dirIndexEntries: number,
  ) {
    this.flushDelayMs = flushDelayMs;
    this.dirIndex = new DirIndex(dirIndexEntries);
    this.tables = { nodes, names, whiteouts: whiteoutDb, bitmaps, mainIndex };
    this.instance = new Uint8Array(meta.get('instance') as Uint8Array);
    this.blockSize = meta.get('blockSize') as number;
    let last = ROOT_VID;
    for (const k of nodes.getKeys({ reverse: true, limit: 1 })) last = Math.max(last, k as number);
    // Everything below the stored high-water mark may have been handed out before a crash.
    this.nextVid = Math.max(last + 1, (meta.get('vidHighWater') as number | undefined) ?? 0);
    this.vidHighWater = this.nextVid;
    this.syncer = new GroupSync(join(dir, 'data.mdb'));
  }

  static async open(dir: string, opts: StateStoreOptions = {}): Promise<StateStore> {
    makeDirectory(dir);
    let env: RootDatabase;
    try {
      env = open({ path: dir, maxDbs: 12, compression: false, noSync: true, mapSize: LMDB_MAP_BYTES });
    } catch (err) {
      throw new StateStoreError('OPEN_FAILED', `cannot open state store in ${dir}: ${(err as Error).message}`);
    }
    const meta = env.openDB<unknown, string>({ name: 'meta' });
    if (meta.get('instance') === undefined) {
      const blockSize = opts.blockSizeBytes ?? DEFAULT_BLOCK_SIZE_BYTES;
      if (!Number.isInteger(blockSize) || blockSize < 4096 || blockSize > 1 << 20 || (blockSize & (blockSize - 1)) !== 0) {
        await env.close();
        throw new StateStoreError('BAD_BLOCK_SIZE', `block size must be a power of two in 4096..1048576, got ${blockSize}`);
      }
      await meta.transaction(() => {
        meta.putSync('instance', randomBytes(8));
        meta.putSync('blockSize', blockSize);
        if (opts.mainId !== undefined) meta.putSync('main', opts.mainId);
      });
    } else if (opts.mainId !== undefined && meta.get('main') !== undefined && meta.get('main') !== opts.mainId) {
      const was = String(meta.get('main'));
      await env.close();
      throw new StateStoreError('WRONG_MAIN', `state in ${dir} belongs to main export ${was}, not ${opts.mainId}`);
    }
    const tables: StoreTables<NodeRecord> = {
      nodes: env.openDB<NodeRecord, number>({ name: 'nodes' }),
      names: env.openDB<number, Key>({ name: 'names' }),
      whiteouts: env.openDB<number, Key>({ name: 'whiteouts' }),
      bitmaps: env.openDB<Uint8Array, number>({ name: 'bitmaps', encoding: 'binary' }),
      mainIndex: env.openDB<number, string>({ name: 'mainIndex' }),
    };
    let journal: ChangeJournal;
    try {
      journal = await replayJournal(dir, env, tables);
    } catch (err) {
      await env.close();
      throw new StateStoreError('OPEN_FAILED', `cannot replay the change journal in ${dir}: ${(err as Error).message}`);
    }
    return new StateStore(
      dir,
      journal,
      env,
      tables.nodes,
      tables.names,
      tables.whiteouts,
      tables.bitmaps,
      tables.mainIndex,
      meta,
      opts.flushDelayMs ?? DEFAULT_FLUSH_DELAY_MS,
      opts.dirIndexEntries ?? DIR_INDEX_ENTRIES,
    );
  }

  /**
   * A fresh vid, never handed out before by this store, even across machine crashes. Call
   * `reserveVids()` first when allocating inside a handler (it is a no-op while the reserve lasts).
   */
  allocVid(): number {
    if (this.nextVid >= this.vidHighWater) {
      // Reserve synchronously when the async path was not taken (tests, startup).
      this.vidHighWater = this.nextVid + VID_CHUNK;
      this.meta.putSync('vidHighWater', this.vidHighWater);
    }
    return this.nextVid++;
  }

  /** Makes sure at least `n` vids can be allocated without a synchronous disk write. */
  reserveVids(n = 1): Promise<void> {
    return this.nextVid + n <= this.vidHighWater ? DONE : this.reserveMore(n); // the reserve lasts 4,096 vids
  }

  private async reserveMore(n: number): Promise<void> {
    while (this.nextVid + n > this.vidHighWater) {
      if (!this.reserving) {
        const target = Math.max(this.vidHighWater, this.nextVid + n) + VID_CHUNK;
        this.reserving = (async () => {
          await this.meta.put('vidHighWater', target);
          await this.syncer.sync();
          this.vidHighWater = Math.max(this.vidHighWater, target);
        })().finally(() => (this.reserving = undefined));
      }
      await this.reserving;
    }
  }

  /**
   * The node of `vid`. Recently read nodes are remembered (an LMDB read and decode per call was a
   * visible share of every READ's CPU); any change to a node in a commit drops its entry first.
   * Callers must not mutate the returned record (they build a new one and putNode it).
   */
  getNode(vid: number): NodeRecord | undefined {
    const pending = this.pending.node(vid);
    if (pending !== undefined) return pending ?? undefined;
    const hit = this.nodeCache.get(vid);
    if (hit) return hit;
    const stored = this.nodes.get(vid);
    if (!stored) return undefined;
    return this.rememberNode(normaliseNode(stored));
  }

  private rememberNode(n: NodeRecord): NodeRecord {
    if (this.nodeCache.size >= NODE_CACHE_ENTRIES) this.nodeCache.delete(this.nodeCache.keys().next().value as number);
    this.nodeCache.set(n.vid, n);
    return n;
  }

  lookupName(parent: number, name: string): number | undefined {
    const indexed = this.indexed(parent);
    if (indexed) return indexed.names.get(name);
    const pending = this.pending.name(parent, name);
    if (pending !== undefined) return pending ?? undefined;
    return this.names.get([parent, name]);
  }

  /** The directory's whole names and whiteouts from the index, loaded now unless it is too large. */
  private indexed(parent: number): DirEntries | undefined {
    const hit = this.dirIndex.get(parent);
    if (hit || this.dirIndex.isTooLarge(parent)) return hit;
    return this.dirIndex.load(parent, () => {
      // Counted in LMDB alone: pending removals must not make a large directory look small.
      const limit = this.dirIndex.maxPerDir;
      const range = { start: [parent], end: [parent + 1] };
      let stored = 0;
      const names = new Map<string, number>();
      for (const { key, value } of this.names.getRange({ ...range, limit: limit + 1 })) {
        names.set(String((key as (number | string)[])[1]), value);
        if (++stored > limit) return undefined;
      }
      const whiteouts = new Set<string>();
      for (const key of this.whiteoutDb.getKeys({ ...range, limit: limit + 1 - stored })) {
        whiteouts.add(String((key as (number | string)[])[1]));
        if (++stored > limit) return undefined;
      }
      for (const [name, vid] of this.pending.namesOf(parent) ?? []) {
        if (vid === null) names.delete(name);
        else names.set(name, vid);
      }
      for (const [name, on] of this.pending.whiteoutsOf(parent) ?? []) {
        if (on) whiteouts.add(name);
        else whiteouts.delete(name);
      }
      return { names, whiteouts };
    });
  }

  /** Every name recorded under `parent`, in name order (by UTF-8 bytes, as LMDB keeps them). */
  namesIn(parent: number): Array<{ name: string; vid: number }> {
    const out: Array<{ name: string; vid: number }> = [];
    for (const { key, value } of this.names.getRange({ start: [parent], end: [parent + 1] })) {
      out.push({ name: String((key as (number | string)[])[1]), vid: value });
    }
    const pending = this.pending.namesOf(parent);
    if (!pending) return out;
    const all = new Map(out.map((e) => [e.name, e.vid]));
    for (const [name, vid] of pending) {
      if (vid === null) all.delete(name);
      else all.set(name, vid);
    }
    return [...all].map(([name, vid]) => ({ name, vid })).sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
  }

  isWhiteout(parent: number, name: string): boolean {
    const indexed = this.indexed(parent);
    if (indexed) return indexed.whiteouts.has(name);
    return this.pending.whiteout(parent, name) ?? this.whiteoutDb.get([parent, name]) !== undefined;
  }

  whiteoutsIn(parent: number): Set<string> {
    const out = new Set<string>();
    for (const key of this.whiteoutDb.getKeys({ start: [parent], end: [parent + 1] })) out.add(String((key as (number | string)[])[1]));
    for (const [name, on] of this.pending.whiteoutsOf(parent) ?? []) {
      if (on) out.add(name);
      else out.delete(name);
    }
    return out;
  }

  /** The bitmap of a file (a live object: mutate it, then persist with tx.putBitmap). */
  bitmap(vid: number): BlockBitmap {
    let bm = this.bitmapCache.get(vid);
    if (!bm) {
      // Kept for the life of the store: concurrent writers must share one live object (a few KB per file).
      const pending = this.pending.bitmap(vid);
      bm = BlockBitmap.decode(pending === undefined ? this.bitmaps.get(vid) : (pending ?? undefined));
      this.bitmapCache.set(vid, bm);
    }
    return bm;
  }

  /**
   * A string-keyed table of another component, kept in this store's environment (same file, same
   * fdatasync): a put made before a commit is on disk once that commit is.
   */
  sideTable(name: string): SideTable {
    if (!/^x-[a-z-]{1,24}$/.test(name)) throw new StateStoreError('BAD_TABLE_NAME', `bad side table name ${name}`);
    const db = this.env.openDB<string, string>({ name });
    return {
      get: (key) => db.get(key),
      putMany: async (entries) => {
        if (entries.length === 0) return;
        await db.transaction(() => {
          for (const [k, v] of entries) db.putSync(k, v);
        });
        this.commitGen++;
      },
    };
  }

  byMainHandle(mainHandle: Uint8Array): number | undefined {
    const key = hex(mainHandle);
    return this.pending.byMainKey(key) ?? this.mainIndex.get(key);
  }

  /**
   * Applies `fn`'s changes atomically; resolves once they are durable at the given level. Not an
   * async function: a 'soon' or 'process' commit (every namespace change) is done when this
   * returns, and hands back one settled promise instead of an async frame.
   */
  commit(fn: (tx: StateTx) => void, durability: Durability = 'disk'): Promise<void> {
    const tx = new CommitCollector();
    try {
      fn(tx); // fn only collects: a commit that throws changes nothing
    } catch (e) {
      return Promise.reject(e);
    }
    return this.commitTx(tx, durability);
  }

  /**
   * A transaction to fill and hand to commitTx: commit without a callback, for the paths every
   * namespace change takes (a closure made per call loses its optimized code at each full GC:
   * docs/rowfs.md, "TurboFan compiling the same functions again").
   */
  begin(): StateTx {
    return new CommitCollector();
  }

  /** Commits the changes collected in `tx` (from begin) as commit does. */
  commitTx(tx: StateTx, durability: Durability = 'disk'): Promise<void> {
    if (!(tx instanceof CommitCollector)) return Promise.reject(new TypeError('commitTx takes a transaction from begin()'));
    try {
      this.apply(tx);
    } catch (e) {
      return Promise.reject(e);
    }
    // Every level ends in a batch write and an fdatasync (the journal is deleted only after one):
    // 'disk' before it resolves, the others at the flush, or now when the batch is large.
    if (durability === 'disk') return this.syncNow();
    if (this.pending.changes >= BATCH_CHANGES) this.syncNow().catch(() => undefined); // retried by the next flush or close
    else this.scheduleFlush();
    return DONE;
  }

  /** A commit's changes: journalled (or written to LMDB, when large) and applied to the caches and indexes. */
  private apply(tx: CommitCollector): void {
    const { changes, bitmaps } = tx;
    if (this.pending.changes >= MAX_PENDING_CHANGES) this.writeBatch();
    if (changes.length <= JOURNAL_MAX_CHANGES) {
      this.journal.append(changes);
      this.pending.addCommit(changes);
    } else {
      // A large commit (a listing's names) goes to LMDB itself, after the pending batch (in order):
      // one transaction costs less than its record would, built as one string of ~350 bytes a
      // change. Every ended journal file (this batch's, and earlier ones whose fdatasync is still on
      // its way) is deleted first: replayed after a crash, they would undo this commit's changes of
      // the same keys. Unsynced, those commits are then as safe as LMDB's page cache: a proxy crash
      // keeps them; a machine crash may lose them, as it may any 'soon' or 'process' commit before
      // its flush.
      this.writeBatch();
      if (!this.journal.dropEnded()) throw new StateStoreError('JOURNAL_FAILED', 'cannot start a new journal file before a large commit');
      const one = new PendingChanges<NodeRecord>();
      one.addCommit(changes);
      this.env.transactionSync(() => one.writeTo(this.tables));
      for (const [vid, n] of one.touchedNodes()) {
        this.nodeCache.delete(vid);
        if (n) this.rememberNode(n);
      }
    }
    this.commitGen++;
    const journalled = changes.length <= JOURNAL_MAX_CHANGES;
    for (const c of changes) {
      if (journalled && (c.op === 'node' || c.op === 'rmnode')) this.nodeCache.delete(c.vid); // read from pending until written
      if (c.op === 'rmnode') this.bitmapCache.delete(c.vid);
      else if (c.op === 'name') this.dirIndex.setName(c.parent, c.name, c.vid);
      else if (c.op === 'rmname') this.dirIndex.removeName(c.parent, c.name);
      else if (c.op === 'whiteout' || c.op === 'rmwhiteout') this.dirIndex.setWhiteout(c.parent, c.name, c.op === 'whiteout');
    }
    for (const [vid, bm] of bitmaps) this.bitmapCache.set(vid, bm);
  }

  /**
   * Writes the pending commits to LMDB in one transaction (on this thread: with noSync it is page
   * writes into the map) and starts a new journal generation; returns the generation that ended,
   * whose file may go once an fdatasync of LMDB has followed.
   */
  private writeBatch(): number | undefined {
    if (this.pending.commits === 0) return undefined;
    const batch = this.pending;
    this.env.transactionSync(() => batch.writeTo(this.tables));
    this.pending = new PendingChanges<NodeRecord>();
    for (const [vid, n] of batch.touchedNodes()) {
      this.nodeCache.delete(vid);
      if (n) this.rememberNode(n);
    }
    return this.journal.rotate();
  }

  /** fdatasyncs within flushDelayMs: every 'soon' commit until then shares the one sync. */
  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.syncNow().catch(() => undefined); // a failed sync is retried by the next flush or close
    }, this.flushDelayMs);
  }

  /** fdatasyncs done so far (tests: a 'soon' commit is on disk within flushDelayMs). */
  get syncCount(): number {
    return this.syncer.count;
  }

  /**
   * Resolves when every commit so far is on disk (COMMIT and stable writes wait for this); no
   * fdatasync when an earlier one already covered them all.
   */
  async flushed(): Promise<void> {
    await this.env.committed;
    if (this.syncedGen < this.commitGen) await this.syncNow();
  }

  /**
   * The pending commits written to LMDB, then one (shared) fdatasync that started after this call:
   * covers every commit made before it; then the journal files it covers are deleted.
   */
  private async syncNow(): Promise<void> {
    const gen = this.commitGen;
    const ended = this.writeBatch();
    await this.syncer.sync();
    this.syncedGen = Math.max(this.syncedGen, gen);
    if (ended !== undefined) this.journal.drop(ended);
  }

  async close(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    await this.env.committed;
    // What cannot be written or synced now stays in the journal for the next open.
    await this.syncNow().catch(() => undefined);
    this.journal.close();
    await this.syncer.close();
    await this.env.close();
  }
}

function normaliseNode(n: NodeRecord): NodeRecord {
  return nodeRecord({
    vid: n.vid,
    type: n.type,
    parent: n.parent,
    name: n.name,
    main: n.main ? keepBytes(n.main) : null,
    shadow: n.shadow ? keepBytes(n.shadow) : null,
    mainBlocks: n.mainBlocks,
  });
}

/** What a commit's function adds to (StateTx): its changes in journal form, in order, and its bitmaps. */
class CommitCollector implements StateTx {
  readonly changes: JournalChange[] = [];
  readonly bitmaps: Array<[number, BlockBitmap]> = [];

  putNode(n: NodeRecord): void {
    this.changes.push(nodeChange(n));
  }
  removeNode(vid: number): void {
    this.changes.push({ op: 'rmnode', vid });
  }
  setName(parent: number, name: string, vid: number): void {
    this.changes.push({ op: 'name', parent, name, vid });
  }
  removeName(parent: number, name: string): void {
    this.changes.push({ op: 'rmname', parent, name });
  }
  setWhiteout(parent: number, name: string): void {
    this.changes.push({ op: 'whiteout', parent, name });
  }
  clearWhiteout(parent: number, name: string): void {
    this.changes.push({ op: 'rmwhiteout', parent, name });
  }
  putBitmap(vid: number, bm: BlockBitmap): void {
    this.bitmaps.push([vid, bm]);
    this.changes.push(bitmapChange(vid, bm.encode()));
  }
  setMainIndex(h: Uint8Array, vid: number): void {
    this.changes.push({ op: 'mainIndex', key: hex(h), vid });
  }
}

/** What a commit that waits for no sync, or a reservation already made, returns. */
const DONE: Promise<void> = Promise.resolve();

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}
