// Our NFSv3/MOUNT/portmap clients against an unmodified nfs-ganesha (with rpcbind) in its own
// network namespace: the shared server contract, plus portmapper lookups.
import anyTest, { type TestFn } from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGanesha, type Ganesha } from '../../../simulations/harness/ganesha.js';
import { openExport } from '../../../rowfs/mount/open-export.js';
import { PortmapClient } from '../../../rowfs/portmap/client.js';
import { IPPROTO_TCP } from '../../../rowfs/portmap/types.js';
import { NFS3_PROGRAM } from '../../../rowfs/nfs3/types.js';
import { MOUNT_PROGRAM } from '../../../rowfs/mount/types.js';
import { nfs3Contract, type ContractTarget } from './nfs3-contract.js';

const test = anyTest as TestFn<unknown>;
let g: Ganesha | undefined;
let dir = '';
let target: ContractTarget | undefined;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ganesha-export-'));
  g = await startGanesha({ exportDir: dir });
  const ex = await openExport({ host: g.host, exportPath: g.exportPath, nfsPort: g.nfsPort, mountPort: g.mountPort, timeoutMs: 10_000 });
  target = { ex, localDir: g.exportPath, exportPath: g.exportPath, mknod: true };
});

test.after.always(async () => {
  await target?.ex.close();
  await g?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

nfs3Contract(test, () => target!);

test('portmapper (rpcbind) knows ganesha: GETPORT, DUMP, and openExport without ports', async (t) => {
  const pm = PortmapClient.connect({ host: g!.host });
  t.teardown(() => pm.close());
  await pm.null();
  t.is(await pm.getport(NFS3_PROGRAM, 3, IPPROTO_TCP), g!.nfsPort);
  t.is(await pm.getport(MOUNT_PROGRAM, 3, IPPROTO_TCP), g!.mountPort);
  const dump = await pm.dump();
  t.true(dump.some((m) => m.prog === NFS3_PROGRAM && m.port === g!.nfsPort));
  const ex = await openExport({ host: g!.host, exportPath: g!.exportPath });
  t.is(ex.nfsPort, g!.nfsPort);
  await ex.nfs.null();
  await ex.close();
});
