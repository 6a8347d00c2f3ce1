// Hostile clients: pipelined READs whose replies are never read (issue 11, item 3). 8 connections
// each send 2,000 READs of 1 MiB and never read a byte; the server used to run every call it
// decoded (about 170 MB of replies per connection). Now reply memory is bounded per connection
// and in total (rpc/reply-budget.ts): the server's held reply bytes stay under the bound, its RSS
// stays flat, and a legitimate client's 1 MiB READ still completes promptly. Targets: the
// embedded server and the proxy. Loopback only; attackers use 127.0.0.2 and up.
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openExport } from '../../rowfs/mount/open-export.js';
import { expectOk } from '../../rowfs/nfs3/errors.js';
import type { FileHandle } from '../../rowfs/nfs3/types.js';
import { legitimateRead, pipelinedReads } from '../../bench/hostile/nfs-clients.js';
import { DEFAULT_MAX_TOTAL_REPLY_BYTES } from '../../rowfs/rpc/server.js';
import { startEmbeddedServer } from '../../rowfs/server/embedded-server.js';
import { proxyOverEmbeddedMain } from '../rowfs/proxy/fixture.js';

const test = anyTest as TestFn<unknown>;
const MiB = 1024 * 1024;
const ATTACKERS = 8;
const CALLS_EACH = 2_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** ATTACKERS connections that send the READs and never read their socket. */
async function attack(t: ExecutionContext, port: number, fh: FileHandle): Promise<void> {
  const calls = pipelinedReads(fh, CALLS_EACH);
  const socks = await Promise.all(
    Array.from({ length: ATTACKERS }, (_, i) => new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port, localAddress: `127.0.0.${2 + i}` });
      s.on('error', () => undefined);
      s.once('connect', () => {
        s.pause(); // never read a reply
        s.write(calls);
        resolve(s);
      });
      s.once('error', reject);
    })),
  );
  t.teardown(() => socks.forEach((s) => s.destroy()));
}

/** Peak RSS growth over `ms` while sampling `held` (server's held reply bytes, when known). */
async function watch(ms: number, held?: () => number): Promise<{ rssGrowthMb: number; peakHeld: number }> {
  const base = process.memoryUsage.rss();
  let peakRss = base;
  let peakHeld = 0;
  for (let i = 0; i < ms / 20; i++) {
    await sleep(20);
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    if (held) peakHeld = Math.max(peakHeld, held());
  }
  return { rssGrowthMb: (peakRss - base) / MiB, peakHeld };
}

function exportDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'rowfs-pipeline-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'f'), Buffer.alloc(2 * MiB, 9));
  return dir;
}

test.serial('embedded server: 8 x 2,000 pipelined 1 MiB READs never read; held reply bytes stay bounded, a legitimate READ completes', async (t) => {
  const srv = await startEmbeddedServer({ exportDir: exportDir(t), host: '127.0.0.1' });
  t.teardown(() => srv.stop());
  const ex = await openExport({ host: '127.0.0.1', exportPath: srv.exportPath, nfsPort: srv.nfsPort, mountPort: srv.mountPort, timeoutMs: 10_000 });
  const fh = expectOk(await ex.nfs.lookup({ what: { dir: ex.root, name: 'f' } }), 'LOOKUP').object;
  await ex.close();
  await attack(t, srv.nfsPort, fh);
  const watching = watch(1_500, () => srv.rpc.heldReplyBytes);
  await sleep(500);
  const legitMs = await legitimateRead(srv);
  const { rssGrowthMb, peakHeld } = await watching;
  t.log(`held reply bytes peak ${(peakHeld / MiB).toFixed(1)} MiB, RSS growth ${rssGrowthMb.toFixed(0)} MB, legitimate READ ${legitMs.toFixed(0)} ms, calls run ${srv.stats.calls}`);
  // The total bound, plus one 1 MiB reply per connection (a connection holding nothing may run one call).
  t.true(peakHeld <= DEFAULT_MAX_TOTAL_REPLY_BYTES + (ATTACKERS + 1) * (MiB + 4096), `held ${peakHeld}`);
  t.true(peakHeld > 0, 'the attack did hold replies');
  t.true(rssGrowthMb < 300, `RSS grew ${rssGrowthMb} MB`);
  t.true(legitMs < 2_000, `legitimate READ took ${legitMs} ms`);
  t.true(srv.stats.calls < ATTACKERS * CALLS_EACH / 4, `${srv.stats.calls} calls decoded`);
});

test.serial('proxy: the same attack keeps its RSS flat and a legitimate READ completes', async (t) => {
  const { main, proxy } = await proxyOverEmbeddedMain(t, { f: Buffer.alloc(2 * MiB, 9) });
  const target = { exportPath: main.exportPath, nfsPort: proxy.nfsPort, mountPort: proxy.mountPort };
  await legitimateRead(target); // warm: the file is in the proxy's cache
  const ex = await openExport({ host: '127.0.0.1', ...target, timeoutMs: 10_000 });
  const fh = expectOk(await ex.nfs.lookup({ what: { dir: ex.root, name: 'f' } }), 'LOOKUP').object;
  await ex.close();
  await attack(t, proxy.nfsPort, fh);
  const watching = watch(1_500);
  await sleep(500);
  const legitMs = await legitimateRead(target);
  const { rssGrowthMb } = await watching;
  t.log(`RSS growth ${rssGrowthMb.toFixed(0)} MB, legitimate READ ${legitMs.toFixed(0)} ms`);
  t.true(rssGrowthMb < 300, `RSS grew ${rssGrowthMb} MB`);
  t.true(legitMs < 2_000, `legitimate READ took ${legitMs} ms`);
});
