// The proxy's model of the merged file system: virtual handles -> nodes (state store), name
// resolution across shadow and main with whiteouts, merged attributes, and copy-up (creating the
// shadow counterpart of a main object: metadata only, never data; file blocks move one at a time
// on write). Namespace changes run under one reentrant mutex so a name is never given two vids.
import type { BlockCache } from '../cache/block-cache.js';
import type { Counters } from '../counters.js';
import { componentFault, isDotName, isPlainComponent } from '../nfs3/names.js';
import { CreateMode, Ftype3, Nfs3Status, TimeHow, type Fattr3, type FileHandle } from '../nfs3/types.js';
import { encodeVirtualHandle, vidOfHandle, VirtualHandleError } from '../state/vhandle.js';
import { ROOT_VID, type FileType, type NodeRecord, type StateStore } from '../state/store.js';
import { nodeRecord } from '../state/node-record.js';
import type { Backend } from './backend.js';
import { StatusError } from './errors.js';
import { virtualAttrs } from './attrs.js';
import { MainAttrTable } from './main-attr-table.js';
import { readBackendDir, type BackendEntry } from './backend-listing.js';
import { LIST_AT_ONCE_ENTRIES, LIST_MAX_ENTRIES, MainDirNames } from './main-dir-names.js';
import { ShadowDirNames } from './shadow-dir-names.js';
import { NamespaceLock, type LockHold } from './namespace-lock.js';
import { childPath, treeFileType, type MainTree } from './main-tree.js';
import type { DirFile } from './small-file-ahead.js';

/** Shadow-root directory holding copy-ups whose primary name is gone (hidden from clients). */
export const ORPHAN_DIR = '.rowfs-orphans';
/**
 * Main attributes remembered per vid: the main export is read-only, so they do not go stale. A set
 * with its times and 64-bit numbers is ~360 bytes in V8 (heap snapshot, 10,000 sets): 16,384 of
 * them ~6 MB of the proxy's 100 MB (50,000 were ~18 MB). A forgotten one costs a GETATTR to main.
 */
const MAIN_ATTR_CACHE_ENTRIES = 16_384;
/** Names whose shadow side is uncertain after a lost answer, at most (see markUncertain). */
const UNCERTAIN_NAMES = 4096;
/** lookupShadow's answer when the shadow has no such name. */
const NOT_IN_SHADOW = Symbol('not in the shadow');

export interface CoreParts {
  store: StateStore;
  main: Backend;
  shadow: Backend;
  counters: Counters;
  cache?: BlockCache;
  /** Main's tree when it is an image version's verified manifest (names, types, targets, handles). */
  tree?: MainTree;
  /** Main-only nodes whose attributes are kept (default MAIN_ATTR_CACHE_ENTRIES). */
  mainAttrEntries?: number;
}

export class ProxyCore {
  readonly store: StateStore;
  readonly main: Backend;
  readonly shadow: Backend;
  readonly counters: Counters;
  readonly tree: MainTree | undefined;
  readonly ns = new NamespaceLock();
  /** Main's attributes by vid, packed (see mainAttrs). */
  private readonly mainAttrTable: MainAttrTable;
  /** Main directories whose names are all registered (no LOOKUP to main for a missing name). */
  readonly mainDirs = new MainDirNames();
  /** Directories made through the proxy: no shadow LOOKUP for a name the proxy has not recorded. */
  readonly shadowDirs = new ShadowDirNames();
  /**
   * Names a change whose shadow answer was lost may have left in the shadow (handlers.ts,
   * forgettingOnLostAnswer), by `${dirVid}/${name}`: the shadow is asked before a whiteout hides
   * them. Oldest dropped past UNCERTAIN_NAMES.
   */
  private readonly uncertainNames = new Set<string>();
  /** Called when the entries of a directory change (listing caches drop it). */
  onDirChanged: (vid: number) => void = () => undefined;
  /** Called with the regular main-only files of a main directory the proxy has listed whole. */
  onMainFilesListed: (dirVid: number, files: DirFile[]) => void = () => undefined;

  constructor(p: CoreParts) {
    this.store = p.store;
    this.main = p.main;
    this.shadow = p.shadow;
    this.counters = p.counters;
    this.tree = p.tree;
    this.mainAttrTable = new MainAttrTable(p.mainAttrEntries ?? MAIN_ATTR_CACHE_ENTRIES);
  }

  get blockSize(): number {
    return this.store.blockSize;
  }

  handleOf(vid: number): FileHandle {
    return encodeVirtualHandle({ instance: this.store.instance, vid });
  }

  /** The node a client handle stands for; BADHANDLE for garbage, STALE for unknown or foreign. */
  nodeOf(fh: FileHandle): NodeRecord {
    let vid;
    try {
      vid = vidOfHandle(fh, this.store.instance);
    } catch (e) {
      if (e instanceof VirtualHandleError) throw new StatusError(Nfs3Status.BADHANDLE, e.message);
      throw e;
    }
    if (vid < 0) throw new StatusError(Nfs3Status.STALE, 'handle from another proxy state');
    const n = this.store.getNode(vid);
    if (!n) throw new StatusError(Nfs3Status.STALE, `no node ${vid}`);
    return n;
  }

  node(vid: number): NodeRecord {
    const n = this.store.getNode(vid);
    if (!n) throw new StatusError(Nfs3Status.STALE, `no node ${vid}`);
    return n;
  }

  /** Sets up (or refreshes after a restart) the root node from the two export roots. */
  async initRoot(mainRoot: FileHandle, shadowRoot: FileHandle): Promise<void> {
    const root = this.store.getNode(ROOT_VID);
    const same = (a: Uint8Array | null | undefined, b: Uint8Array) => !!a && Buffer.from(a).equals(Buffer.from(b));
    if (root && same(root.main, mainRoot) && same(root.shadow, shadowRoot)) return;
    await this.store.commit((tx) =>
      tx.putNode(nodeRecord({ vid: ROOT_VID, type: Ftype3.DIR, parent: ROOT_VID, name: '', main: mainRoot, shadow: shadowRoot, mainBlocks: 0 })),
    );
  }

  // ---- attributes ----

  /** Keeps main's attributes of node `vid` (see mainAttrs). */
  rememberMainAttrs(vid: number, a: Fattr3 | undefined): void {
    if (a) this.mainAttrTable.set(vid, a);
  }

  /** Main's attributes of node `vid` as a client sees them, if the proxy still keeps them (no backend asked). */
  rememberedMainAttrs(vid: number): Fattr3 | undefined {
    return this.mainAttrTable.get(vid);
  }

  /**
   * Attributes of the main object behind `n`, with the node's virtual fileid and fsid (what a
   * client sees of a main-only node): remembered packed (main-attr-table.ts), a fresh set per call.
   */
  async mainAttrs(n: NodeRecord): Promise<Fattr3> {
    const cached = this.mainAttrTable.get(n.vid);
    if (cached) return cached;
    if (!n.main) throw new StatusError(Nfs3Status.SERVERFAULT, `node ${n.vid} has no main object`);
    const res = await this.main.ok('GETATTR', { object: n.main });
    this.rememberMainAttrs(n.vid, res.objAttributes);
    return virtualAttrs(res.objAttributes, n.vid);
  }

  /** Merged attributes: the shadow's once the object has been copied up, else main's. */
  async attrs(n: NodeRecord): Promise<Fattr3> {
    if (n.shadow) {
      const res = await this.shadow.ok('GETATTR', { object: n.shadow });
      return virtualAttrs(res.objAttributes, n.vid);
    }
    return this.mainAttrs(n);
  }

  /** Like attrs, undefined on failure (post-op attributes are optional). */
  async attrsOpt(n: NodeRecord): Promise<Fattr3 | undefined> {
    try {
      return await this.attrs(n);
    } catch {
      return undefined;
    }
  }

  // ---- names ----

  /** Rejects names a client may not give a new entry through the proxy ("." and ".." exist already). */
  checkName(dir: NodeRecord, name: string): void {
    const fault = componentFault(name);
    if (fault !== undefined) throw new StatusError(fault, 'not one path component');
    if (isDotName(name)) throw new StatusError(Nfs3Status.EXIST, `${name} exists`);
    if (dir.vid === ROOT_VID && name === ORPHAN_DIR) throw new StatusError(Nfs3Status.ACCES, 'reserved name');
  }

  /**
   * The node named `name` in directory `dir` of the merged view, or undefined. Order: names the
   * proxy recorded, whiteouts, the shadow directory, the main directory. A name seen for the first
   * time gets a vid, persisted before this resolves (a client may hold it from now on). A name
   * that is not one path component never reaches a backend (nfs-ganesha follows "/etc/shadow"),
   * and ".." stops at the root. `askShadow` false skips the shadow directory (a create, which the
   * shadow refuses or applies itself when the name is there: one LOOKUP less per create). `hold`:
   * the caller holds the namespace lock (the name is registered under it).
   */
  async resolve(dir: NodeRecord, name: string, askShadow = true, hold?: LockHold): Promise<NodeRecord | undefined> {
    if (dir.type !== Ftype3.DIR) throw new StatusError(Nfs3Status.NOTDIR, 'not a directory');
    if (name === '.') return dir;
    if (name === '..') return this.node(dir.parent);
    const fault = componentFault(name);
    // RFC 1813 s3.3.3 has no INVAL for LOOKUP: no entry can have such a name.
    if (fault !== undefined) throw new StatusError(fault === Nfs3Status.NAMETOOLONG ? fault : Nfs3Status.NOENT, 'not one path component');
    if (dir.vid === ROOT_VID && name === ORPHAN_DIR) return undefined;
    const known = this.store.lookupName(dir.vid, name);
    if (known !== undefined) {
      const n = this.store.getNode(known);
      if (n) return n;
    }
    if (this.uncertainNames.size > 0 && dir.shadow && this.uncertainNames.has(`${dir.vid}/${name}`)) {
      const n = await this.lookupShadow(dir, name, hold);
      this.uncertainNames.delete(`${dir.vid}/${name}`);
      if (n !== NOT_IN_SHADOW) return n;
    }
    if (this.store.isWhiteout(dir.vid, name)) return undefined;
    if (dir.shadow && askShadow && !this.shadowDirs.isComplete(dir.vid)) {
      const n = await this.lookupShadow(dir, name, hold);
      if (n !== NOT_IN_SHADOW) return n;
    }
    if (dir.main) {
      if (this.mainDirs.isComplete(dir.vid)) return undefined;
      const dirPath = this.tree?.pathOf(dir.main);
      if (dirPath !== undefined) return this.resolveInTree(dir, dirPath, name, hold);
      // A holder never waits for a listing: one started outside the lock waits for the lock.
      if (!dir.shadow && hold === undefined && this.mainDirs.countLookup(dir.vid)) {
        // One listing instead of a LOOKUP per name from now on (a client reading many files here).
        await this.mainDirs.listOnce(dir.vid, () => this.registerMainDir(dir));
        if (this.mainDirs.isComplete(dir.vid)) return this.recorded(dir, name);
      }
      return this.lookupMain(dir, name, hold);
    }
    return undefined;
  }

  /** LOOKUP of `name` in the shadow directory of `dir`; registers what it finds (NOT_IN_SHADOW: NOENT). */
  private async lookupShadow(dir: NodeRecord, name: string, hold: LockHold | undefined): Promise<NodeRecord | undefined | typeof NOT_IN_SHADOW> {
    const res = await this.shadow.call('LOOKUP', { what: { dir: dir.shadow!, name } });
    if (res.status === Nfs3Status.NOENT) return NOT_IN_SHADOW;
    if (res.status !== Nfs3Status.OK) throw new StatusError(res.status, 'shadow LOOKUP');
    const a = res.objAttributes ?? (await this.shadow.ok('GETATTR', { object: res.object })).objAttributes;
    return this.register(dir, name, { type: a.type as FileType, main: null, shadow: res.object }, hold);
  }

  /** LOOKUP of `name` in main's directory behind `dir`; registers what it finds. */
  private async lookupMain(dir: NodeRecord, name: string, hold: LockHold | undefined): Promise<NodeRecord | undefined> {
    const res = await this.main.call('LOOKUP', { what: { dir: dir.main!, name } });
    if (res.status === Nfs3Status.OK) {
      const a = res.objAttributes ?? (await this.main.ok('GETATTR', { object: res.object })).objAttributes;
      const n = await this.register(dir, name, { type: a.type as FileType, main: res.object, shadow: null }, hold);
      if (n?.main && Buffer.from(n.main).equals(Buffer.from(res.object))) this.rememberMainAttrs(n.vid, a);
      return n;
    }
    if (res.status !== Nfs3Status.NOENT) throw new StatusError(res.status, 'main LOOKUP');
    return undefined;
  }

  /**
   * `name` in main's directory `dirPath` of the tree: absent when the tree lacks it, else
   * registered with main's handle and the tree's type (main is asked only for an 'other', whose
   * type the tree does not tell). A small main-only directory is listed at its first name (one
   * READDIRPLUS brings every name's attributes, which the reply needs), a larger one at its
   * LIST_AFTER_LOOKUPS-th; until then a name's attributes cost one GETATTR, as a LOOKUP did.
   */
  private async resolveInTree(dir: NodeRecord, dirPath: string, name: string, hold: LockHold | undefined): Promise<NodeRecord | undefined> {
    const tree = this.tree!;
    const path = childPath(dirPath, name);
    const e = tree.entry(path);
    if (!e) return undefined;
    const children = tree.childCount(dirPath);
    // A directory the manifest shows too large to register whole is never listed (it would fail).
    const listable = children === undefined || children <= LIST_MAX_ENTRIES;
    if (!dir.shadow && hold === undefined && listable && this.mainDirs.countLookup(dir.vid, (children ?? Infinity) <= LIST_AT_ONCE_ENTRIES ? 1 : undefined)) {
      await this.mainDirs.listOnce(dir.vid, () => this.registerMainDir(dir));
      const n = this.recorded(dir, name);
      if (n) return n;
    }
    const type = treeFileType(e.type);
    if (type === undefined) return this.lookupMain(dir, name, hold);
    const [fh] = await tree.handles([path]);
    return this.register(dir, name, { type, main: fh!, shadow: null }, hold);
  }

  /** Target of main's symlink behind `n`: from the tree when it has it, else READLINK. */
  async mainLink(n: NodeRecord): Promise<string> {
    const path = this.tree?.pathOf(n.main!);
    const target = path === undefined ? undefined : this.tree!.entry(path)?.target;
    if (target !== undefined) return target;
    return (await this.main.ok('READLINK', { symlink: n.main! })).data;
  }

  /**
   * Main's entries of `dir` that `wanted` keeps, with handles and attributes, from the tree and
   * what the proxy recorded when every kept name has a main-only node with remembered attributes
   * (a directory listed before); else read from main.
   */
  async mainEntries(dir: NodeRecord, wanted: (name: string) => boolean): Promise<BackendEntry[]> {
    const dirPath = this.tree?.pathOf(dir.main!);
    const names = dirPath === undefined ? undefined : this.tree!.names(dirPath);
    if (names) {
      const out: BackendEntry[] = [];
      let whole = true;
      for (const name of names) {
        if (!wanted(name)) continue;
        const vid = this.store.lookupName(dir.vid, name);
        const n = vid === undefined ? undefined : this.store.getNode(vid);
        const attrs = n ? this.mainAttrTable.get(n.vid) : undefined;
        if (!n?.main || n.shadow || !attrs || this.tree!.pathOf(n.main) !== childPath(dirPath!, name)) {
          whole = false;
          break;
        }
        out.push({ name, fh: n.main, attrs });
      }
      if (whole) return out;
    }
    return readBackendDir(this.main, dir.main!);
  }

  /** The node the proxy has recorded under `name` in `dir` (no backend asked), or undefined. */
  private recorded(dir: NodeRecord, name: string): NodeRecord | undefined {
    const known = this.store.lookupName(dir.vid, name);
    return known === undefined ? undefined : this.store.getNode(known);
  }

  /**
   * Registers every name of the main directory behind main-only `dir` with its handle, and
   * remembers their attributes (one READDIRPLUS listing). False when it cannot vouch for every
   * name: too many entries, or an entry without handle or attributes.
   */
  private async registerMainDir(dir: NodeRecord): Promise<boolean> {
    if (!dir.main) return false;
    const entries = await readBackendDir(this.main, dir.main, LIST_MAX_ENTRIES);
    const listed: Array<{ name: string; type: FileType; main: FileHandle; shadow: null; attrs: Fattr3 }> = [];
    for (const e of entries) {
      if (isDotName(e.name)) continue;
      if (!e.fh || !e.attrs) return false;
      listed.push({ name: e.name, type: e.attrs.type as FileType, main: e.fh, shadow: null, attrs: e.attrs });
    }
    const nodes = await this.registerMany(dir, listed);
    const files: DirFile[] = [];
    for (let i = 0; i < listed.length; i++) {
      const n = nodes[i];
      if (!n?.main || !Buffer.from(n.main).equals(Buffer.from(listed[i]!.main))) continue;
      this.rememberMainAttrs(n.vid, listed[i]!.attrs);
      if (n.type === Ftype3.REG && !n.shadow) files.push({ vid: n.vid, name: listed[i]!.name, size: Number(listed[i]!.attrs.size) });
    }
    this.onMainFilesListed(dir.vid, files);
    return true;
  }

  /** `name` in directory `dirVid` may be in the shadow whatever the proxy recorded: the next resolve asks. */
  markUncertain(dirVid: number, name: string): void {
    const key = `${dirVid}/${name}`;
    this.uncertainNames.delete(key);
    if (this.uncertainNames.size >= UNCERTAIN_NAMES) this.uncertainNames.delete(this.uncertainNames.values().next().value as string);
    this.uncertainNames.add(key);
  }

  /** Like resolve, but NOENT is an error. */
  async resolveExisting(dir: NodeRecord, name: string, hold?: LockHold): Promise<NodeRecord> {
    const n = await this.resolve(dir, name, true, hold);
    if (!n) throw new StatusError(Nfs3Status.NOENT, `no ${name}`);
    return n;
  }

  /**
   * Records names seen in a listing or lookup; returns their nodes, in the order given (existing
   * ones reused). Undefined for a name a backend lists that is not one plain component (never
   * stored), and for a main entry whose name was whited out meanwhile (removed through the proxy
   * while the listing or LOOKUP was on its way: the whiteout is checked under the lock).
   */
  async registerMany(
    dir: NodeRecord,
    listed: Array<{ name: string; type: FileType; main: FileHandle | null; shadow: FileHandle | null }>,
    hold?: LockHold,
  ): Promise<Array<NodeRecord | undefined>> {
    return this.ns.run(async () => {
      const all: Array<NodeRecord | undefined> = [];
      const out: NodeRecord[] = [];
      const found: typeof listed = [];
      const fresh: NodeRecord[] = [];
      await this.store.reserveVids(listed.length);
      for (const f of listed) {
        const known = isPlainComponent(f.name) ? this.store.lookupName(dir.vid, f.name) : undefined;
        const existing = known !== undefined ? this.store.getNode(known) : undefined;
        if (existing) {
          all.push(existing);
          continue;
        }
        if (!isPlainComponent(f.name) || (!f.shadow && this.store.isWhiteout(dir.vid, f.name))) {
          all.push(undefined);
          continue;
        }
        // One main object reached by two names (a hard link in the image) keeps one vid.
        const byMain = f.main && f.type !== Ftype3.DIR ? this.store.byMainHandle(f.main) : undefined;
        const shared = byMain !== undefined ? this.store.getNode(byMain) : undefined;
        const n: NodeRecord = shared ?? nodeRecord({ vid: this.store.allocVid(), type: f.type, parent: dir.vid, name: f.name, main: f.main, shadow: f.shadow, mainBlocks: 0 });
        if (!shared) fresh.push(n);
        found.push(f);
        out.push(n);
        all.push(n);
      }
      if (found.length > 0) {
        await this.store.commit((tx) => {
          for (const n of fresh) {
            tx.putNode(n);
            if (n.main) tx.setMainIndex(n.main, n.vid);
          }
          for (let i = 0; i < found.length; i++) tx.setName(dir.vid, found[i]!.name, out[i]!.vid);
        }, 'process');
      }
      return all;
    }, hold);
  }

  private async register(
    dir: NodeRecord,
    name: string,
    f: { type: FileType; main: FileHandle | null; shadow: FileHandle | null },
    hold: LockHold | undefined,
  ): Promise<NodeRecord | undefined> {
    const [n] = await this.registerMany(dir, [{ name, ...f }], hold);
    return n;
  }

  // ---- copy-up ----

  /** Makes sure `n` has a shadow object (metadata only); returns the updated node. */
  async ensureShadow(n: NodeRecord, hold?: LockHold): Promise<NodeRecord> {
    if (n.shadow) return n;
    return this.ns.run(async (held) => {
      const cur = this.node(n.vid);
      if (cur.shadow) return cur;
      if (!cur.main) throw new StatusError(Nfs3Status.SERVERFAULT, `node ${cur.vid} has neither side`);
      const a = await this.mainAttrs(cur);
      const { dirFh, name } = await this.copyUpPlace(cur, held);
      const base = { mode: a.mode & 0o7777, uid: a.uid, gid: a.gid };
      let fh: FileHandle;
      switch (cur.type) {
        case Ftype3.DIR:
          fh = await this.createOrAdopt(dirFh, name, () => this.shadow.call('MKDIR', { where: { dir: dirFh, name }, attributes: base }));
          break;
        case Ftype3.REG:
          fh = await this.createOrAdopt(dirFh, name, () =>
            this.shadow.call('CREATE', { where: { dir: dirFh, name }, how: { mode: CreateMode.GUARDED, attributes: base } }),
          );
          // Sparse: the shadow file gets main's size but no data; blocks arrive on write.
          await this.shadow.ok('SETATTR', {
            object: fh,
            newAttributes: { size: a.size, atime: { how: TimeHow.SET_TO_CLIENT_TIME, time: a.atime }, mtime: { how: TimeHow.SET_TO_CLIENT_TIME, time: a.mtime } },
          });
          break;
        case Ftype3.LNK: {
          const target = await this.mainLink(cur);
          fh = await this.createOrAdopt(dirFh, name, () =>
            this.shadow.call('SYMLINK', { where: { dir: dirFh, name }, symlinkAttributes: base, symlinkData: target }),
          );
          break;
        }
        case Ftype3.CHR:
        case Ftype3.BLK:
          fh = await this.createOrAdopt(dirFh, name, () =>
            this.shadow.call('MKNOD', { where: { dir: dirFh, name }, what: { type: cur.type as Ftype3.CHR, attributes: base, spec: a.rdev } }),
          );
          break;
        default:
          fh = await this.createOrAdopt(dirFh, name, () =>
            this.shadow.call('MKNOD', { where: { dir: dirFh, name }, what: { type: cur.type as Ftype3.FIFO, attributes: base } }),
          );
      }
      const next: NodeRecord = nodeRecord({
        ...cur,
        shadow: fh,
        mainBlocks: cur.type === Ftype3.REG ? Math.ceil(Number(a.size) / this.blockSize) : 0,
      });
      await this.store.commit((tx) => tx.putNode(next), 'soon');
      return next;
    }, hold);
  }

  /** Where a copy-up of `n` goes: its primary name in its parent's shadow directory. */
  private async copyUpPlace(n: NodeRecord, hold: LockHold): Promise<{ dirFh: FileHandle; name: string }> {
    if (n.vid !== ROOT_VID && this.store.lookupName(n.parent, n.name) === n.vid) {
      const parent = await this.ensureShadow(this.node(n.parent), hold);
      return { dirFh: parent.shadow!, name: n.name };
    }
    // The primary name was removed while another name still reaches the object.
    const root = this.node(ROOT_VID);
    const orphans = await this.createOrAdopt(root.shadow!, ORPHAN_DIR, () =>
      this.shadow.call('MKDIR', { where: { dir: root.shadow!, name: ORPHAN_DIR }, attributes: { mode: 0o700 } }),
    );
    return { dirFh: orphans, name: String(n.vid) };
  }

  /** Runs a shadow create; if the name already exists there (left by a crash), adopts it. */
  async createOrAdopt(dirFh: FileHandle, name: string, create: () => Promise<{ status: Nfs3Status; obj?: FileHandle }>): Promise<FileHandle> {
    const res = await create();
    if (res.status === Nfs3Status.OK && res.obj) return res.obj;
    if (res.status !== Nfs3Status.OK && res.status !== Nfs3Status.EXIST) throw new StatusError(res.status, `shadow create ${name}`);
    return (await this.shadow.ok('LOOKUP', { what: { dir: dirFh, name } })).object;
  }

  /** True when `name` exists in the main directory behind `dir`. */
  async inMain(dir: NodeRecord, name: string): Promise<boolean> {
    if (!dir.main || !isPlainComponent(name)) return false;
    const dirPath = this.tree?.pathOf(dir.main);
    if (dirPath !== undefined) return this.tree!.entry(childPath(dirPath, name)) !== undefined;
    const res = await this.main.call('LOOKUP', { what: { dir: dir.main, name } });
    if (res.status === Nfs3Status.OK) return true;
    if (res.status === Nfs3Status.NOENT) return false;
    throw new StatusError(res.status, 'main LOOKUP');
  }
}
