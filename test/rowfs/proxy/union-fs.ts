// A small POSIX-flavoured layer over an NFSv3 export for porting overlayfs's unionmount-testsuite
// scenarios: path operations (open with O_CREAT/O_EXCL/O_TRUNC/O_APPEND, read, write, rename,
// unlink, rmdir, mkdir, link, symlink, readlink, readdir) returning values or an errno name, so
// a scenario reads like the original: `await fs.rename(d, d2)` / `await fs.expect('ENOENT', ...)`.
import type { OpenedExport } from '../../../rowfs/mount/open-export.js';
import { CreateMode, Ftype3, Nfs3Status, StableHow, type FileHandle } from '../../../rowfs/nfs3/types.js';

const ERRNO: Partial<Record<Nfs3Status, string>> = {
  [Nfs3Status.NOENT]: 'ENOENT',
  [Nfs3Status.EXIST]: 'EEXIST',
  [Nfs3Status.NOTDIR]: 'ENOTDIR',
  [Nfs3Status.ISDIR]: 'EISDIR',
  [Nfs3Status.INVAL]: 'EINVAL',
  [Nfs3Status.NOTEMPTY]: 'ENOTEMPTY',
  [Nfs3Status.ACCES]: 'EACCES',
  [Nfs3Status.PERM]: 'EPERM',
  [Nfs3Status.XDEV]: 'EXDEV',
  [Nfs3Status.NAMETOOLONG]: 'ENAMETOOLONG',
};

export class Errno extends Error {
  override name = 'Errno';
  constructor(readonly code: string) {
    super(code);
  }
}

function check<R extends { status: Nfs3Status }>(res: R): Extract<R, { status: Nfs3Status.OK }> {
  if (res.status !== Nfs3Status.OK) throw new Errno(ERRNO[res.status] ?? `NFS3ERR_${Nfs3Status[res.status]}`);
  return res as Extract<R, { status: Nfs3Status.OK }>;
}

const MAX_SYMLINK_HOPS = 8;

export interface OpenFlags {
  create?: boolean;
  excl?: boolean;
  trunc?: boolean;
}

export class UnionFs {
  constructor(readonly ex: OpenedExport) {}

  /** Runs `fn`; resolves with the errno name it failed with, or 'OK'. */
  async outcome(fn: () => Promise<unknown>): Promise<string> {
    try {
      await fn();
      return 'OK';
    } catch (e) {
      if (e instanceof Errno) return e.code;
      throw e;
    }
  }

  private split(path: string): { parent: string[]; name: string } {
    const parts = path.split('/').filter(Boolean);
    return { parent: parts.slice(0, -1), name: parts[parts.length - 1] ?? '.' };
  }

  private async lookupIn(dir: FileHandle, name: string): Promise<FileHandle | undefined> {
    const res = await this.ex.nfs.lookup({ what: { dir, name } });
    if (res.status === Nfs3Status.NOENT) return undefined;
    return check(res).object;
  }

  private async type(fh: FileHandle): Promise<Ftype3> {
    return check(await this.ex.nfs.getattr({ object: fh })).objAttributes.type;
  }

  /** Handle of a directory path (symlinks in it followed). */
  async dir(parts: string[], hops = 0): Promise<FileHandle> {
    let fh = this.ex.root;
    const stack = [...parts];
    while (stack.length > 0) {
      const name = stack.shift()!;
      const next = await this.lookupIn(fh, name);
      if (!next) throw new Errno('ENOENT');
      const t = await this.type(next);
      if (t === Ftype3.LNK) {
        if (++hops > MAX_SYMLINK_HOPS) throw new Errno('ELOOP');
        const target = check(await this.ex.nfs.readlink({ symlink: next })).data;
        if (target.startsWith('/')) throw new Errno('EXDEV');
        stack.unshift(...target.split('/').filter(Boolean));
        continue;
      }
      if (t !== Ftype3.DIR) throw new Errno('ENOTDIR');
      fh = next;
    }
    return fh;
  }

  /** Entry of `path` without following a final symlink. */
  async lstat(path: string): Promise<{ fh: FileHandle; type: Ftype3 } | undefined> {
    const { parent, name } = this.split(path);
    const d = await this.dir(parent);
    const fh = await this.lookupIn(d, name);
    return fh ? { fh, type: await this.type(fh) } : undefined;
  }

  /** open(2): follows symlinks (also dangling ones, creating their target with O_CREAT). */
  async open(path: string, flags: OpenFlags = {}, hops = 0): Promise<FileHandle> {
    const { parent, name } = this.split(path);
    const d = await this.dir(parent);
    const fh = await this.lookupIn(d, name);
    if (fh) {
      if (flags.create && flags.excl) throw new Errno('EEXIST');
      const t = await this.type(fh);
      if (t === Ftype3.LNK) {
        if (++hops > MAX_SYMLINK_HOPS) throw new Errno('ELOOP');
        const target = check(await this.ex.nfs.readlink({ symlink: fh })).data;
        return this.open([...parent, target].join('/'), flags, hops);
      }
      if (t === Ftype3.DIR && (flags.create || flags.trunc)) throw new Errno('EISDIR');
      if (flags.trunc) check(await this.ex.nfs.setattr({ object: fh, newAttributes: { size: 0n } }));
      return fh;
    }
    if (!flags.create) throw new Errno('ENOENT');
    const how = flags.excl ? { mode: CreateMode.EXCLUSIVE as const, verf: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) } : { mode: CreateMode.UNCHECKED as const, attributes: { mode: 0o644 } };
    const res = check(await this.ex.nfs.create({ where: { dir: d, name }, how }));
    const created = res.obj ?? (await this.lookupIn(d, name))!;
    if (flags.excl) check(await this.ex.nfs.setattr({ object: created, newAttributes: { mode: 0o644 } }));
    return created;
  }

  async read(path: string): Promise<string> {
    const fh = await this.open(path);
    const chunks: Buffer[] = [];
    let off = 0n;
    for (let i = 0; i < 10_000; i++) {
      const r = check(await this.ex.nfs.read({ file: fh, offset: off, count: 65536 }));
      chunks.push(Buffer.from(r.data));
      off += BigInt(r.data.length);
      if (r.eof || r.data.length === 0) break;
    }
    return Buffer.concat(chunks).toString();
  }

  /** write(2) at offset 0, or at the end with append. */
  async write(path: string, data: string, flags: OpenFlags & { append?: boolean } = {}): Promise<void> {
    const fh = await this.open(path, flags);
    const offset = flags.append ? check(await this.ex.nfs.getattr({ object: fh })).objAttributes.size : 0n;
    const buf = Buffer.from(data);
    check(await this.ex.nfs.write({ file: fh, offset, count: buf.length, stable: StableHow.FILE_SYNC, data: buf }));
  }

  async rename(from: string, to: string): Promise<void> {
    const a = this.split(from);
    const b = this.split(to);
    const [fd, td] = [await this.dir(a.parent), await this.dir(b.parent)];
    check(await this.ex.nfs.rename({ from: { dir: fd, name: a.name }, to: { dir: td, name: b.name } }));
  }

  async unlink(path: string): Promise<void> {
    const { parent, name } = this.split(path);
    check(await this.ex.nfs.remove({ object: { dir: await this.dir(parent), name } }));
  }

  async rmdir(path: string): Promise<void> {
    const { parent, name } = this.split(path);
    check(await this.ex.nfs.rmdir({ object: { dir: await this.dir(parent), name } }));
  }

  async mkdir(path: string): Promise<void> {
    const { parent, name } = this.split(path);
    check(await this.ex.nfs.mkdir({ where: { dir: await this.dir(parent), name }, attributes: { mode: 0o755 } }));
  }

  async link(existing: string, path: string): Promise<void> {
    const src = await this.lstat(existing);
    if (!src) throw new Errno('ENOENT');
    const { parent, name } = this.split(path);
    check(await this.ex.nfs.link({ file: src.fh, link: { dir: await this.dir(parent), name } }));
  }

  async symlink(target: string, path: string): Promise<void> {
    const { parent, name } = this.split(path);
    check(await this.ex.nfs.symlink({ where: { dir: await this.dir(parent), name }, symlinkAttributes: {}, symlinkData: target }));
  }

  async readlink(path: string): Promise<string> {
    const e = await this.lstat(path);
    if (!e) throw new Errno('ENOENT');
    return check(await this.ex.nfs.readlink({ symlink: e.fh })).data;
  }

  /** Names in a directory (all READDIRPLUS pages), without . and .. */
  async readdir(path: string): Promise<string[]> {
    const dir = await this.dir(path.split('/').filter(Boolean));
    const names: string[] = [];
    let cookie = 0n;
    let cookieverf: Uint8Array = new Uint8Array(8);
    for (let i = 0; i < 10_000; i++) {
      const res = check(await this.ex.nfs.readdirplus({ dir, cookie, cookieverf, dircount: 8192, maxcount: 65536 }));
      for (const e of res.entries) if (e.name !== '.' && e.name !== '..') names.push(e.name);
      if (res.eof) break;
      cookie = res.entries[res.entries.length - 1]!.cookie;
      cookieverf = res.cookieverf;
    }
    return names.sort();
  }

  async exists(path: string): Promise<boolean> {
    return (await this.outcome(() => this.lstat(path).then((e) => (e ? undefined : Promise.reject(new Errno('ENOENT')))))) === 'OK';
  }
}
