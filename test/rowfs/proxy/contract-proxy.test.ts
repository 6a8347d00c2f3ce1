// The stack's NFSv3 server contract (test/rowfs/stack/nfs3-contract.ts, run there against
// nfs-ganesha and the embedded server) run against the proxy: an unmodified-client view of the
// merged file system. Main = the embedded server on an empty read-only directory, shadow = a local
// directory (embedded server): everything the contract creates lands in the shadow directory,
// which is therefore the "exported directory" the contract checks on disk.
import anyTest, { type TestFn } from 'ava';
import { mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openExport } from '../../../rowfs/mount/open-export.js';
import { startEmbeddedServer, type EmbeddedServer } from '../../../rowfs/server/embedded-server.js';
import { RowfsProxy } from '../../../rowfs/proxy/proxy.js';
import { nfs3Contract, type ContractTarget } from '../stack/nfs3-contract.js';

const test = anyTest as TestFn<unknown>;
let mainDir = '';
let shadowDir = '';
let stateDir = '';
let main: EmbeddedServer | undefined;
let proxy: RowfsProxy | undefined;
let target: ContractTarget | undefined;
const faults: string[] = [];

test.before(async () => {
  mainDir = mkdtempSync(join(tmpdir(), 'rowfs-contract-main-'));
  shadowDir = mkdtempSync(join(tmpdir(), 'rowfs-contract-shadow-'));
  stateDir = mkdtempSync(join(tmpdir(), 'rowfs-contract-state-'));
  main = await startEmbeddedServer({ exportDir: mainDir, readOnly: true, host: '127.0.0.1' });
  proxy = await RowfsProxy.start({
    main: { host: '127.0.0.1', exportPath: main.exportPath, nfsPort: main.nfsPort, mountPort: main.mountPort },
    shadow: { dir: shadowDir },
    stateDir,
    listenHost: '127.0.0.1',
    onFault: (what, err) => faults.push(`${what}: ${(err as Error)?.stack ?? String(err)}`),
  });
  const ex = await openExport({ host: '127.0.0.1', exportPath: main.exportPath, nfsPort: proxy.nfsPort, mountPort: proxy.mountPort, timeoutMs: 20_000 });
  target = { ex, localDir: shadowDir, exportPath: main.exportPath, mknod: true };
});

test.after.always(async () => {
  await target?.ex.close().catch(() => undefined);
  await proxy?.stop();
  await main?.stop();
  for (const d of [mainDir, shadowDir, stateDir]) if (d) rmSync(d, { recursive: true, force: true });
});

nfs3Contract(test, () => target!);

// Runs after every contract test (a failing hook fails the run).
test.after('no internal faults, and the read-only main directory is still empty', () => {
  if (faults.length > 0) throw new Error(`proxy faults:\n${faults.join('\n')}`);
  if (readdirSync(mainDir).length > 0) throw new Error('main directory was written');
});
