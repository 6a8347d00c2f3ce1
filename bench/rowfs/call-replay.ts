// Per-call CPU replay of the proxy's metadata and small-file paths, in one process (our client, an
// embedded read-only main, the proxy with a local shadow): a stat phase (LOOKUP, GETATTR, ACCESS of
// files the proxy created) and a small-files phase (LOOKUP, ACCESS, READ of 4 KB main files), each
// run once to warm up and then measured. Prints calls/s and process CPU ms per call (client, main
// and proxy together: compare runs of this script with each other, not with ganesha).
// Run: node dist/bench/rowfs/call-replay.js [files=2000] [inflight=8]; add --cpu-prof to profile.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openExport, type OpenedExport } from '../../rowfs/mount/open-export.js';
import { RowfsProxy } from '../../rowfs/proxy/proxy.js';
import { startEmbeddedServer } from '../../rowfs/server/embedded-server.js';
import { expectOk } from '../../rowfs/nfs3/errors.js';
import { CreateMode, type FileHandle } from '../../rowfs/nfs3/types.js';

const FILES = Number(process.argv[2] ?? 2000);
const INFLIGHT = Number(process.argv[3] ?? 8);
const ACCESS_ALL = 0x3f;

async function pool(n: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: INFLIGHT }, async () => {
    while (next < n) await work(next++);
  }));
}

async function measure(label: string, calls: number, fn: () => Promise<void>): Promise<void> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await fn();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  const cpuMs = (c.user + c.system) / 1000;
  console.log(`${label}: ${calls} calls ${wall.toFixed(2)} s ${(calls / wall).toFixed(0)} calls/s cpu ${(cpuMs / calls).toFixed(3)} ms/call`);
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'rowfs-replay-'));
  const mainDir = join(root, 'main');
  mkdirSync(join(mainDir, 'small'), { recursive: true });
  for (let i = 0; i < FILES * 2; i++) writeFileSync(join(mainDir, 'small', `s${i}`), Buffer.alloc(4096, i & 0xff));
  mkdirSync(join(root, 'shadow'));
  mkdirSync(join(root, 'state'));
  const m = await startEmbeddedServer({ exportDir: mainDir, readOnly: true, host: '127.0.0.1' });
  const proxy = await RowfsProxy.start({
    main: { host: '127.0.0.1', exportPath: m.exportPath, nfsPort: m.nfsPort, mountPort: m.mountPort },
    shadow: { dir: join(root, 'shadow') },
    stateDir: join(root, 'state'),
    listenHost: '127.0.0.1',
  });
  const ex: OpenedExport = await openExport({ host: '127.0.0.1', exportPath: m.exportPath, nfsPort: proxy.nfsPort, mountPort: proxy.mountPort, timeoutMs: 20_000 });
  try {
    const nfs = ex.nfs;
    const lookup = async (dir: FileHandle, name: string) => expectOk(await nfs.lookup({ what: { dir, name } }), name).object;
    const dir = expectOk(await nfs.mkdir({ where: { dir: ex.root, name: 'meta' }, attributes: { mode: 0o755 } } as never), 'MKDIR').obj!;
    await pool(FILES, async (i) => {
      expectOk(await nfs.create({ where: { dir, name: `f${i}` }, how: { mode: CreateMode.GUARDED, attributes: { mode: 0o644 } } } as never), 'CREATE');
    });
    const stat = async () => pool(FILES, async (i) => {
      const fh = await lookup(dir, `f${i}`);
      expectOk(await nfs.getattr({ object: fh }), 'GETATTR');
      expectOk(await nfs.access({ object: fh, access: ACCESS_ALL }), 'ACCESS');
    });
    await stat();
    await measure('stat (LOOKUP+GETATTR+ACCESS)', FILES * 3, stat);
    await measure('stat again', FILES * 3, stat);
    // The kernel client's create and remove (fsbench meta: open O_CREAT|O_EXCL, unlink): LOOKUP
    // (NOENT), CREATE EXCLUSIVE, SETATTR of the mode; LOOKUP, REMOVE. Through the proxy and, for a
    // baseline of the RPC machinery, straight to an embedded server over the shadow directory.
    const direct = await startEmbeddedServer({ exportDir: join(root, 'shadow'), host: '127.0.0.1' });
    const dx = await openExport({ host: '127.0.0.1', exportPath: direct.exportPath, nfsPort: direct.nfsPort, mountPort: direct.mountPort, timeoutMs: 20_000 });
    try {
      const createRemove = (o: OpenedExport, d: FileHandle, tag: string) => async () => {
        const verf = new Uint8Array(8);
        await measure(`${tag} create (LOOKUP+CREATE+SETATTR)`, FILES * 3, () => pool(FILES, async (i) => {
          const name = `${tag}${i}`;
          if ((await o.nfs.lookup({ what: { dir: d, name } })).status === 0) throw new Error(`${name} exists`);
          new DataView(verf.buffer).setUint32(4, i);
          const fh = expectOk(await o.nfs.create({ where: { dir: d, name }, how: { mode: CreateMode.EXCLUSIVE, verf } } as never), 'CREATE').obj!;
          expectOk(await o.nfs.setattr({ object: fh, newAttributes: { mode: 0o644 } } as never), 'SETATTR');
        }));
        await measure(`${tag} remove (LOOKUP+REMOVE)`, FILES * 2, () => pool(FILES, async (i) => {
          await lookup(d, `${tag}${i}`).catch(() => undefined);
          expectOk(await o.nfs.remove({ object: { dir: d, name: `${tag}${i}` } }), 'REMOVE');
        }));
      };
      const dDir = expectOk(await dx.nfs.lookup({ what: { dir: dx.root, name: 'meta' } }), 'meta').object;
      for (let round = 0; round < 2; round++) {
        await createRemove(dx, dDir, `direct${round}-`)();
        await createRemove(ex, dir, `proxy${round}-`)();
      }
    } finally {
      await dx.close();
      await direct.stop();
    }
    const small = await lookup(ex.root, 'small');
    const smallFiles = (base: number) => async () => pool(FILES, async (i) => {
      const fh = await lookup(small, `s${base + i}`);
      expectOk(await nfs.access({ object: fh, access: ACCESS_ALL }), 'ACCESS');
      expectOk(await nfs.read({ file: fh, offset: 0n, count: 4096 }), 'READ');
    });
    // Warm-up on half the files, measured on the other half (cold in the proxy's cache).
    await smallFiles(0)();
    await measure('small files cold (LOOKUP+ACCESS+READ)', FILES * 3, smallFiles(FILES));
    await measure('small files warm', FILES * 3, smallFiles(FILES));
  } finally {
    await ex.close();
    await proxy.stop();
    await m.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
