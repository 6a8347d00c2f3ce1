// Attributes of shadow objects the proxy already has (issue 15: "no shadow call the proxy can
// answer from what it already knows"). A local shadow directory is changed only through the proxy,
// so an object's attributes stay what the shadow last returned for it until a shadow call changes
// it: a GETATTR is answered from the attributes a GETATTR, a LOOKUP or a change returned (the
// kernel client's LOOKUP asks for the object's and the directory's attributes, one shadow GETATTR
// each, right after the CREATE or REMOVE that returned them).
// Invalidation (each rule errs toward asking the shadow):
// - every call but the read-only ones (GETATTR, LOOKUP, ACCESS, FSSTAT, FSINFO, PATHCONF) drops the
//   handles it names, when it starts and again when it ends: READ, READLINK and READDIR change
//   atime, WRITE size and mtime, COMMIT nothing but is not trusted, SETATTR anything, LINK the
//   file's nlink and ctime, a create or remove its directory;
// - REMOVE and RMDIR name their object by its name, not its handle (its nlink and ctime change, or
//   its handle is gone): they drop the object the name was last seen bound to (a LOOKUP's, a
//   create's or a LINK's result; every change of a binding passes here), and every entry when
//   the binding is not known; RENAME drops every entry (source and replaced target);
// - a result is kept only if nothing could have changed its objects while it was on its way: a
//   GETATTR's or LOOKUP's when no changing call was in flight at its start or end and none started
//   in between; a change's own post-op attributes when no other change was in flight at its
//   start or end and none started in between (one already running may end first, after this one
//   read its attributes); a change not kept still drops every handle its result names (an
//   UNCHECKED create's existing file), and a failed UNCHECKED create drops every entry;
// - the shadow reads every directory when it scans for an unknown handle (any call, a GETATTR too,
//   may start one; see server/file-handles.ts): every entry is dropped once a scan has started
//   or ended since the last call, and nothing a call returned is kept if one did while it ran.
// A call the rules do not know (and RENAME) drops every entry. Only attributes of OK results are
// kept (shared with callers, who never change an attribute set in place); bounded, oldest dropped first.
import type { Nfs3ArgsOf, Nfs3ProcedureName, Nfs3ResOf } from '../nfs3/procedures.js';
import { CreateMode, Nfs3Status, type Fattr3, type FileHandle, type WccData } from '../nfs3/types.js';
import type { OpaqueAuth } from '../rpc/message.js';
import type { RpcCallOptions } from '../rpc/client.js';

// Heap per entry (measured, Node 20, 32-byte handles): an attribute set with its key ~450-550
// bytes; a binding ~260 bytes with short names, ~650 with 255-byte names. Both full: 3.3 MB of heap
// with short names, 4.8 MB with 255-byte ones (16,384 of each took 12.2 and 17.9 MB). Most hits
// need only recent results (the GETATTRs right after the call that returned the attributes, the
// REMOVE right after the LOOKUP that bound its name); a stat of every file of a set made earlier
// hits while the set fits (the kernel-client benchmark's 2,000 files: no shadow GETATTR; 5,000
// files: one per stat and per delete).
/** Attribute sets kept by default. */
export const SHADOW_ATTR_ENTRIES = 4_096;
/** Name bindings kept by default. */
export const SHADOW_BINDINGS = 4_096;

/** Calls that change nothing in the shadow (atime included). */
const READ_ONLY = new Set<Nfs3ProcedureName>(['NULL', 'GETATTR', 'LOOKUP', 'ACCESS', 'FSSTAT', 'FSINFO', 'PATHCONF']);
/** Calls that remove an object named by its name. */
const REMOVES = new Set<Nfs3ProcedureName>(['REMOVE', 'RMDIR']);

type AnyArgs = Record<string, unknown>;
type AnyRes = Record<string, unknown> & { status: Nfs3Status };

/** The handles a changing call names (its object, the directories of its names); undefined: a call not listed. */
function handlesOf(name: Nfs3ProcedureName, args: AnyArgs): FileHandle[] | undefined {
  const a = args as Record<string, { dir: FileHandle } & FileHandle>;
  switch (name) {
    case 'SETATTR':
      return [a['object']!];
    case 'READ':
    case 'WRITE':
    case 'COMMIT':
      return [a['file']!];
    case 'READLINK':
      return [a['symlink']!];
    case 'READDIR':
    case 'READDIRPLUS':
      return [a['dir']!];
    case 'CREATE':
    case 'MKDIR':
    case 'SYMLINK':
    case 'MKNOD':
      return [a['where']!.dir];
    case 'REMOVE':
    case 'RMDIR':
      return [a['object']!.dir];
    case 'LINK':
      return [a['file']!, a['link']!.dir];
    default:
      return undefined;
  }
}

/** Post-op attributes a successful change returned, by handle. */
function afterOf(name: Nfs3ProcedureName, args: AnyArgs, res: AnyRes): Array<[FileHandle, Fattr3 | undefined]> {
  const a = args as unknown as Nfs3ArgsOf<Nfs3ProcedureName> & AnyArgs;
  const wcc = (w: unknown) => (w as WccData | undefined)?.after;
  switch (name) {
    case 'SETATTR':
      return [[(a as Nfs3ArgsOf<'SETATTR'>).object, wcc(res['objWcc'])]];
    case 'WRITE':
      return [[(a as Nfs3ArgsOf<'WRITE'>).file, wcc(res['fileWcc'])]];
    case 'CREATE':
    case 'MKDIR':
    case 'SYMLINK':
    case 'MKNOD': {
      const out: Array<[FileHandle, Fattr3 | undefined]> = [[(a as Nfs3ArgsOf<'CREATE'>).where.dir, wcc(res['dirWcc'])]];
      if (res['obj'] instanceof Uint8Array) out.push([res['obj'], res['objAttributes'] as Fattr3 | undefined]);
      return out;
    }
    case 'REMOVE':
    case 'RMDIR':
      return [[(a as Nfs3ArgsOf<'REMOVE'>).object.dir, wcc(res['dirWcc'])]];
    case 'RENAME': {
      const r = a as Nfs3ArgsOf<'RENAME'>;
      // One directory for both names: its two post-op sets differ in nothing the client sees.
      return [[r.from.dir, wcc(res['fromdirWcc'])], [r.to.dir, wcc(res['todirWcc'])]];
    }
    case 'LINK': {
      const l = a as Nfs3ArgsOf<'LINK'>;
      return [[l.file, res['fileAttributes'] as Fattr3 | undefined], [l.link.dir, wcc(res['linkdirWcc'])]];
    }
    default:
      return []; // READ, READLINK, READDIR(PLUS), COMMIT: attributes from before the atime change, or untrusted
  }
}

export interface ShadowAttrsOptions {
  /** Bumped by the shadow when a scan of its directories starts and when it ends. */
  scanEdges: () => number;
  /** Told of every GETATTR answered here (not sent to the shadow). */
  onHit?: () => void;
  /** Attribute sets kept (default SHADOW_ATTR_ENTRIES). */
  maxEntries?: number;
  /** Name bindings kept (default SHADOW_BINDINGS). */
  maxBindings?: number;
}

/** What ShadowAttrs.call sends a call with (Backend's counted send). */
export type ShadowSend<N extends Nfs3ProcedureName> = (name: N, args: Nfs3ArgsOf<N>, cred?: OpaqueAuth, opts?: RpcCallOptions) => Promise<Nfs3ResOf<N>>;

export class ShadowAttrs {
  private readonly known = new Map<string, Fattr3>();
  /** Object key last seen bound to a name, by bindingKey(directory, name). */
  private readonly bound = new Map<string, string>();
  private readonly scanEdges: () => number;
  private readonly onHit: () => void;
  private readonly maxEntries: number;
  private readonly maxBindings: number;
  /** scanEdges() when last looked at. */
  private scansSeen: number;
  /** Changing calls in flight. */
  private changing = 0;
  /** Counts changing calls started, so a result can tell whether one started while it was on its way. */
  private epoch = 0;

  constructor(o: ShadowAttrsOptions) {
    this.scanEdges = o.scanEdges;
    this.onHit = o.onHit ?? (() => undefined);
    this.maxEntries = o.maxEntries ?? SHADOW_ATTR_ENTRIES;
    this.maxBindings = o.maxBindings ?? SHADOW_BINDINGS;
    this.scansSeen = o.scanEdges();
  }

  /** Drops everything once the shadow has started or ended a scan; returns the edge count now. */
  private scans(): number {
    const now = this.scanEdges();
    if (now !== this.scansSeen) {
      this.known.clear();
      this.scansSeen = now;
    }
    return now;
  }

  /** The last two handles keyed, by identity: one call keys its directory and object up to five times. */
  private memoFh: [FileHandle | undefined, FileHandle | undefined] = [undefined, undefined];
  private memoKey: [string, string] = ['', ''];

  /**
   * `fh`'s key. Remembered by the handle's identity: the handles a call names are the arguments'
   * and the results' objects, never written once made (a record's bytes are copied or decoded
   * into new views per call), so an object seen again has the same bytes.
   */
  private key(fh: FileHandle): string {
    if (fh === this.memoFh[0]) return this.memoKey[0];
    if (fh === this.memoFh[1]) return this.memoKey[1];
    const k = Buffer.from(fh.buffer, fh.byteOffset, fh.byteLength).toString('latin1');
    this.memoFh[1] = this.memoFh[0];
    this.memoKey[1] = this.memoKey[0];
    this.memoFh[0] = fh;
    this.memoKey[0] = k;
    return k;
  }

  private bindingKey(dir: FileHandle, name: string): string {
    const d = this.key(dir);
    return `${d.length}:${d}${name}`;
  }

  private bind(dir: FileHandle, name: string, obj: unknown): void {
    if (!(obj instanceof Uint8Array)) return;
    const k = this.bindingKey(dir, name);
    if (this.bound.size >= this.maxBindings && !this.bound.has(k)) this.bound.delete(this.bound.keys().next().value as string);
    this.bound.set(k, this.key(obj));
  }

  private forgetAll(): void {
    this.known.clear();
    this.bound.clear();
  }

  /** The attributes known for `fh`, or undefined (then ask the shadow). */
  get(fh: FileHandle): Fattr3 | undefined {
    this.scans();
    const a = this.known.get(this.key(fh));
    if (a) this.onHit();
    return a;
  }

  /** Keeps `a` for `fh`; no attributes returned: whatever was kept for `fh` is dropped. */
  private put(fh: FileHandle, a: Fattr3 | undefined): void {
    const k = this.key(fh);
    if (!a) {
      this.known.delete(k);
      return;
    }
    if (this.known.size >= this.maxEntries && !this.known.has(k)) this.known.delete(this.known.keys().next().value as string);
    // Kept as the shadow returned it (no copy): attribute sets are never changed in place (callers
    // build new ones, as virtualAttrs does). Freezing them measured 6% more CPU per create in the
    // in-process replay (medians of 4 runs), more than the GETATTR it saves.
    this.known.set(k, a);
  }

  /**
   * Drops what call `name` may change, when it starts: the entries of the handles it names, and
   * what a REMOVE or RMDIR removes. Returns the keys dropped (undefined: everything was), for
   * dropAgain when the call ends: data, not a closure made per call (docs/rowfs.md says why).
   */
  private drop(name: Nfs3ProcedureName, args: AnyArgs): string[] | undefined {
    const named = name === 'RENAME' ? undefined : handlesOf(name, args);
    if (!named) {
      this.forgetAll();
      return undefined;
    }
    const keys = named.map((fh) => this.key(fh));
    if (REMOVES.has(name)) {
      const what = (args as unknown as Nfs3ArgsOf<'REMOVE'>).object;
      const binding = this.bindingKey(what.dir, what.name);
      const obj = this.bound.get(binding);
      if (obj === undefined) {
        this.forgetAll();
        return undefined;
      }
      this.bound.delete(binding);
      keys.push(obj);
    }
    this.dropAgain(keys);
    return keys;
  }

  /** Drops `keys` (what drop returned) again; undefined: everything. */
  private dropAgain(keys: string[] | undefined): void {
    if (keys === undefined) this.forgetAll();
    else for (const k of keys) this.known.delete(k);
  }

  /**
   * Runs shadow call `send(name, args, cred, opts)` for procedure `name`, answering a GETATTR from
   * what is known and keeping or dropping attributes by the rules above. The call's parts are
   * passed on rather than captured, so a caller can give one long-lived `send` for every call.
   */
  async call<N extends Nfs3ProcedureName>(name: N, args: Nfs3ArgsOf<N>, send: ShadowSend<N>, cred?: OpaqueAuth, opts?: RpcCallOptions): Promise<Nfs3ResOf<N>> {
    const a = args as unknown as AnyArgs;
    if (READ_ONLY.has(name)) {
      if (name === 'GETATTR') {
        const hit = this.get((args as Nfs3ArgsOf<'GETATTR'>).object);
        if (hit) return { status: Nfs3Status.OK, objAttributes: hit } as Nfs3ResOf<N>;
      }
      const calm = this.changing === 0;
      const epoch = this.epoch;
      const scans = this.scans();
      const res = await send(name, args, cred, opts);
      if (calm && this.changing === 0 && epoch === this.epoch && scans === this.scans()) this.keep(name, args, res as unknown as AnyRes);
      return res;
    }
    // Alone: no other change in flight when this one started (one that started earlier may end
    // first, after this one read its post-op attributes), none started since, none in flight at its end.
    const calmAtStart = this.changing === 0;
    this.changing++;
    const epoch = ++this.epoch;
    const scans = this.scans();
    const dropped = this.drop(name, a);
    try {
      const res = await send(name, args, cred, opts);
      this.dropAgain(dropped);
      const alone = calmAtStart && this.changing === 1 && epoch === this.epoch && scans === this.scans();
      const r = res as unknown as AnyRes;
      if (r.status !== Nfs3Status.OK) {
        // An UNCHECKED create may have changed the existing file it opened before failing (its
        // size, mode): that file is named by no argument.
        if (name === 'CREATE' && (a as unknown as Nfs3ArgsOf<'CREATE'>).how.mode === CreateMode.UNCHECKED) this.forgetAll();
      } else if (alone) {
        for (const [fh, attrs] of afterOf(name, a, r)) this.put(fh, attrs);
        this.learnBinding(name, a, r);
      } else {
        // The result may name objects the arguments do not (an UNCHECKED create's existing file).
        for (const [fh] of afterOf(name, a, r)) this.known.delete(this.key(fh));
      }
      return res;
    } catch (e) {
      this.dropAgain(dropped);
      throw e;
    } finally {
      this.changing--;
    }
  }

  /** The name a successful create or LINK bound to its object. */
  private learnBinding(name: Nfs3ProcedureName, args: AnyArgs, res: AnyRes): void {
    if (name === 'CREATE' || name === 'MKDIR' || name === 'SYMLINK' || name === 'MKNOD') {
      const where = (args as unknown as Nfs3ArgsOf<'CREATE'>).where;
      this.bind(where.dir, where.name, res['obj']);
    } else if (name === 'LINK') {
      const l = args as unknown as Nfs3ArgsOf<'LINK'>;
      this.bind(l.link.dir, l.link.name, l.file);
    }
  }

  /** What a read-only call's OK result tells. */
  private keep(name: Nfs3ProcedureName, args: unknown, res: AnyRes): void {
    if (res.status !== Nfs3Status.OK) return;
    if (name === 'GETATTR') this.put((args as Nfs3ArgsOf<'GETATTR'>).object, res['objAttributes'] as Fattr3);
    else if (name === 'LOOKUP') {
      const what = (args as Nfs3ArgsOf<'LOOKUP'>).what;
      this.put(res['object'] as FileHandle, res['objAttributes'] as Fattr3 | undefined);
      this.put(what.dir, res['dirAttributes'] as Fattr3 | undefined);
      if (what.name !== '.' && what.name !== '..') this.bind(what.dir, what.name, res['object']);
    }
  }
}
