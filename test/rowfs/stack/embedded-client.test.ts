// Our client against the embedded server on loopback: the same contract nfs-ganesha passes, plus
// what only our server promises (handles surviving a restart, read-only exports, BADHANDLE,
// path traversal refused, UDP).
import anyTest, { type TestFn } from 'ava';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openExport, MountError } from '../../../rowfs/mount/open-export.js';
import { expectOk } from '../../../rowfs/nfs3/errors.js';
import { Nfs3Client } from '../../../rowfs/nfs3/client.js';
import { CreateMode, Nfs3Status, StableHow } from '../../../rowfs/nfs3/types.js';
import { RpcServer } from '../../../rowfs/rpc/server.js';
import { PortmapRegistry } from '../../../rowfs/portmap/registry.js';
import { PortmapClient } from '../../../rowfs/portmap/client.js';
import { startEmbeddedServer, type EmbeddedServer } from '../../../rowfs/server/index.js';
import { nfs3Contract, type ContractTarget } from './nfs3-contract.js';

const test = anyTest as TestFn<unknown>;
let server: EmbeddedServer | undefined;
let dir = '';
let target: ContractTarget | undefined;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'embedded-export-'));
  server = await startEmbeddedServer({ exportDir: dir, exportPath: '/export', host: '127.0.0.1' });
  const ex = await openExport({ host: '127.0.0.1', exportPath: '/export', nfsPort: server.nfsPort, mountPort: server.mountPort });
  target = { ex, localDir: dir, exportPath: '/export', mknod: process.getuid?.() === 0 };
});

test.after.always(async () => {
  await target?.ex.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

nfs3Contract(test, () => target!);

function freshDir(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `emb-${tag}-`));
  return d;
}

test('handles survive a server restart; a removed file is STALE; foreign bytes are BADHANDLE', async (t) => {
  const d = freshDir('restart');
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  mkdirSync(join(d, 'a', 'b'), { recursive: true });
  writeFileSync(join(d, 'a', 'b', 'f.txt'), 'persist');
  writeFileSync(join(d, 'gone.txt'), 'x');
  let s = await startEmbeddedServer({ exportDir: d, host: '127.0.0.1' });
  let ex = await openExport({ host: '127.0.0.1', exportPath: s.exportPath, nfsPort: s.nfsPort, mountPort: s.mountPort });
  const a = expectOk(await ex.nfs.lookup({ what: { dir: ex.root, name: 'a' } }), 'LOOKUP').object;
  const b = expectOk(await ex.nfs.lookup({ what: { dir: a, name: 'b' } }), 'LOOKUP').object;
  const f = expectOk(await ex.nfs.lookup({ what: { dir: b, name: 'f.txt' } }), 'LOOKUP').object;
  const gone = expectOk(await ex.nfs.lookup({ what: { dir: ex.root, name: 'gone.txt' } }), 'LOOKUP').object;
  await ex.close();
  await s.stop();
  rmSync(join(d, 'gone.txt'));
  s = await startEmbeddedServer({ exportDir: d, host: '127.0.0.1' });
  t.teardown(() => s.stop());
  const nfs = Nfs3Client.connect({ host: '127.0.0.1', port: s.nfsPort });
  t.teardown(() => nfs.close());
  // No LOOKUP since the restart: the old handle alone must work.
  const r = expectOk(await nfs.read({ file: f, offset: 0n, count: 100 }), 'READ after restart');
  t.is(Buffer.from(r.data).toString(), 'persist');
  t.is((await nfs.getattr({ object: gone })).status, Nfs3Status.STALE);
  t.is((await nfs.getattr({ object: new Uint8Array(32).fill(7) })).status, Nfs3Status.BADHANDLE);
  t.is((await nfs.getattr({ object: new Uint8Array(5) })).status, Nfs3Status.BADHANDLE);
  ex = await openExport({ host: '127.0.0.1', exportPath: s.exportPath, nfsPort: s.nfsPort, mountPort: s.mountPort });
  t.deepEqual(Buffer.from(ex.root), Buffer.from(s.rootHandle));
  await ex.close();
});

test('no way out of the export: names with "/" or "..", symlinks not followed, MNT outside refused', async (t) => {
  const parent = freshDir('escape');
  t.teardown(() => rmSync(parent, { recursive: true, force: true }));
  const d = join(parent, 'export');
  mkdirSync(d);
  writeFileSync(join(parent, 'secret.txt'), 'secret');
  symlinkSync('../secret.txt', join(d, 'link'));
  symlinkSync('..', join(d, 'up'));
  const s = await startEmbeddedServer({ exportDir: d, exportPath: '/e', host: '127.0.0.1' });
  t.teardown(() => s.stop());
  const ex = await openExport({ host: '127.0.0.1', exportPath: '/e', nfsPort: s.nfsPort, mountPort: s.mountPort });
  t.teardown(() => ex.close());
  // ".." at the root is the root itself.
  const up = expectOk(await ex.nfs.lookup({ what: { dir: ex.root, name: '..' } }), 'LOOKUP ..').object;
  t.deepEqual(Buffer.from(up), Buffer.from(ex.root));
  t.is((await ex.nfs.lookup({ what: { dir: ex.root, name: '../secret.txt' } })).status, Nfs3Status.NOENT);
  t.is(
    (await ex.nfs.create({ where: { dir: ex.root, name: '../evil' }, how: { mode: CreateMode.UNCHECKED, attributes: {} } })).status,
    Nfs3Status.INVAL,
  );
  t.is((await ex.nfs.mkdir({ where: { dir: ex.root, name: '..' }, attributes: {} })).status, Nfs3Status.EXIST);
  // A symlink is returned as a symlink; reading through it is refused.
  const link = expectOk(await ex.nfs.lookup({ what: { dir: ex.root, name: 'link' } }), 'LOOKUP link').object;
  t.is((await ex.nfs.read({ file: link, offset: 0n, count: 10 })).status, Nfs3Status.INVAL);
  t.is((await ex.nfs.write({ file: link, offset: 0n, count: 1, stable: StableHow.FILE_SYNC, data: Buffer.from('x') })).status, Nfs3Status.INVAL);
  const upLink = expectOk(await ex.nfs.lookup({ what: { dir: ex.root, name: 'up' } }), 'LOOKUP up').object;
  t.is((await ex.nfs.lookup({ what: { dir: upLink, name: 'secret.txt' } })).status, Nfs3Status.NOTDIR);
  t.is(readFileSync(join(parent, 'secret.txt'), 'utf8'), 'secret');
  const err = await t.throwsAsync(openExport({ host: '127.0.0.1', exportPath: '/', nfsPort: s.nfsPort, mountPort: s.mountPort }));
  t.true(err instanceof MountError);
  const err2 = await t.throwsAsync(openExport({ host: '127.0.0.1', exportPath: '/e/../x', nfsPort: s.nfsPort, mountPort: s.mountPort }));
  t.true(err2 instanceof MountError);
});

test('read-only export answers ROFS to every modification and still serves reads', async (t) => {
  const d = freshDir('ro');
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  writeFileSync(join(d, 'f'), 'read me');
  mkdirSync(join(d, 'sub'));
  const s = await startEmbeddedServer({ exportDir: d, readOnly: true, host: '127.0.0.1' });
  t.teardown(() => s.stop());
  const ex = await openExport({ host: '127.0.0.1', exportPath: s.exportPath, nfsPort: s.nfsPort, mountPort: s.mountPort });
  t.teardown(() => ex.close());
  const root = ex.root;
  const f = expectOk(await ex.nfs.lookup({ what: { dir: root, name: 'f' } }), 'LOOKUP').object;
  t.is(Buffer.from(expectOk(await ex.nfs.read({ file: f, offset: 0n, count: 100 }), 'READ').data).toString(), 'read me');
  const w = { dir: root, name: 'new' };
  const statuses = [
    (await ex.nfs.write({ file: f, offset: 0n, count: 1, stable: StableHow.FILE_SYNC, data: Buffer.from('x') })).status,
    (await ex.nfs.setattr({ object: f, newAttributes: { size: 0n } })).status,
    (await ex.nfs.create({ where: w, how: { mode: CreateMode.UNCHECKED, attributes: {} } })).status,
    (await ex.nfs.mkdir({ where: w, attributes: {} })).status,
    (await ex.nfs.symlink({ where: w, symlinkAttributes: {}, symlinkData: 'f' })).status,
    (await ex.nfs.remove({ object: { dir: root, name: 'f' } })).status,
    (await ex.nfs.rmdir({ object: { dir: root, name: 'sub' } })).status,
    (await ex.nfs.rename({ from: { dir: root, name: 'f' }, to: { dir: root, name: 'g' } })).status,
    (await ex.nfs.link({ file: f, link: w })).status,
    (await ex.nfs.commit({ file: f, offset: 0n, count: 0 })).status,
  ];
  t.deepEqual(statuses, Array(statuses.length).fill(Nfs3Status.ROFS));
  t.is(readFileSync(join(d, 'f'), 'utf8'), 'read me');
  const acc = expectOk(await ex.nfs.access({ object: f, access: 0x3f }), 'ACCESS');
  t.is(acc.access & 0x1c, 0);
});

test('UDP transport: GETATTR, READ and WRITE', async (t) => {
  const d = freshDir('udp');
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  writeFileSync(join(d, 'f'), Buffer.alloc(50_000, 1));
  const s = await startEmbeddedServer({ exportDir: d, host: '127.0.0.1', udp: true });
  t.teardown(() => s.stop());
  const nfs = Nfs3Client.connect({ host: '127.0.0.1', port: s.nfsPort, transport: 'udp', timeoutMs: 5000 });
  t.teardown(() => nfs.close());
  const f = expectOk(await nfs.lookup({ what: { dir: s.rootHandle, name: 'f' } }), 'LOOKUP').object;
  const info = expectOk(await nfs.fsinfo({ fsroot: s.rootHandle }), 'FSINFO');
  t.true(info.rtmax <= 32 * 1024);
  const r = expectOk(await nfs.read({ file: f, offset: 0n, count: 60_000 }), 'READ');
  t.is(r.count, 32 * 1024);
  expectOk(await nfs.write({ file: f, offset: 0n, count: 3, stable: StableHow.FILE_SYNC, data: Buffer.from('abc') }), 'WRITE');
  t.is(readFileSync(join(d, 'f')).subarray(0, 4).toString('latin1'), 'abc\x01');
});

test('READDIR verifiers: a foreign verifier or a cookie never handed out is BAD_COOKIE, tiny count is TOOSMALL', async (t) => {
  const d = freshDir('cookies');
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  for (let i = 0; i < 20; i++) writeFileSync(join(d, `f${i}`), '');
  const s = await startEmbeddedServer({ exportDir: d, host: '127.0.0.1' });
  t.teardown(() => s.stop());
  const nfs = Nfs3Client.connect({ host: '127.0.0.1', port: s.nfsPort });
  t.teardown(() => nfs.close());
  const root = s.rootHandle;
  const first = expectOk(await nfs.readdir({ dir: root, cookie: 0n, cookieverf: new Uint8Array(8), count: 300 }), 'READDIR');
  t.false(first.eof);
  const cookie = first.entries[first.entries.length - 1]!.cookie;
  // Cookies stay valid after the directory changes: the next page starts past the last one.
  writeFileSync(join(d, 'added-later'), '');
  const next = expectOk(await nfs.readdir({ dir: root, cookie, cookieverf: first.cookieverf, count: 300 }), 'READDIR page 2');
  t.true(next.entries[0]!.cookie > cookie);
  t.false(next.entries.some((e) => first.entries.some((f) => f.name === e.name)));
  t.is((await nfs.readdir({ dir: root, cookie, cookieverf: Buffer.from('notavrf!'), count: 300 })).status, Nfs3Status.BAD_COOKIE);
  t.is((await nfs.readdir({ dir: root, cookie: 0xffff_ffff_ffff_0000n, cookieverf: first.cookieverf, count: 300 })).status, Nfs3Status.BAD_COOKIE);
  t.is((await nfs.readdir({ dir: root, cookie: 0n, cookieverf: new Uint8Array(8), count: 40 })).status, Nfs3Status.TOOSMALL);
});

test('write verifier changes across a restart (clients must resend uncommitted data)', async (t) => {
  const d = freshDir('verf');
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  writeFileSync(join(d, 'f'), '');
  const verfOf = async () => {
    const s = await startEmbeddedServer({ exportDir: d, host: '127.0.0.1' });
    const nfs = Nfs3Client.connect({ host: '127.0.0.1', port: s.nfsPort });
    try {
      const f = expectOk(await nfs.lookup({ what: { dir: s.rootHandle, name: 'f' } }), 'LOOKUP').object;
      const w = expectOk(await nfs.write({ file: f, offset: 0n, count: 1, stable: StableHow.UNSTABLE, data: Buffer.from('x') }), 'WRITE');
      t.is(w.committed, StableHow.UNSTABLE);
      const c = expectOk(await nfs.commit({ file: f, offset: 0n, count: 0 }), 'COMMIT');
      t.deepEqual(Buffer.from(c.verf), Buffer.from(w.verf));
      return Buffer.from(w.verf).toString('hex');
    } finally {
      nfs.close();
      await s.stop();
    }
  };
  t.not(await verfOf(), await verfOf());
});

test('registers with a portmapper; openExport finds the ports by GETPORT', async (t) => {
  const d = freshDir('pmap');
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  writeFileSync(join(d, 'f'), 'found');
  const reg = new PortmapRegistry();
  const pmServer = new RpcServer().addProgram(reg.program());
  const pmPort = await pmServer.listenTcp(0, '127.0.0.1');
  t.teardown(() => pmServer.close());
  const s = await startEmbeddedServer({ exportDir: d, host: '127.0.0.1', portmap: { host: '127.0.0.1', port: pmPort } });
  const ex = await openExport({ host: '127.0.0.1', exportPath: s.exportPath, portmapPort: pmPort });
  t.is(ex.nfsPort, s.nfsPort);
  t.is(ex.mountPort, s.mountPort);
  const f = expectOk(await ex.nfs.lookup({ what: { dir: ex.root, name: 'f' } }), 'LOOKUP').object;
  t.is(Buffer.from(expectOk(await ex.nfs.read({ file: f, offset: 0n, count: 10 }), 'READ').data).toString(), 'found');
  await ex.close();
  await s.stop();
  // Unregistered on stop.
  const pm = PortmapClient.connect({ host: '127.0.0.1', port: pmPort });
  t.teardown(() => pm.close());
  t.deepEqual(await pm.dump(), []);
});

test('handles follow files whose remembered name went away: other hard link, rename behind our back', async (t) => {
  const d = freshDir('links');
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  writeFileSync(join(d, 'a'), 'linked');
  const s = await startEmbeddedServer({ exportDir: d, host: '127.0.0.1' });
  t.teardown(() => s.stop());
  const nfs = Nfs3Client.connect({ host: '127.0.0.1', port: s.nfsPort });
  t.teardown(() => nfs.close());
  const root = s.rootHandle;
  const fh = expectOk(await nfs.lookup({ what: { dir: root, name: 'a' } }), 'LOOKUP').object;
  expectOk(await nfs.link({ file: fh, link: { dir: root, name: 'b' } }), 'LINK');
  // Force a scan now, so the next ones would be throttled for unknown handles.
  t.is((await nfs.getattr({ object: new Uint8Array([...Buffer.from('RWF1'), ...new Uint8Array(28)]) })).status, Nfs3Status.STALE);
  expectOk(await nfs.remove({ object: { dir: root, name: 'a' } }), 'REMOVE a');
  t.is(expectOk(await nfs.getattr({ object: fh }), 'GETATTR via b').objAttributes.nlink, 1);
  const { renameSync } = await import('node:fs');
  renameSync(join(d, 'b'), join(d, 'c'));
  t.is(Buffer.from(expectOk(await nfs.read({ file: fh, offset: 0n, count: 10 }), 'READ via c').data).toString(), 'linked');
  rmSync(join(d, 'c'));
  t.is((await nfs.getattr({ object: fh })).status, Nfs3Status.STALE);
});

test('AUTH_SYS identity: new objects belong to the caller (as root), ACCESS follows mode bits, server time', async (t) => {
  if (process.getuid?.() !== 0) {
    t.log('not root: ownership cannot be given away; checking ACCESS only');
  }
  const d = freshDir('owner');
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  const s = await startEmbeddedServer({ exportDir: d, host: '127.0.0.1' });
  t.teardown(() => s.stop());
  const { encodeAuthSys } = await import('../../../rowfs/rpc/message.js');
  const user = Nfs3Client.connect({ host: '127.0.0.1', port: s.nfsPort, cred: encodeAuthSys({ stamp: 0, machineName: 'u', uid: 1234, gid: 567, gids: [] }) });
  t.teardown(() => user.close());
  const created = expectOk(
    await user.create({ where: { dir: s.rootHandle, name: 'mine' }, how: { mode: CreateMode.UNCHECKED, attributes: { mode: 0o640 } } }),
    'CREATE',
  );
  const attrs = created.objAttributes!;
  if (process.getuid?.() === 0) {
    t.is(attrs.uid, 1234);
    t.is(attrs.gid, 567);
  }
  t.is(attrs.mode, 0o640);
  const fh = created.obj!;
  const ownerAccess = expectOk(await user.access({ object: fh, access: 0x3f }), 'ACCESS').access;
  if (process.getuid?.() === 0) t.is(ownerAccess, 0x01 | 0x04 | 0x08); // READ, MODIFY, EXTEND
  const other = Nfs3Client.connect({ host: '127.0.0.1', port: s.nfsPort, cred: encodeAuthSys({ stamp: 0, machineName: 'o', uid: 999, gid: 999, gids: [] }) });
  t.teardown(() => other.close());
  t.is(expectOk(await other.access({ object: fh, access: 0x3f }), 'ACCESS other').access, 0);
  const before = Date.now() / 1000;
  const { TimeHow } = await import('../../../rowfs/nfs3/types.js');
  expectOk(await user.setattr({ object: fh, newAttributes: { mtime: { how: TimeHow.SET_TO_SERVER_TIME } } }), 'SETATTR server time');
  const m = expectOk(await user.getattr({ object: fh }), 'GETATTR').objAttributes.mtime.seconds;
  t.true(Math.abs(m - before) < 5);
});
