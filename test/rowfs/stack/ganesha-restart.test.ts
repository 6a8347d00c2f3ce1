// nfs-ganesha killed and restarted under a connected client: the client reconnects by itself and
// the file handles it holds keep working (what a proxy needs when its main server restarts).
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGanesha } from '../../../simulations/harness/ganesha.js';
import { openExport } from '../../../rowfs/mount/open-export.js';
import { expectOk } from '../../../rowfs/nfs3/errors.js';
import { RpcTransportError } from '../../../rowfs/rpc/errors.js';

test('client survives a ganesha restart: reconnect, same handles, calls issued during the outage complete', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ganesha-restart-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'f.txt'), 'before restart');
  const g = await startGanesha({ exportDir: dir });
  t.teardown(() => g.stop());
  const ex = await openExport({
    host: g.host,
    exportPath: g.exportPath,
    nfsPort: g.nfsPort,
    mountPort: g.mountPort,
    timeoutMs: 20_000,
    waitForServer: true,
  });
  t.teardown(() => ex.close());
  const f = expectOk(await ex.nfs.lookup({ what: { dir: ex.root, name: 'f.txt' } }), 'LOOKUP').object;
  t.is(Buffer.from(expectOk(await ex.nfs.read({ file: f, offset: 0n, count: 100 }), 'READ').data).toString(), 'before restart');

  const restarting = g.restart();
  // Issued while ganesha is down or coming up: must wait and succeed, not fail.
  const during = ex.nfs.getattr({ object: f });
  await restarting;
  t.is(expectOk(await during, 'GETATTR during restart').objAttributes.size, 14n);
  writeFileSync(join(dir, 'f.txt'), 'after restart!');
  t.is(Buffer.from(expectOk(await ex.nfs.read({ file: f, offset: 0n, count: 100 }), 'READ').data).toString(), 'after restart!');
});

test('a client without waitForServer gets CONNECT_FAILED quickly while the server is down', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ganesha-down-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const g = await startGanesha({ exportDir: dir, nfsPort: 20590, mountPort: 20548 });
  t.teardown(() => g.stop());
  const ex = await openExport({ host: g.host, exportPath: g.exportPath, nfsPort: g.nfsPort, mountPort: g.mountPort, timeoutMs: 5000 });
  t.teardown(() => ex.close());
  await ex.nfs.null();
  await g.proc().kill(0);
  const err = await t.throwsAsync(
    (async () => {
      // The first call may be the one in flight when the connection drops; retry until a fresh connect is refused.
      for (let i = 0; i < 20; i++) {
        await ex.nfs.null();
        await new Promise((r) => setTimeout(r, 50));
      }
    })(),
    { instanceOf: RpcTransportError },
  );
  t.true(['CONNECT_FAILED', 'TIMEOUT'].includes(err!.code), err!.code);
});
