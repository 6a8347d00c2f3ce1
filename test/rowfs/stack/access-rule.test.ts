// The ACCESS rule (rowfs/nfs3/access.ts), shared by the embedded server and the proxy: the cases
// that pin it, then both servers over the wire giving the same answers. Before the fold, a caller
// without AUTH_SYS was uid 65534 in both and also gid 65534 in the embedded server, so on an
// object of group nogroup the two disagreed; now such a caller gets the world's bits only.
import test from 'ava';
import { chownSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { accessFor } from '../../../rowfs/nfs3/access.js';
import { openExport } from '../../../rowfs/mount/open-export.js';
import { expectOk } from '../../../rowfs/nfs3/errors.js';
import { ACCESS3_DELETE, ACCESS3_EXECUTE, ACCESS3_EXTEND, ACCESS3_LOOKUP, ACCESS3_MODIFY, ACCESS3_READ, Ftype3 } from '../../../rowfs/nfs3/types.js';
import { AUTH_NONE, encodeAuthSys, type AuthSysParams } from '../../../rowfs/rpc/message.js';
import { lookup, proxyOverEmbeddedMain } from '../proxy/fixture.js';

const ALL = 0x3f;
const NOBODY = 65534;
const sys = (uid: number, gid: number, gids: number[] = []): AuthSysParams => ({ stamp: 0, machineName: 't', uid, gid, gids });
const file = (mode: number, uid = 1000, gid = 1000) => ({ type: Ftype3.REG, mode, uid, gid });
const dir = (mode: number, uid = 1000, gid = 1000) => ({ type: Ftype3.DIR, mode, uid, gid });
const RW = ACCESS3_READ | ACCESS3_MODIFY | ACCESS3_EXTEND;

test('a caller without AUTH_SYS gets the other bits only, also on objects of nobody/nogroup', (t) => {
  t.is(accessFor(file(0o770, NOBODY, NOBODY), ALL, undefined), 0);
  t.is(accessFor(file(0o774, NOBODY, NOBODY), ALL, undefined), ACCESS3_READ);
  t.is(accessFor(file(0o070, 0, NOBODY), ALL, undefined), 0);
  t.is(accessFor(dir(0o755), ALL, undefined), ACCESS3_READ | ACCESS3_LOOKUP);
  // The same object for AUTH_SYS nobody: owner and group classes apply to a real identity.
  t.is(accessFor(file(0o770, NOBODY, NOBODY), ALL, sys(NOBODY, NOBODY)), RW | ACCESS3_EXECUTE);
  t.is(accessFor(file(0o070, 0, NOBODY), ALL, sys(1, NOBODY)), RW | ACCESS3_EXECUTE);
});

test('owner, group (primary or supplementary) and other classes; root; directories; the wanted mask', (t) => {
  t.is(accessFor(file(0o640), ALL, sys(1000, 1)), RW);
  t.is(accessFor(file(0o640), ALL, sys(7, 1000)), ACCESS3_READ);
  t.is(accessFor(file(0o640), ALL, sys(7, 1, [5, 1000])), ACCESS3_READ);
  t.is(accessFor(file(0o640), ALL, sys(7, 1)), 0);
  // The owner class decides even when group or other would grant more (POSIX).
  t.is(accessFor(file(0o077), ALL, sys(1000, 1000)), 0);
  t.is(accessFor(file(0o644), ALL, sys(0, 0)), RW, 'root: no execute on a file without an execute bit');
  t.is(accessFor(file(0o100), ALL, sys(0, 0)), RW | ACCESS3_EXECUTE);
  t.is(accessFor(dir(0o000), ALL, sys(0, 0)), RW | ACCESS3_DELETE | ACCESS3_LOOKUP, 'root: everything on a directory');
  t.is(accessFor(dir(0o700), ALL, sys(1000, 1)), RW | ACCESS3_DELETE | ACCESS3_LOOKUP);
  t.is(accessFor(file(0o700), ACCESS3_READ | ACCESS3_LOOKUP, sys(1000, 1)), ACCESS3_READ, 'only what was asked');
});

test('the embedded server and the proxy answer ACCESS alike, with and without AUTH_SYS', async (t) => {
  if (process.getuid?.() !== 0) return t.pass('needs root to chown the test files');
  const { main, proxy } = await proxyOverEmbeddedMain(t, { 'nobody-file': Buffer.from('x'), 'nogroup-file': Buffer.from('y') });
  const setOwner = (name: string, uid: number, gid: number, mode: number) => {
    chownSync(join(main.exportPath, name), uid, gid);
    chmodSync(join(main.exportPath, name), mode);
  };
  setOwner('nobody-file', NOBODY, NOBODY, 0o774);
  setOwner('nogroup-file', 0, NOBODY, 0o074);
  const answers = async (cred: typeof AUTH_NONE, port: { nfsPort: number; mountPort: number }) => {
    const ex = await openExport({ host: '127.0.0.1', exportPath: main.exportPath, ...port, cred, timeoutMs: 20_000 });
    try {
      const out: number[] = [];
      for (const name of ['nobody-file', 'nogroup-file']) {
        const fh = await lookup(ex, ex.root, name);
        out.push(expectOk(await ex.nfs.access({ object: fh, access: ACCESS3_READ | ACCESS3_EXECUTE }), 'ACCESS').access);
      }
      return out;
    } finally {
      await ex.close();
    }
  };
  const proxyPorts = { nfsPort: proxy.nfsPort, mountPort: proxy.mountPort };
  const mainPorts = { nfsPort: main.nfsPort, mountPort: main.mountPort };
  // Without AUTH_SYS: the world's bits (READ) on both, on the embedded server and through the proxy.
  t.deepEqual(await answers(AUTH_NONE, mainPorts), [ACCESS3_READ, ACCESS3_READ]);
  t.deepEqual(await answers(AUTH_NONE, proxyPorts), [ACCESS3_READ, ACCESS3_READ]);
  // AUTH_SYS nobody/nogroup: owner bits on the first, group bits on the second.
  const nobody = encodeAuthSys(sys(NOBODY, NOBODY));
  t.deepEqual(await answers(nobody, mainPorts), [ACCESS3_READ | ACCESS3_EXECUTE, ACCESS3_READ | ACCESS3_EXECUTE]);
  t.deepEqual(await answers(nobody, proxyPorts), [ACCESS3_READ | ACCESS3_EXECUTE, ACCESS3_READ | ACCESS3_EXECUTE]);
});
