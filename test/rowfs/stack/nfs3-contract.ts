// The NFSv3 server contract, written once and run against every server we have: nfs-ganesha and
// the embedded server. Each test works in its own directory of the export and checks results
// both through the protocol and on the exported directory itself.
import type { TestFn } from 'ava';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OpenedExport } from '../../../rowfs/mount/open-export.js';
import { MountStatus } from '../../../rowfs/mount/types.js';
import { expectOk } from '../../../rowfs/nfs3/errors.js';
import {
  ACCESS3_LOOKUP,
  ACCESS3_READ,
  CreateMode,
  Ftype3,
  Nfs3Status,
  StableHow,
  TimeHow,
  type FileHandle,
} from '../../../rowfs/nfs3/types.js';

export interface ContractTarget {
  ex: OpenedExport;
  /** The exported directory on the local file system. */
  localDir: string;
  /** Path given to MNT. */
  exportPath: string;
  /** Whether the server can create device nodes / fifos (MKNOD). */
  mknod: boolean;
}

const NO_VERF = new Uint8Array(8);

async function lookupFh(ex: OpenedExport, dir: FileHandle, name: string): Promise<FileHandle> {
  return expectOk(await ex.nfs.lookup({ what: { dir, name } }), `LOOKUP ${name}`).object;
}

/** Creates a fresh directory for one test and returns its handle and local path. */
async function testDir(tgt: ContractTarget, name: string): Promise<{ fh: FileHandle; local: string }> {
  const res = expectOk(await tgt.ex.nfs.mkdir({ where: { dir: tgt.ex.root, name }, attributes: { mode: 0o755 } }), 'MKDIR');
  return { fh: res.obj ?? (await lookupFh(tgt.ex, tgt.ex.root, name)), local: join(tgt.localDir, name) };
}

async function createFile(tgt: ContractTarget, dir: FileHandle, name: string, mode = 0o644): Promise<FileHandle> {
  const res = expectOk(
    await tgt.ex.nfs.create({ where: { dir, name }, how: { mode: CreateMode.UNCHECKED, attributes: { mode } } }),
    `CREATE ${name}`,
  );
  return res.obj ?? (await lookupFh(tgt.ex, dir, name));
}

/** Reads a whole directory with READDIR (or READDIRPLUS), following cookies page by page. */
export async function listAll(ex: OpenedExport, dir: FileHandle, plus: boolean, pageBytes = 4096): Promise<string[]> {
  const names: string[] = [];
  let cookie = 0n;
  let verf: Uint8Array = NO_VERF;
  for (let page = 0; page < 100_000; page++) {
    const res = plus
      ? expectOk(await ex.nfs.readdirplus({ dir, cookie, cookieverf: verf, dircount: pageBytes, maxcount: pageBytes * 4 }), 'READDIRPLUS')
      : expectOk(await ex.nfs.readdir({ dir, cookie, cookieverf: verf, count: pageBytes }), 'READDIR');
    for (const e of res.entries) names.push(e.name);
    verf = res.cookieverf;
    if (res.eof) return names.filter((n) => n !== '.' && n !== '..').sort();
    if (res.entries.length === 0) throw new Error('READDIR returned no entries and no eof');
    cookie = res.entries[res.entries.length - 1]!.cookie;
  }
  throw new Error('READDIR did not finish');
}

export function nfs3Contract(test: TestFn<unknown>, target: () => ContractTarget): void {
  test('NULL, FSINFO, FSSTAT, PATHCONF on the root', async (t) => {
    const { ex } = target();
    await ex.nfs.null();
    const info = expectOk(await ex.nfs.fsinfo({ fsroot: ex.root }), 'FSINFO');
    t.true(info.rtmax >= 4096 && info.wtmax >= 4096 && info.dtpref > 0);
    t.true(info.maxfilesize > 1n << 31n);
    const st = expectOk(await ex.nfs.fsstat({ fsroot: ex.root }), 'FSSTAT');
    t.true(st.tbytes >= st.fbytes && st.fbytes >= st.abytes);
    t.true(st.tbytes > 0n);
    const pc = expectOk(await ex.nfs.pathconf({ object: ex.root }), 'PATHCONF');
    t.true(pc.nameMax >= 255);
    const attrs = expectOk(await ex.nfs.getattr({ object: ex.root }), 'GETATTR').objAttributes;
    t.is(attrs.type, Ftype3.DIR);
  });

  test('MOUNT: EXPORT lists the export, MNT of a missing path fails, DUMP and UMNT answer', async (t) => {
    const tgt = target();
    const exports = await tgt.ex.mount.export();
    t.true(exports.some((e) => e.dir === tgt.exportPath), JSON.stringify(exports));
    const bad = await tgt.ex.mount.mnt('/definitely/not/exported');
    t.not(bad.status, MountStatus.OK);
    await tgt.ex.mount.null();
    t.true(Array.isArray(await tgt.ex.mount.dump()));
    // NFSv3 is stateless: UMNTALL only tidies the server's list; the session keeps working.
    await tgt.ex.mount.umntall();
    await tgt.ex.nfs.getattr({ object: tgt.ex.root });
  });

  test('CREATE, WRITE (unstable + COMMIT, file sync), READ back, GETATTR size', async (t) => {
    const tgt = target();
    const { fh: dir, local } = await testDir(tgt, 'rw');
    const fh = await createFile(tgt, dir, 'data.bin');
    const payload = Buffer.alloc(300_000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + 3) & 0xff;
    const chunk = 65536;
    let verf: Uint8Array | undefined;
    for (let off = 0; off < payload.length; off += chunk) {
      const data = payload.subarray(off, off + chunk);
      const res = expectOk(
        await tgt.ex.nfs.write({ file: fh, offset: BigInt(off), count: data.length, stable: StableHow.UNSTABLE, data }),
        'WRITE',
      );
      t.is(res.count, data.length);
      t.is(res.verf.length, 8);
      verf ??= res.verf;
      t.deepEqual(Buffer.from(res.verf), Buffer.from(verf));
    }
    const commit = expectOk(await tgt.ex.nfs.commit({ file: fh, offset: 0n, count: 0 }), 'COMMIT');
    t.deepEqual(Buffer.from(commit.verf), Buffer.from(verf!));
    const sync = expectOk(
      await tgt.ex.nfs.write({ file: fh, offset: 10n, count: 3, stable: StableHow.FILE_SYNC, data: Buffer.from('abc') }),
      'WRITE sync',
    );
    t.is(sync.committed, StableHow.FILE_SYNC);
    payload.write('abc', 10);
    const attrs = expectOk(await tgt.ex.nfs.getattr({ object: fh }), 'GETATTR').objAttributes;
    t.is(attrs.size, BigInt(payload.length));
    t.is(attrs.type, Ftype3.REG);
    const got: Buffer[] = [];
    let off = 0n;
    for (let i = 0; i < 100; i++) {
      const r = expectOk(await tgt.ex.nfs.read({ file: fh, offset: off, count: 100_000 }), 'READ');
      got.push(Buffer.from(r.data));
      off += BigInt(r.count);
      if (r.eof) break;
    }
    const all = Buffer.concat(got);
    t.is(sha(all), sha(payload));
    t.is(sha(readFileSync(join(local, 'data.bin'))), sha(payload));
    const past = expectOk(await tgt.ex.nfs.read({ file: fh, offset: 10_000_000n, count: 10 }), 'READ past end');
    t.is(past.count, 0);
    t.true(past.eof);
  });

  test('CREATE GUARDED and EXCLUSIVE, errors EXIST / NOENT / NOTDIR / ISDIR', async (t) => {
    const tgt = target();
    const { fh: dir } = await testDir(tgt, 'create');
    await createFile(tgt, dir, 'f');
    const guarded = await tgt.ex.nfs.create({ where: { dir, name: 'f' }, how: { mode: CreateMode.GUARDED, attributes: {} } });
    t.is(guarded.status, Nfs3Status.EXIST);
    const verf = Buffer.from('12345678');
    const ex1 = expectOk(await tgt.ex.nfs.create({ where: { dir, name: 'x' }, how: { mode: CreateMode.EXCLUSIVE, verf } }), 'CREATE excl');
    t.truthy(ex1);
    // A retransmission with the same verifier succeeds; another verifier is EXIST.
    t.is((await tgt.ex.nfs.create({ where: { dir, name: 'x' }, how: { mode: CreateMode.EXCLUSIVE, verf } })).status, Nfs3Status.OK);
    t.is(
      (await tgt.ex.nfs.create({ where: { dir, name: 'x' }, how: { mode: CreateMode.EXCLUSIVE, verf: Buffer.from('87654321') } })).status,
      Nfs3Status.EXIST,
    );
    t.is((await tgt.ex.nfs.lookup({ what: { dir, name: 'missing' } })).status, Nfs3Status.NOENT);
    const f = await lookupFh(tgt.ex, dir, 'f');
    t.is((await tgt.ex.nfs.lookup({ what: { dir: f, name: 'y' } })).status, Nfs3Status.NOTDIR);
    t.is((await tgt.ex.nfs.read({ file: dir, offset: 0n, count: 10 })).status, Nfs3Status.ISDIR);
    t.is((await tgt.ex.nfs.mkdir({ where: { dir, name: 'f' }, attributes: {} })).status, Nfs3Status.EXIST);
    const longName = 'n'.repeat(300);
    t.is(
      (await tgt.ex.nfs.create({ where: { dir, name: longName }, how: { mode: CreateMode.UNCHECKED, attributes: {} } })).status,
      Nfs3Status.NAMETOOLONG,
    );
  });

  test('SETATTR: mode, size (truncate/extend), times, guard mismatch is NOT_SYNC', async (t) => {
    const tgt = target();
    const { fh: dir, local } = await testDir(tgt, 'setattr');
    const fh = await createFile(tgt, dir, 'f');
    await tgt.ex.nfs.write({ file: fh, offset: 0n, count: 10, stable: StableHow.FILE_SYNC, data: Buffer.from('0123456789') });
    const before = expectOk(await tgt.ex.nfs.getattr({ object: fh }), 'GETATTR').objAttributes;
    const res = expectOk(await tgt.ex.nfs.setattr({ object: fh, newAttributes: { mode: 0o600, size: 4n }, guard: before.ctime }), 'SETATTR');
    t.is(res.objWcc.after?.size, 4n);
    t.is((res.objWcc.after!.mode & 0o7777), 0o600);
    t.is(readFileSync(join(local, 'f'), 'utf8'), '0123');
    t.is(lstatSync(join(local, 'f')).mode & 0o7777, 0o600);
    const stale = await tgt.ex.nfs.setattr({ object: fh, newAttributes: { mode: 0o644 }, guard: { seconds: 1, nseconds: 0 } });
    t.is(stale.status, Nfs3Status.NOT_SYNC);
    expectOk(
      await tgt.ex.nfs.setattr({
        object: fh,
        newAttributes: { size: 8192n, mtime: { how: TimeHow.SET_TO_CLIENT_TIME, time: { seconds: 1_000_000_000, nseconds: 0 } } },
      }),
      'SETATTR extend',
    );
    const after = expectOk(await tgt.ex.nfs.getattr({ object: fh }), 'GETATTR').objAttributes;
    t.is(after.size, 8192n);
    t.is(after.mtime.seconds, 1_000_000_000);
    t.is(lstatSync(join(local, 'f')).size, 8192);
  });

  test('SYMLINK + READLINK, LINK (nlink 2), ACCESS', async (t) => {
    const tgt = target();
    const { fh: dir, local } = await testDir(tgt, 'links');
    const fh = await createFile(tgt, dir, 'target');
    const sl = expectOk(
      await tgt.ex.nfs.symlink({ where: { dir, name: 'sl' }, symlinkAttributes: {}, symlinkData: 'target' }),
      'SYMLINK',
    );
    const slFh = sl.obj ?? (await lookupFh(tgt.ex, dir, 'sl'));
    t.is(expectOk(await tgt.ex.nfs.readlink({ symlink: slFh }), 'READLINK').data, 'target');
    t.is(readlinkSync(join(local, 'sl')), 'target');
    const dangling = expectOk(
      await tgt.ex.nfs.symlink({ where: { dir, name: 'dangling' }, symlinkAttributes: {}, symlinkData: '../nowhere/x' }),
      'SYMLINK dangling',
    );
    t.truthy(dangling);
    const slAttrs = expectOk(await tgt.ex.nfs.getattr({ object: slFh }), 'GETATTR').objAttributes;
    t.is(slAttrs.type, Ftype3.LNK);
    t.is((await tgt.ex.nfs.readlink({ symlink: fh })).status, Nfs3Status.INVAL);
    const link = expectOk(await tgt.ex.nfs.link({ file: fh, link: { dir, name: 'hard' } }), 'LINK');
    t.is(link.fileAttributes?.nlink, 2);
    t.is(lstatSync(join(local, 'hard')).ino, lstatSync(join(local, 'target')).ino);
    t.is((await tgt.ex.nfs.link({ file: fh, link: { dir, name: 'hard' } })).status, Nfs3Status.EXIST);
    const acc = expectOk(await tgt.ex.nfs.access({ object: fh, access: ACCESS3_READ | ACCESS3_LOOKUP }), 'ACCESS');
    t.is(acc.access & ACCESS3_READ, ACCESS3_READ);
  });

  test('MKNOD of a FIFO where supported', async (t) => {
    const tgt = target();
    const { fh: dir, local } = await testDir(tgt, 'mknod');
    const res = await tgt.ex.nfs.mknod({ where: { dir, name: 'fifo' }, what: { type: Ftype3.FIFO, attributes: { mode: 0o644 } } });
    if (!tgt.mknod) {
      t.not(res.status, Nfs3Status.OK);
      return;
    }
    expectOk(res, 'MKNOD');
    t.true(lstatSync(join(local, 'fifo')).isFIFO());
    const fh = await lookupFh(tgt.ex, dir, 'fifo');
    t.is(expectOk(await tgt.ex.nfs.getattr({ object: fh }), 'GETATTR').objAttributes.type, Ftype3.FIFO);
    const reg = await tgt.ex.nfs.mknod({ where: { dir, name: 'reg' }, what: { type: Ftype3.REG } });
    t.is(reg.status, Nfs3Status.BADTYPE);
  });

  test('REMOVE, RMDIR (NOTEMPTY first), RENAME of files and populated directories', async (t) => {
    const tgt = target();
    const { fh: dir, local } = await testDir(tgt, 'ns');
    const sub = expectOk(await tgt.ex.nfs.mkdir({ where: { dir, name: 'sub' }, attributes: { mode: 0o755 } }), 'MKDIR');
    const subFh = sub.obj ?? (await lookupFh(tgt.ex, dir, 'sub'));
    await createFile(tgt, subFh, 'inner');
    t.is((await tgt.ex.nfs.rmdir({ object: { dir, name: 'sub' } })).status, Nfs3Status.NOTEMPTY);
    expectOk(await tgt.ex.nfs.rename({ from: { dir, name: 'sub' }, to: { dir, name: 'moved' } }), 'RENAME dir');
    t.true(existsSync(join(local, 'moved', 'inner')));
    t.false(existsSync(join(local, 'sub')));
    // The handle of a renamed directory keeps working.
    t.is(expectOk(await tgt.ex.nfs.getattr({ object: subFh }), 'GETATTR').objAttributes.type, Ftype3.DIR);
    await lookupFh(tgt.ex, subFh, 'inner');
    await createFile(tgt, dir, 'a');
    await createFile(tgt, dir, 'b');
    expectOk(await tgt.ex.nfs.rename({ from: { dir, name: 'a' }, to: { dir, name: 'b' } }), 'RENAME over');
    t.false(existsSync(join(local, 'a')));
    t.is((await tgt.ex.nfs.rename({ from: { dir, name: 'a' }, to: { dir, name: 'c' } })).status, Nfs3Status.NOENT);
    expectOk(await tgt.ex.nfs.remove({ object: { dir: subFh, name: 'inner' } }), 'REMOVE');
    t.is((await tgt.ex.nfs.remove({ object: { dir: subFh, name: 'inner' } })).status, Nfs3Status.NOENT);
    expectOk(await tgt.ex.nfs.rmdir({ object: { dir, name: 'moved' } }), 'RMDIR');
    t.false(existsSync(join(local, 'moved')));
    // The removed directory's handle is now stale.
    const st = await tgt.ex.nfs.getattr({ object: subFh });
    t.is(st.status, Nfs3Status.STALE);
  });

  test('READDIR and READDIRPLUS page through 600 entries with cookies', async (t) => {
    const tgt = target();
    const { fh: dir, local } = await testDir(tgt, 'many');
    const expected: string[] = [];
    for (let i = 0; i < 600; i++) {
      const name = `entry-${String(i).padStart(4, '0')}-${'x'.repeat(i % 40)}`;
      writeFileSync(join(local, name), String(i));
      expected.push(name);
    }
    expected.sort();
    t.deepEqual(await listAll(tgt.ex, dir, false), expected);
    t.deepEqual(await listAll(tgt.ex, dir, true), expected);
    const plus = expectOk(await tgt.ex.nfs.readdirplus({ dir, cookie: 0n, cookieverf: NO_VERF, dircount: 8192, maxcount: 65536 }), 'READDIRPLUS');
    const withAttrs = plus.entries.find((e) => e.name.startsWith('entry-'))!;
    t.is(withAttrs.nameAttributes?.type, Ftype3.REG);
    t.truthy(withAttrs.nameHandle);
    const viaHandle = expectOk(await tgt.ex.nfs.getattr({ object: withAttrs.nameHandle! }), 'GETATTR').objAttributes;
    t.is(viaHandle.fileid, withAttrs.fileid);
  });

  test('files created locally are visible, nested lookups work', async (t) => {
    const tgt = target();
    mkdirSync(join(tgt.localDir, 'pre', 'a', 'b'), { recursive: true });
    writeFileSync(join(tgt.localDir, 'pre', 'a', 'b', 'c.txt'), 'deep');
    const a = await lookupFh(tgt.ex, tgt.ex.root, 'pre');
    const b = await lookupFh(tgt.ex, await lookupFh(tgt.ex, a, 'a'), 'b');
    const c = await lookupFh(tgt.ex, b, 'c.txt');
    const r = expectOk(await tgt.ex.nfs.read({ file: c, offset: 0n, count: 100 }), 'READ');
    t.is(Buffer.from(r.data).toString(), 'deep');
    t.true(r.eof);
  });
}

export function sha(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}
