// Two nfs-ganesha instances (e.g. a proxy's main and shadow) in one namespace the test made,
// sharing one rpcbind, reached with libnfs run inside that namespace.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns } from '../../../simulations/harness/netns.js';
import { startGanesha } from '../../../simulations/harness/ganesha.js';
import { nfsCat, nfsCpIn, nfsLsNames } from '../../../simulations/harness/libnfs.js';

test('main and shadow ganesha in one namespace, libnfs inside it', async (t) => {
  const a = mkdtempSync(join(tmpdir(), 'gmain-'));
  const b = mkdtempSync(join(tmpdir(), 'gshadow-'));
  t.teardown(() => {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  });
  writeFileSync(join(a, 'main.txt'), 'from main');
  writeFileSync(join(b, 'shadow.txt'), 'from shadow');
  const ns = await Netns.create('gshare');
  t.teardown(() => ns.destroy());
  const main = await startGanesha({ exportDir: a, ns, nfsPort: 20490, mountPort: 20048 });
  t.teardown(() => main.stop());
  const shadow = await startGanesha({ exportDir: b, ns, nfsPort: 20491, mountPort: 20049 });
  t.teardown(() => shadow.stop());
  t.is(main.host, '127.0.0.1');
  const mt = { host: main.host, exportPath: main.exportPath, nfsPort: main.nfsPort, mountPort: main.mountPort, ns };
  const st = { host: shadow.host, exportPath: shadow.exportPath, nfsPort: shadow.nfsPort, mountPort: shadow.mountPort, ns };
  t.deepEqual(await nfsLsNames(mt), ['main.txt']);
  t.deepEqual(await nfsLsNames(st), ['shadow.txt']);
  t.is((await nfsCat(mt, 'main.txt')).toString(), 'from main');
  writeFileSync(join(b, 'local-up'), 'uploaded');
  await nfsCpIn(st, join(b, 'local-up'), 'up.txt');
  t.is(readFileSync(join(b, 'up.txt'), 'utf8'), 'uploaded');
  // Stopping one leaves the other (and the shared rpcbind) serving.
  await main.stop();
  t.is((await nfsCat(st, 'shadow.txt')).toString(), 'from shadow');
});
