// The proxy's NFSv3 procedures (RFC 1813 s3.3), as seen by an unmodified client. Reads of objects
// never modified go to main (file data through the block cache); every modification goes to the
// shadow; the main export is never written (the proxy sends main only read procedures:
// GETATTR, LOOKUP, READLINK, READ, READDIRPLUS, FSINFO). Each handler turns internal failures into
// the procedure's failure arm, so nothing throws into the RPC server.
import type { RpcCallContext } from '../rpc/server.js';
import type { Nfs3Handlers } from '../nfs3/program.js';
import type { Nfs3ArgsOf, Nfs3ProcedureName, Nfs3ResOf } from '../nfs3/procedures.js';
import {
  CreateMode,
  Ftype3,
  Nfs3Status,
  type Fattr3,
  type FileHandle,
  type WccData,
} from '../nfs3/types.js';
import type { OpaqueAuth } from '../rpc/message.js';
import { isDotName } from '../nfs3/names.js';
import { MAX_FILE_BYTES, rangeFault } from '../nfs3/ranges.js';
import type { NodeRecord } from '../state/store.js';
import { nodeRecord } from '../state/node-record.js';
import type { ProxyCore } from './core.js';
import type { LockHold } from './namespace-lock.js';
import type { FileIo } from './file-io.js';
import type { Listing, Listings } from './listing.js';
import { DIR_COOKIE_VERF, firstAfter, pageEnd, resumeCookie } from '../nfs3/dir-cookies.js';
import { virtualOptAttrs, virtualWcc } from './attrs.js';
import { accessFor } from '../nfs3/access.js';
import { VHANDLE_LENGTH_BYTES } from '../state/vhandle.js';
import { fsinfoOk } from '../nfs3/fsinfo.js';
import { entryBytes, entryPlusExtraBytes, READDIR_FIXED_BYTES } from '../nfs3/readdir-sizes.js';
import { StatusError, statusOf } from './errors.js';
import { afterShadowChange, forgettingOnLostAnswer, shadowChange } from './shadow-change.js';

export interface HandlerLimits {
  /** rtmax/wtmax the proxy advertises (bytes). */
  maxIoBytes: number;
  /** dtpref the proxy advertises (bytes). */
  dirPrefBytes: number;
}

/** What READDIRPLUS adds to an entry: attributes and a virtual handle. */
const ENTRYPLUS_EXTRA_BYTES = entryPlusExtraBytes(VHANDLE_LENGTH_BYTES);

type Res<N extends Nfs3ProcedureName> = Nfs3ResOf<N>;

/** READs at least this large are answered from the cache file by sendfile when possible. */
const FILE_REPLY_MIN_BYTES = 64 * 1024;

/**
 * The proxy's NFSv3 procedures. Each is written out with its own try/catch, and what runs under the
 * namespace lock is a bound method given its arguments: no closure is made per call. V8 keeps a
 * closure's optimized code only weakly once no instance of it lives, so each full GC threw such
 * code away and TurboFan compiled it again (docs/rowfs.md, "TurboFan compiling the same functions
 * again after every full GC").
 */
export class ProxyHandlers implements Nfs3Handlers {
  /** Told about internal errors answered with SERVERFAULT (bugs or backend surprises). */
  onFault: (proc: string, err: unknown) => void = () => undefined;

  constructor(
    private readonly core: ProxyCore,
    private readonly io: FileIo,
    private readonly listings: Listings,
    private readonly limits: HandlerLimits,
  ) {}

  private count(name: string): void {
    this.core.counters.call('client', name);
  }

  /** The status a procedure answers for thrown `e` (a SERVERFAULT is reported to onFault). */
  private failure(name: Nfs3ProcedureName, e: unknown): Exclude<Nfs3Status, Nfs3Status.OK> {
    const s = statusOf(e);
    if (s === Nfs3Status.SERVERFAULT) this.onFault(name, e);
    return s;
  }

  private cred(ctx: RpcCallContext): OpaqueAuth | undefined {
    return ctx.cred;
  }

  private async wccOf(n: NodeRecord): Promise<WccData> {
    const after = await this.core.attrsOpt(n);
    return after ? { after } : {};
  }

  NULL(): void {
    this.count('NULL');
  }

  async GETATTR(a: Nfs3ArgsOf<'GETATTR'>): Promise<Res<'GETATTR'>> {
    this.count('GETATTR');
    try {
      const n = this.core.nodeOf(a.object);
      return { status: Nfs3Status.OK, objAttributes: await this.core.attrs(n) };
    } catch (e) {
      return { status: this.failure('GETATTR', e) };
    }
  }

  async SETATTR(a: Nfs3ArgsOf<'SETATTR'>, ctx: RpcCallContext): Promise<Res<'SETATTR'>> {
    this.count('SETATTR');
    try {
      let n = this.core.nodeOf(a.object);
      let guardCtime = a.guard;
      if (!n.shadow && guardCtime) {
        // The client's ctime came from main: check it there, the copy-up gets a new ctime.
        const m = await this.core.mainAttrs(n);
        if (m.ctime.seconds !== guardCtime.seconds || m.ctime.nseconds !== guardCtime.nseconds) {
          return { status: Nfs3Status.NOT_SYNC, objWcc: { after: m } }; // mainAttrs' set is virtual already
        }
        guardCtime = undefined;
      }
      const sa = a.newAttributes;
      if (sa.size !== undefined && n.type !== Ftype3.REG) {
        throw new StatusError(n.type === Ftype3.DIR ? Nfs3Status.ISDIR : Nfs3Status.INVAL, 'size on non-file');
      }
      if (sa.size !== undefined && sa.size > BigInt(MAX_FILE_BYTES)) throw new StatusError(Nfs3Status.FBIG, 'size past the largest file');
      if (sa.size !== undefined) n = await this.io.truncate(n, Number(sa.size));
      else n = await this.core.ensureShadow(n);
      const res = await this.core.shadow.call('SETATTR', { object: n.shadow!, newAttributes: sa, guard: guardCtime }, this.cred(ctx));
      return { ...res, objWcc: virtualWcc(res.objWcc, n.vid) } as Res<'SETATTR'>;
    } catch (e) {
      return { status: this.failure('SETATTR', e), objWcc: {} };
    }
  }

  async LOOKUP(a: Nfs3ArgsOf<'LOOKUP'>): Promise<Res<'LOOKUP'>> {
    this.count('LOOKUP');
    try {
      const dir = this.core.nodeOf(a.what.dir);
      const n = await this.core.resolve(dir, a.what.name);
      if (!n) return { status: Nfs3Status.NOENT, dirAttributes: await this.core.attrsOpt(dir) };
      return { status: Nfs3Status.OK, object: this.core.handleOf(n.vid), objAttributes: await this.core.attrs(n), dirAttributes: await this.core.attrsOpt(dir) };
    } catch (e) {
      return { status: this.failure('LOOKUP', e) };
    }
  }

  async ACCESS(a: Nfs3ArgsOf<'ACCESS'>, ctx: RpcCallContext): Promise<Res<'ACCESS'>> {
    this.count('ACCESS');
    try {
      const n = this.core.nodeOf(a.object);
      const attrs = await this.core.attrs(n);
      return { status: Nfs3Status.OK, objAttributes: attrs, access: accessFor(attrs, a.access, ctx.authSys) };
    } catch (e) {
      return { status: this.failure('ACCESS', e) };
    }
  }

  async READLINK(a: Nfs3ArgsOf<'READLINK'>): Promise<Res<'READLINK'>> {
    this.count('READLINK');
    try {
      const n = this.core.nodeOf(a.symlink);
      if (n.type !== Ftype3.LNK) throw new StatusError(Nfs3Status.INVAL, 'not a symlink');
      const data = n.shadow ? (await this.core.shadow.ok('READLINK', { symlink: n.shadow })).data : await this.core.mainLink(n);
      return { status: Nfs3Status.OK, symlinkAttributes: await this.core.attrsOpt(n), data };
    } catch (e) {
      return { status: this.failure('READLINK', e) };
    }
  }

  async READ(a: Nfs3ArgsOf<'READ'>, ctx?: RpcCallContext): Promise<Res<'READ'>> {
    this.count('READ');
    try {
      const n = this.core.nodeOf(a.file);
      const count = Math.min(a.count, this.limits.maxIoBytes);
      const fault = rangeFault('READ', a.offset, count);
      if (fault !== undefined) throw new StatusError(fault, 'range past the largest file');
      // A large cached range goes to the client by sendfile when the connection can send file
      // ranges (small ones are cheaper read inline than sent through a pool thread).
      const asFile = count >= FILE_REPLY_MIN_BYTES && ctx?.sendsFiles === true && ctx.afterReply !== undefined;
      const r = await this.io.read(n, Number(a.offset), count, asFile);
      if (r.file) {
        this.core.counters.bytesToClient += r.file.length;
        ctx!.afterReply!(r.release);
        return { status: Nfs3Status.OK, fileAttributes: r.attrs, count: r.file.length, eof: r.eof, data: r.data, dataFile: r.file };
      }
      this.core.counters.bytesToClient += r.data.length;
      let data = r.data;
      if (ctx?.afterReply) {
        // The reply references the data (no copy): it is released once the kernel has taken it.
        ctx.afterReply(r.release);
      } else {
        data = Buffer.from(data); // no transport to tell us when the reply is gone: keep a copy
        r.release();
      }
      return { status: Nfs3Status.OK, fileAttributes: r.attrs, count: data.length, eof: r.eof, data };
    } catch (e) {
      return { status: this.failure('READ', e) };
    }
  }

  async WRITE(a: Nfs3ArgsOf<'WRITE'>, ctx: RpcCallContext): Promise<Res<'WRITE'>> {
    this.count('WRITE');
    try {
      const n = this.core.nodeOf(a.file);
      const data = a.data.length > a.count ? a.data.subarray(0, a.count) : a.data;
      const fault = rangeFault('WRITE', a.offset, data.length);
      if (fault !== undefined) throw new StatusError(fault, 'range past the largest file');
      const r = await this.io.write(n, Number(a.offset), data, a.stable, this.cred(ctx));
      return { status: Nfs3Status.OK, fileWcc: virtualWcc(r.wcc, n.vid), count: data.length, committed: r.committed, verf: r.verf };
    } catch (e) {
      return { status: this.failure('WRITE', e), fileWcc: {} };
    }
  }

  /**
   * A shadow create of any kind in the merged directory `dirFh`, recorded as a new opaque object.
   * `create`: a CREATE's arguments, for a name that exists already (createOverExisting).
   */
  private createIn(dirFh: FileHandle, name: string, type: Ftype3, make: ShadowMake, cred: OpaqueAuth | undefined, create?: Nfs3ArgsOf<'CREATE'>): Promise<Res<'CREATE'>> {
    // A bound method under the lock, not an async closure per call (see the class).
    return this.core.ns.run(this.createHeld.bind(this, dirFh, name, type, make, cred, create));
  }

  private async createHeld(dirFh: FileHandle, name: string, type: Ftype3, make: ShadowMake, cred: OpaqueAuth | undefined, create: Nfs3ArgsOf<'CREATE'> | undefined, hold: LockHold): Promise<Res<'CREATE'>> {
    const core = this.core;
    let dir = core.nodeOf(dirFh);
    if (dir.type !== Ftype3.DIR) throw new StatusError(Nfs3Status.NOTDIR, 'not a directory');
    core.checkName(dir, name);
    // Not asked of the shadow: a name there that the proxy has not seen is refused (GUARDED,
    // MKDIR, ...) or reused (UNCHECKED, EXCLUSIVE with the same verifier) by the shadow's create.
    const existing = await core.resolve(dir, name, false, hold);
    if (existing) {
      const r = create ? await this.createOverExisting(create, cred, existing, hold) : undefined;
      if (r) return r;
      return { status: Nfs3Status.EXIST, dirWcc: await this.wccOf(dir) };
    }
    dir = await core.ensureShadow(dir, hold);
    const res = await shadowChange(core, [dir.vid], shadowMake(core, make, dir.shadow!, name, cred));
    if (res.status !== Nfs3Status.OK) return { status: res.status, dirWcc: virtualWcc(res.dirWcc, dir.vid) };
    const n = await afterShadowChange(core, [dir.vid], this.recordCreated(dir, name, type, res.obj));
    if (type === Ftype3.DIR) core.shadowDirs.made(n.vid);
    core.onDirChanged(dir.vid);
    return {
      status: Nfs3Status.OK,
      obj: core.handleOf(n.vid),
      objAttributes: virtualOptAttrs(res.objAttributes, n.vid) ?? (await core.attrsOpt(n)),
      dirWcc: virtualWcc(res.dirWcc, dir.vid),
    };
  }

  /** Records the object the shadow just made as `name` in `dir` (its handle `obj` when it answered one). */
  private async recordCreated(dir: NodeRecord, name: string, type: Ftype3, obj: FileHandle | undefined): Promise<NodeRecord> {
    const core = this.core;
    const fh = obj ?? (await core.shadow.ok('LOOKUP', { what: { dir: dir.shadow!, name } })).object;
    await core.store.reserveVids(1);
    const made: NodeRecord = nodeRecord({ vid: core.store.allocVid(), type, parent: dir.vid, name, main: null, shadow: fh, mainBlocks: 0 });
    const tx = core.store.begin();
    tx.putNode(made);
    tx.setName(dir.vid, name, made.vid);
    tx.clearWhiteout(dir.vid, name);
    await core.store.commitTx(tx, 'soon');
    return made;
  }

  /** A CREATE of a name that exists: its answer, or undefined for EXIST. */
  private async createOverExisting(a: Nfs3ArgsOf<'CREATE'>, cred: OpaqueAuth | undefined, existing: NodeRecord, hold: LockHold): Promise<Res<'CREATE'> | undefined> {
    if (a.how.mode === CreateMode.GUARDED) return undefined;
    if (existing.type !== Ftype3.REG) return undefined;
    const dir = this.core.nodeOf(a.where.dir);
    if (a.how.mode === CreateMode.EXCLUSIVE) {
      // A retransmitted exclusive create finds its own file in the shadow: let it decide.
      if (!existing.shadow) return undefined;
      const res = await this.core.shadow.call('CREATE', { where: { dir: dir.shadow!, name: a.where.name }, how: a.how }, cred);
      if (res.status !== Nfs3Status.OK) return { status: res.status, dirWcc: virtualWcc(res.dirWcc, dir.vid) };
      return { status: Nfs3Status.OK, obj: this.core.handleOf(existing.vid), objAttributes: await this.core.attrsOpt(existing), dirWcc: virtualWcc(res.dirWcc, dir.vid) };
    }
    // UNCHECKED on an existing file: apply the attributes (often size 0) to it.
    let n = existing;
    if (a.how.attributes.size !== undefined && a.how.attributes.size > BigInt(MAX_FILE_BYTES)) throw new StatusError(Nfs3Status.FBIG, 'size past the largest file');
    if (a.how.attributes.size !== undefined) n = await this.io.truncate(n, Number(a.how.attributes.size), hold);
    else n = await this.core.ensureShadow(n, hold);
    await this.core.shadow.ok('SETATTR', { object: n.shadow!, newAttributes: a.how.attributes }, cred);
    return { status: Nfs3Status.OK, obj: this.core.handleOf(n.vid), objAttributes: await this.core.attrsOpt(n), dirWcc: await this.wccOf(dir) };
  }

  async CREATE(a: Nfs3ArgsOf<'CREATE'>, ctx: RpcCallContext): Promise<Res<'CREATE'>> {
    this.count('CREATE');
    try {
      return await this.createIn(a.where.dir, a.where.name, Ftype3.REG, { proc: 'CREATE', how: a.how }, this.cred(ctx), a);
    } catch (e) {
      return { status: this.failure('CREATE', e), dirWcc: {} };
    }
  }

  async MKDIR(a: Nfs3ArgsOf<'MKDIR'>, ctx: RpcCallContext): Promise<Res<'MKDIR'>> {
    this.count('MKDIR');
    try {
      return await this.createIn(a.where.dir, a.where.name, Ftype3.DIR, { proc: 'MKDIR', attributes: a.attributes }, this.cred(ctx));
    } catch (e) {
      return { status: this.failure('MKDIR', e), dirWcc: {} };
    }
  }

  async SYMLINK(a: Nfs3ArgsOf<'SYMLINK'>, ctx: RpcCallContext): Promise<Res<'SYMLINK'>> {
    this.count('SYMLINK');
    try {
      return await this.createIn(a.where.dir, a.where.name, Ftype3.LNK, { proc: 'SYMLINK', symlinkAttributes: a.symlinkAttributes, symlinkData: a.symlinkData }, this.cred(ctx));
    } catch (e) {
      return { status: this.failure('SYMLINK', e), dirWcc: {} };
    }
  }

  async MKNOD(a: Nfs3ArgsOf<'MKNOD'>, ctx: RpcCallContext): Promise<Res<'MKNOD'>> {
    this.count('MKNOD');
    try {
      const t = a.what.type;
      if (t === Ftype3.REG || t === Ftype3.DIR || t === Ftype3.LNK) throw new StatusError(Nfs3Status.BADTYPE, 'MKNOD of a non-special type');
      return await this.createIn(a.where.dir, a.where.name, t, { proc: 'MKNOD', what: a.what }, this.cred(ctx));
    } catch (e) {
      return { status: this.failure('MKNOD', e), dirWcc: {} };
    }
  }

  /** Removes `name` from the merged directory; whiteouts hide a main entry of that name. */
  private unlink(dirFh: FileHandle, name: string, wantDir: boolean, cred: OpaqueAuth | undefined): Promise<WccData> {
    return this.core.ns.run(this.unlinkHeld.bind(this, dirFh, name, wantDir, cred));
  }

  private async unlinkHeld(dirFh: FileHandle, name: string, wantDir: boolean, cred: OpaqueAuth | undefined, hold: LockHold): Promise<WccData> {
    const core = this.core;
    let dir = core.nodeOf(dirFh);
    if (isDotName(name)) throw new StatusError(wantDir ? Nfs3Status.INVAL : Nfs3Status.ISDIR, 'cannot remove . or ..');
    const n = await core.resolveExisting(dir, name, hold);
    if (wantDir && n.type !== Ftype3.DIR) throw new StatusError(Nfs3Status.NOTDIR, 'not a directory');
    if (!wantDir && n.type === Ftype3.DIR) throw new StatusError(Nfs3Status.ISDIR, 'is a directory');
    if (wantDir && !(await this.listings.isEmpty(n, hold))) throw new StatusError(Nfs3Status.NOTEMPTY, 'directory not empty');
    let wcc: WccData = {};
    // Straight to the shadow's remove (NOENT: the name is only in main), no LOOKUP first.
    if (dir.shadow) {
      const res = await forgettingOnLostAnswer(core, [[dir.vid, name]], core.shadow.call(wantDir ? 'RMDIR' : 'REMOVE', { object: { dir: dir.shadow, name } }, cred));
      if (res.status !== Nfs3Status.OK && res.status !== Nfs3Status.NOENT) throw new StatusError(res.status, 'shadow remove');
      wcc = virtualWcc(res.dirWcc, dir.vid);
    }
    const whiteout = await core.inMain(dir, name);
    const tx = core.store.begin();
    tx.removeName(dir.vid, name);
    if (whiteout) tx.setWhiteout(dir.vid, name);
    await core.store.commitTx(tx, 'soon');
    core.onDirChanged(dir.vid);
    if (!wcc.after) {
      dir = core.node(dir.vid);
      wcc = await this.wccOf(dir);
    }
    return wcc;
  }

  REMOVE(a: Nfs3ArgsOf<'REMOVE'>, ctx: RpcCallContext): Promise<Res<'REMOVE'>> {
    return this.removeName('REMOVE', a, ctx);
  }

  RMDIR(a: Nfs3ArgsOf<'RMDIR'>, ctx: RpcCallContext): Promise<Res<'RMDIR'>> {
    return this.removeName('RMDIR', a, ctx);
  }

  /** REMOVE and RMDIR (same arguments and result). */
  private async removeName(proc: 'REMOVE' | 'RMDIR', a: Nfs3ArgsOf<'REMOVE'>, ctx: RpcCallContext): Promise<Res<'REMOVE'>> {
    this.count(proc);
    try {
      return { status: Nfs3Status.OK, dirWcc: await this.unlink(a.object.dir, a.object.name, proc === 'RMDIR', this.cred(ctx)) };
    } catch (e) {
      return { status: this.failure(proc, e), dirWcc: {} };
    }
  }

  async RENAME(a: Nfs3ArgsOf<'RENAME'>, ctx: RpcCallContext): Promise<Res<'RENAME'>> {
    this.count('RENAME');
    try {
      return await this.core.ns.run(this.renameHeld.bind(this, a, this.cred(ctx)));
    } catch (e) {
      return { status: this.failure('RENAME', e), fromdirWcc: {}, todirWcc: {} };
    }
  }

  private async renameHeld(a: Nfs3ArgsOf<'RENAME'>, cred: OpaqueAuth | undefined, hold: LockHold): Promise<Res<'RENAME'>> {
    const core = this.core;
    let from = core.nodeOf(a.from.dir);
    let to = core.nodeOf(a.to.dir);
    if (to.type !== Ftype3.DIR || from.type !== Ftype3.DIR) throw new StatusError(Nfs3Status.NOTDIR, 'not a directory');
    if (isDotName(a.from.name) || isDotName(a.to.name)) throw new StatusError(Nfs3Status.INVAL, 'cannot rename . or ..');
    core.checkName(to, a.to.name);
    const src = await core.resolveExisting(from, a.from.name, hold);
    const dst = await core.resolve(to, a.to.name, true, hold);
    if (dst && dst.vid === src.vid) {
      // Same object (same name, or two hard links): POSIX rename does nothing.
      return { status: Nfs3Status.OK, fromdirWcc: await this.wccOf(from), todirWcc: await this.wccOf(to) };
    }
    // A directory cannot move below itself (POSIX rename EINVAL, checked before the target).
    if (src.type === Ftype3.DIR && (await this.isAncestor(src.vid, to))) throw new StatusError(Nfs3Status.INVAL, 'rename into itself');
    if (dst) {
      if (src.type === Ftype3.DIR && dst.type !== Ftype3.DIR) throw new StatusError(Nfs3Status.NOTDIR, 'target is not a directory');
      if (src.type !== Ftype3.DIR && dst.type === Ftype3.DIR) throw new StatusError(Nfs3Status.ISDIR, 'target is a directory');
      if (dst.type === Ftype3.DIR && !(await this.listings.isEmpty(dst, hold))) throw new StatusError(Nfs3Status.NOTEMPTY, 'target not empty');
    }
    // Both sides into the shadow (metadata only), then one shadow RENAME.
    const moved = await core.ensureShadow(src, hold);
    from = await core.ensureShadow(core.node(from.vid), hold);
    to = await core.ensureShadow(core.node(to.vid), hold);
    // A target that exists only in main needs nothing in the shadow: the shadow entry created
    // by the rename hides it. A target in the shadow is replaced by the shadow RENAME.
    const srcShadowName = a.from.name;
    const res = await shadowChange(
      core,
      [from.vid, to.vid],
      forgettingOnLostAnswer(
        core,
        [[from.vid, a.from.name], [to.vid, a.to.name]],
        core.shadow.call('RENAME', { from: { dir: from.shadow!, name: srcShadowName }, to: { dir: to.shadow!, name: a.to.name } }, cred),
      ),
    );
    if (res.status !== Nfs3Status.OK) {
      return { status: res.status, fromdirWcc: virtualWcc(res.fromdirWcc, from.vid), todirWcc: virtualWcc(res.todirWcc, to.vid) };
    }
    await afterShadowChange(core, [from.vid, to.vid], this.recordRenamed(a, from, to, moved.vid));
    core.onDirChanged(from.vid);
    core.onDirChanged(to.vid);
    return { status: Nfs3Status.OK, fromdirWcc: virtualWcc(res.fromdirWcc, from.vid), todirWcc: virtualWcc(res.todirWcc, to.vid) };
  }

  /** Records the shadow's rename of `a.from` (object `movedVid`) to `a.to`; a name main has too leaves a whiteout. */
  private async recordRenamed(a: Nfs3ArgsOf<'RENAME'>, from: NodeRecord, to: NodeRecord, movedVid: number): Promise<void> {
    const core = this.core;
    const whiteout = await core.inMain(from, a.from.name);
    const tx = core.store.begin();
    tx.removeName(from.vid, a.from.name);
    if (whiteout) tx.setWhiteout(from.vid, a.from.name);
    tx.setName(to.vid, a.to.name, movedVid);
    tx.clearWhiteout(to.vid, a.to.name);
    tx.putNode(nodeRecord({ ...core.node(movedVid), parent: to.vid, name: a.to.name }));
    await core.store.commitTx(tx, 'soon');
  }

  /** True when directory `vid` is `dir` or one of its ancestors. */
  private async isAncestor(vid: number, dir: NodeRecord): Promise<boolean> {
    let cur = dir;
    for (let depth = 0; depth < 4096; depth++) {
      if (cur.vid === vid) return true;
      if (cur.parent === cur.vid) return false;
      cur = this.core.node(cur.parent);
    }
    return false;
  }

  async LINK(a: Nfs3ArgsOf<'LINK'>, ctx: RpcCallContext): Promise<Res<'LINK'>> {
    this.count('LINK');
    try {
      return await this.core.ns.run(this.linkHeld.bind(this, a, this.cred(ctx)));
    } catch (e) {
      return { status: this.failure('LINK', e), linkdirWcc: {} };
    }
  }

  private async linkHeld(a: Nfs3ArgsOf<'LINK'>, cred: OpaqueAuth | undefined, hold: LockHold): Promise<Res<'LINK'>> {
    const core = this.core;
    let file = core.nodeOf(a.file);
    let dir = core.nodeOf(a.link.dir);
    if (dir.type !== Ftype3.DIR) throw new StatusError(Nfs3Status.NOTDIR, 'not a directory');
    if (file.type === Ftype3.DIR) throw new StatusError(Nfs3Status.ISDIR, 'hard link to a directory');
    core.checkName(dir, a.link.name);
    if (await core.resolve(dir, a.link.name, true, hold)) throw new StatusError(Nfs3Status.EXIST, 'link name exists');
    file = await core.ensureShadow(file, hold);
    dir = await core.ensureShadow(core.node(dir.vid), hold);
    const res = await shadowChange(core, [dir.vid], core.shadow.call('LINK', { file: file.shadow!, link: { dir: dir.shadow!, name: a.link.name } }, cred));
    if (res.status !== Nfs3Status.OK) {
      return { status: res.status, fileAttributes: virtualOptAttrs(res.fileAttributes, file.vid), linkdirWcc: virtualWcc(res.linkdirWcc, dir.vid) };
    }
    const tx = core.store.begin();
    tx.setName(dir.vid, a.link.name, file.vid);
    tx.clearWhiteout(dir.vid, a.link.name);
    await afterShadowChange(core, [dir.vid], core.store.commitTx(tx, 'soon'));
    core.onDirChanged(dir.vid);
    return { status: Nfs3Status.OK, fileAttributes: virtualOptAttrs(res.fileAttributes, file.vid), linkdirWcc: virtualWcc(res.linkdirWcc, dir.vid) };
  }

  async READDIR(a: Nfs3ArgsOf<'READDIR'>): Promise<Res<'READDIR'>> {
    this.count('READDIR');
    try {
      const { dir, listing, start } = await this.openListing(a.dir, a.cookie, a.cookieverf);
      let budget = a.count - READDIR_FIXED_BYTES;
      const end = pageEnd(listing.entries, start, (e) => {
        const size = entryBytes(e.name);
        if (size > budget) return false;
        budget -= size;
        return true;
      });
      if (end === start && start < listing.entries.length) throw new StatusError(Nfs3Status.TOOSMALL, 'count too small');
      const entries = listing.entries.slice(start, end).map((e) => ({ fileid: BigInt(e.vid), name: e.name, cookie: BigInt(e.cookie) }));
      return { status: Nfs3Status.OK, dirAttributes: await this.core.attrsOpt(dir), cookieverf: DIR_COOKIE_VERF, entries, eof: end >= listing.entries.length };
    } catch (e) {
      return { status: this.failure('READDIR', e) };
    }
  }

  async READDIRPLUS(a: Nfs3ArgsOf<'READDIRPLUS'>): Promise<Res<'READDIRPLUS'>> {
    this.count('READDIRPLUS');
    try {
      const { dir, listing, start } = await this.openListing(a.dir, a.cookie, a.cookieverf);
      let budget = a.maxcount - READDIR_FIXED_BYTES;
      let dirBudget = a.dircount;
      let taken = 0;
      const end = pageEnd(listing.entries, start, (e) => {
        const nameSize = entryBytes(e.name);
        const size = nameSize + ENTRYPLUS_EXTRA_BYTES;
        // dircount bounds the names only; the first entry goes even past it (RFC 1813 s3.3.17).
        if (size > budget || (nameSize > dirBudget && taken > 0)) return false;
        budget -= size;
        dirBudget -= nameSize;
        taken++;
        return true;
      });
      if (end === start && start < listing.entries.length) throw new StatusError(Nfs3Status.TOOSMALL, 'maxcount too small');
      const entries = [];
      for (const e of listing.entries.slice(start, end)) {
        let attrs: Fattr3 | undefined = e.fromMain ? this.core.rememberedMainAttrs(e.vid) : e.attrs;
        if (e.name === '.' || e.name === '..') attrs = await this.core.attrsOpt(this.core.node(e.vid));
        else if (e.fromMain && !attrs) {
          // Its kept attributes have been pushed out since the listing was built: main is asked.
          const n = this.core.store.getNode(e.vid);
          attrs = n ? await this.core.attrsOpt(n) : undefined;
        }
        entries.push({ fileid: BigInt(e.vid), name: e.name, cookie: BigInt(e.cookie), nameAttributes: attrs, nameHandle: this.core.handleOf(e.vid) });
      }
      return { status: Nfs3Status.OK, dirAttributes: await this.core.attrsOpt(dir), cookieverf: DIR_COOKIE_VERF, entries, eof: end >= listing.entries.length };
    } catch (e) {
      return { status: this.failure('READDIRPLUS', e) };
    }
  }

  /** READDIR and READDIRPLUS alike: the directory, its listing and where the page starts in it. */
  private async openListing(dirFh: FileHandle, cookie: bigint, verf: Uint8Array): Promise<{ dir: NodeRecord; listing: Listing; start: number }> {
    const dir = this.core.nodeOf(dirFh);
    if (dir.type !== Ftype3.DIR) throw new StatusError(Nfs3Status.NOTDIR, 'not a directory');
    const after = resumeCookie(cookie, verf);
    if (after === undefined) throw new StatusError(Nfs3Status.BAD_COOKIE, 'cookie or verifier not ours');
    const listing = await this.listings.get(dir, cookie === 0n);
    return { dir, listing, start: firstAfter(listing.entries, after) };
  }

  async FSSTAT(a: Nfs3ArgsOf<'FSSTAT'>): Promise<Res<'FSSTAT'>> {
    this.count('FSSTAT');
    try {
      const n = this.core.nodeOf(a.fsroot);
      // Free space is the shadow's: that is where writes go.
      const res = await this.core.shadow.ok('FSSTAT', { fsroot: this.core.shadow.root });
      return { ...res, objAttributes: await this.core.attrsOpt(n) };
    } catch (e) {
      return { status: this.failure('FSSTAT', e) };
    }
  }

  async FSINFO(a: Nfs3ArgsOf<'FSINFO'>): Promise<Res<'FSINFO'>> {
    this.count('FSINFO');
    try {
      return fsinfoOk(await this.core.attrsOpt(this.core.nodeOf(a.fsroot)), this.limits.maxIoBytes, this.limits.dirPrefBytes);
    } catch (e) {
      return { status: this.failure('FSINFO', e) };
    }
  }

  async PATHCONF(a: Nfs3ArgsOf<'PATHCONF'>): Promise<Res<'PATHCONF'>> {
    this.count('PATHCONF');
    try {
      const n = this.core.nodeOf(a.object);
      const res = await this.core.shadow.ok('PATHCONF', { object: this.core.shadow.root });
      return { ...res, objAttributes: await this.core.attrsOpt(n) };
    } catch (e) {
      return { status: this.failure('PATHCONF', e) };
    }
  }

  async COMMIT(a: Nfs3ArgsOf<'COMMIT'>): Promise<Res<'COMMIT'>> {
    this.count('COMMIT');
    try {
      const n = this.core.nodeOf(a.file);
      const fault = rangeFault('COMMIT', a.offset, a.count);
      if (fault !== undefined) throw new StatusError(fault, 'range past the largest file');
      const r = await this.io.commit(n, a.offset, a.count);
      return { status: Nfs3Status.OK, fileWcc: virtualWcc(r.wcc, n.vid), verf: r.verf };
    } catch (e) {
      return { status: this.failure('COMMIT', e), fileWcc: {} };
    }
  }
}

/** What a shadow create sends besides where: its procedure and the rest of its arguments. */
type ShadowMake =
  | { proc: 'CREATE'; how: Nfs3ArgsOf<'CREATE'>['how'] }
  | { proc: 'MKDIR'; attributes: Nfs3ArgsOf<'MKDIR'>['attributes'] }
  | { proc: 'SYMLINK'; symlinkAttributes: Nfs3ArgsOf<'SYMLINK'>['symlinkAttributes']; symlinkData: string }
  | { proc: 'MKNOD'; what: Nfs3ArgsOf<'MKNOD'>['what'] };

/** The shadow call of `make` for `name` in shadow directory `dir` (data, not a closure per call: see ProxyHandlers). */
function shadowMake(core: ProxyCore, make: ShadowMake, dir: FileHandle, name: string, cred: OpaqueAuth | undefined): Promise<Res<'CREATE'>> {
  const where = { dir, name };
  switch (make.proc) {
    case 'CREATE':
      return core.shadow.call('CREATE', { where, how: make.how }, cred);
    case 'MKDIR':
      return core.shadow.call('MKDIR', { where, attributes: make.attributes }, cred);
    case 'SYMLINK':
      return core.shadow.call('SYMLINK', { where, symlinkAttributes: make.symlinkAttributes, symlinkData: make.symlinkData }, cred);
    case 'MKNOD':
      return core.shadow.call('MKNOD', { where, what: make.what }, cred);
  }
}
