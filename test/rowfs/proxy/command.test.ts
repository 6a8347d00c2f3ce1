// `overlay rowfs` as a user runs it: the proxy process between nfs-ganesha (main) and a local shadow
// directory (embedded server), killed with SIGKILL mid-session and restarted on the same state:
// client handles keep working and no acknowledged write is lost. Also --stats and start-up errors.
import test from 'ava';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGanesha } from '../../../simulations/harness/ganesha.js';
import { startProc, run, type Proc } from '../../../simulations/harness/proc.js';
import { nfsCat, nfsLsNames } from '../../../simulations/harness/libnfs.js';
import { openExport } from '../../../rowfs/mount/open-export.js';
import { Nfs3Status, StableHow } from '../../../rowfs/nfs3/types.js';
import { createFile, lookup, pattern, populateMain, readAll, treeChecksum } from './fixture.js';

const BIN = fileURLToPath(new URL('../../../../bin/overlay.js', import.meta.url));

function tmp(t: { teardown(fn: () => void): void }, tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `rowfs-cmd-${tag}-`));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

test('SIGKILL mid-session: restart on the same state keeps handles and every acknowledged write', async (t) => {
  const mainDir = tmp(t, 'main');
  const shadowDir = tmp(t, 'shadow');
  const stateDir = tmp(t, 'state');
  populateMain(mainDir);
  const before = treeChecksum(mainDir);
  const g = await startGanesha({ exportDir: mainDir });
  t.teardown(() => g.stop());
  const port = await freePort();
  // No main ports given: the proxy asks ganesha's portmapper (rpcbind) for them.
  const args = [BIN, 'rowfs', '--main', `${g.host}:${g.exportPath}`, '--shadow', shadowDir, '--listen', String(port), '--host', '127.0.0.1', '--state', stateDir];
  const procs: Proc[] = [];
  t.teardown(async () => {
    for (const p of procs) await p.kill(1000);
  });
  const start = async () => {
    const p = startProc(process.execPath, args);
    procs.push(p);
    await p.waitFor(/NFS port (\d+), MOUNT port (\d+)/, 20_000);
    return p;
  };
  const p1 = await start();
  t.regex(p1.output(), new RegExp(`NFS port ${port}, MOUNT port ${port}`));
  const ex = await openExport({ host: '127.0.0.1', exportPath: g.exportPath, nfsPort: port, mountPort: port, timeoutMs: 30_000, waitForServer: true });
  t.teardown(() => ex.close());

  const big = await lookup(ex, ex.root, 'big.bin');
  const fresh = await createFile(ex, ex.root, 'fresh.bin');
  // Writes in flight when the proxy dies: FILE_SYNC ones are acknowledged only when durable.
  const CHUNK = 4096;
  const acked: number[] = [];
  const writes: Array<Promise<unknown>> = [];
  for (let i = 0; i < 64; i++) {
    const data = pattern(CHUNK, 1000 + i);
    writes.push(
      ex.nfs.write({ file: fresh, offset: BigInt(i * CHUNK), count: CHUNK, stable: StableHow.FILE_SYNC, data }).then((r) => {
        if (r.status === Nfs3Status.OK) acked.push(i);
      }, () => undefined),
    );
    // big.bin: partial-block overwrites of a main file, every other one acknowledged before the kill
    writes.push(
      ex.nfs.write({ file: big, offset: BigInt(i * 10_000 + 1), count: 10, stable: StableHow.FILE_SYNC, data: Buffer.from('0123456789') }).then(() => undefined, () => undefined),
    );
    if (i === 32) {
      // Kill with the first half acknowledged or in flight and the rest not yet sent.
      while (acked.length < 8) await new Promise((r) => setTimeout(r, 5));
      process.kill(p1.pid, 'SIGKILL');
    }
  }
  await p1.exited;
  const ackedBeforeKill = [...acked];
  t.true(ackedBeforeKill.length >= 8);
  await start();
  await Promise.all(writes); // retransmitted to the new process (same xid) or answered
  // The handles from before the kill still work; every acknowledged write is there.
  const content = await readAll(ex, fresh);
  for (const i of acked) t.true(content.subarray(i * CHUNK, (i + 1) * CHUNK).equals(pattern(CHUNK, 1000 + i)), `write ${i} lost`);
  const bigNow = await readAll(ex, big);
  const expectBig = pattern(1024 * 1024 + 12345, 1);
  // Untouched regions of big.bin are still main's bytes.
  t.true(bigNow.subarray(5 * 10_000 + 20, 6 * 10_000).equals(expectBig.subarray(5 * 10_000 + 20, 6 * 10_000)));
  t.is((await nfsCat({ host: '127.0.0.1', exportPath: g.exportPath, nfsPort: port, mountPort: port }, 'dir/a.txt')).toString(), 'a in dir\n');
  t.true((await nfsLsNames({ host: '127.0.0.1', exportPath: g.exportPath, nfsPort: port, mountPort: port })).includes('fresh.bin'));

  // --stats reads the counters file of that state directory.
  await new Promise((r) => setTimeout(r, 1200));
  const { stdout } = await run(process.execPath, [BIN, 'rowfs', '--stats', '--state', stateDir]);
  t.regex(stdout, /WRITE\s+\d+\s+0\s+\d+/, 'WRITE calls go to the shadow, never to main');
  const json = JSON.parse((await run(process.execPath, [BIN, 'rowfs', '--stats', '--state', stateDir, '--json'])).stdout);
  t.is(json.main.WRITE, undefined);
  t.true(json.client.WRITE > 0);
  t.true(JSON.parse(readFileSync(join(stateDir, 'counters.json'), 'utf8')).totals.client > 0);
  t.is(treeChecksum(mainDir), before);
});

test('clear errors: unreachable main server, bad arguments', async (t) => {
  const shadowDir = tmp(t, 'shadow');
  const stateDir = tmp(t, 'state');
  const port = await freePort();
  const err = await run(process.execPath, [BIN, 'rowfs', '--main', `127.0.0.1:/srv/none`, '--main-nfs-port', String(port), '--main-mount-port', String(port), '--shadow', shadowDir, '--listen', '0', '--state', stateDir]).then(
    () => '',
    (e: Error) => e.message,
  );
  t.regex(err, /main server 127\.0\.0\.1:\/srv\/none is unreachable/);
  const bad = await run(process.execPath, [BIN, 'rowfs', '--main', 'no-path-here', '--shadow', shadowDir, '--listen', '1']).then(
    () => '',
    (e: Error) => e.message,
  );
  t.regex(bad, /--main must be HOST:\/PATH/);
  const help = await run(process.execPath, [BIN, 'rowfs', '--help']);
  t.regex(help.stdout, /--shadow DIR\|HOST:PATH/);
});
