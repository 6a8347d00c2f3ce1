// Hostile clients: stalled TCP connections (issue 11, item 2). Each sends half an RPC record, or
// nothing, and stops; others trickle bytes. At the default cap (1,024 connections) a new client
// used to be refused until the attackers left. Now a newcomer evicts the stalest connection that
// has no call running, one source address cannot fill the table, half-sent records and idle
// connections time out, and only when every connection has a call running is a newcomer refused.
// All sockets are on loopback; attackers use source addresses 127.0.0.2 and up.
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openExport } from '../../rowfs/mount/open-export.js';
import { expectOk } from '../../rowfs/nfs3/errors.js';
import { TcpRpcClient } from '../../rowfs/rpc/client.js';
import { DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_INCOMPLETE_RECORD_BYTES } from '../../rowfs/rpc/connection-table.js';
import { RpcServer, type RpcProcedure, type RpcServerOptions } from '../../rowfs/rpc/server.js';
import { startEmbeddedServer, type EmbeddedServer } from '../../rowfs/server/embedded-server.js';
import { proxyOverEmbeddedMain } from '../rowfs/proxy/fixture.js';

const test = anyTest as TestFn<unknown>;
const FILE_BYTES = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A connection from `localAddress` that announces a record of `recordBytes`, sends `bytes` of it, then nothing. */
function stall(port: number, localAddress: string, bytes = 100, recordBytes = bytes === 0 ? 4 * 1024 * 1024 : 200): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress });
    s.on('error', () => undefined); // the server closing it is the point
    s.once('connect', () => {
      const half = Buffer.alloc(4 + bytes);
      half.writeUInt32BE((0x80000000 | recordBytes) >>> 0, 0);
      s.write(half);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Opens `n` stalled connections spread over source addresses 127.0.0.2.. (`perAddress` each). */
async function stallMany(t: ExecutionContext, port: number, n: number, perAddress: number): Promise<net.Socket[]> {
  const out: net.Socket[] = [];
  t.teardown(() => {
    for (const s of out) s.destroy();
  });
  for (let i = 0; i < n; i += 64) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 64); j++) batch.push(stall(port, `127.0.0.${2 + Math.floor(j / perAddress)}`));
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

async function exportDir(t: ExecutionContext): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'rowfs-stall-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'f'), Buffer.alloc(FILE_BYTES, 7));
  return dir;
}

async function embedded(t: ExecutionContext, rpc: RpcServerOptions): Promise<EmbeddedServer> {
  const srv = await startEmbeddedServer({ exportDir: await exportDir(t), host: '127.0.0.1', nfsPort: 0, mountPort: 0, rpc });
  t.teardown(() => srv.stop());
  return srv;
}

/** A legitimate client from 127.0.0.1: MNT, LOOKUP and a 1 MiB READ; resolves with the time taken. */
async function legitimateRead(t: ExecutionContext, target: { exportPath: string; nfsPort: number; mountPort: number }): Promise<number> {
  const started = performance.now();
  const ex = await openExport({ host: '127.0.0.1', exportPath: target.exportPath, nfsPort: target.nfsPort, mountPort: target.mountPort, timeoutMs: 5_000 });
  try {
    const f = expectOk(await ex.nfs.lookup({ what: { dir: ex.root, name: 'f' } }), 'LOOKUP').object;
    const r = expectOk(await ex.nfs.read({ file: f, offset: 0n, count: FILE_BYTES }), 'READ');
    t.is(r.data.length, FILE_BYTES);
    return performance.now() - started;
  } finally {
    await ex.close();
  }
}

test.serial('proxy at the default cap: 1,100 stalled connections, then a mount and a 1 MiB READ succeed promptly', async (t) => {
  const { main, proxy } = await proxyOverEmbeddedMain(t, { f: Buffer.alloc(FILE_BYTES, 7) });
  // 1,100 > DEFAULT_MAX_CONNECTIONS, 50 per source address (under the per-address cap).
  const attackers = await stallMany(t, proxy.nfsPort, DEFAULT_MAX_CONNECTIONS + 76, 50);
  await sleep(200);
  const open = attackers.filter((s) => !s.destroyed && s.readyState === 'open').length;
  t.log(`${open} of ${attackers.length} stalled connections still open`);
  const ms = await legitimateRead(t, { exportPath: main.exportPath, nfsPort: proxy.nfsPort, mountPort: proxy.mountPort });
  t.log(`mount + 1 MiB READ through the proxy: ${ms.toFixed(0)} ms`);
  t.true(ms < 3_000, `took ${ms} ms`);
});

test.serial('a newcomer evicts the stalest stalled connection; one address cannot fill the table', async (t) => {
  const srv = await embedded(t, { maxConnections: 40, maxConnectionsPerAddress: 10 });
  // 100 stalled connections from 127.0.0.2 alone: at most 10 stay.
  const fromOne = await stallMany(t, srv.nfsPort, 100, 100);
  const stillOpen = () => fromOne.filter((s) => !s.destroyed).length;
  for (let i = 0; i < 100 && stillOpen() > 10; i++) await sleep(20);
  t.true(srv.rpc.openConnections <= 10, `${srv.rpc.openConnections} open from one address`);
  t.true(stillOpen() <= 10, `${stillOpen()} of them still open at the client`);
  // 200 more over 20 addresses: the table stays at its cap, and a legitimate client still gets in.
  await stallMany(t, srv.nfsPort, 200, 10);
  await sleep(100);
  t.true(srv.rpc.openConnections <= 40, `${srv.rpc.openConnections} open`);
  const ms = await legitimateRead(t, srv);
  t.true(ms < 3_000, `took ${ms} ms`);
  t.true(srv.rpc.connectionStats.evicted >= 250, `evicted ${srv.rpc.connectionStats.evicted}`);
});

test.serial('half-sent records and idle connections time out; a trickle does not keep a record alive', async (t) => {
  const srv = await embedded(t, { incompleteRecordTimeoutMs: 300, idleTimeoutMs: 600 });
  const half = await stall(srv.nfsPort, '127.0.0.2');
  t.teardown(() => half.destroy());
  const trickle = await stall(srv.nfsPort, '127.0.0.3', 10);
  t.teardown(() => trickle.destroy());
  const idle = net.connect({ host: '127.0.0.1', port: srv.nfsPort, localAddress: '127.0.0.4' });
  idle.on('error', () => undefined);
  t.teardown(() => idle.destroy());
  // A busy legitimate client: a call every 100 ms keeps its connection.
  const client = new TcpRpcClient({ host: '127.0.0.1', port: srv.nfsPort, timeoutMs: 5_000 });
  t.teardown(() => client.close());
  const closed = (s: net.Socket) => new Promise<number>((r) => s.once('close', () => r(performance.now())));
  const started = performance.now();
  const [halfAt, trickleAt] = [closed(half), closed(trickle)];
  const idleAt = closed(idle);
  let stop = false;
  const trickling = (async () => {
    for (let i = 0; i < 40 && !stop && !trickle.destroyed; i++) {
      trickle.write(Buffer.alloc(1));
      await sleep(50);
    }
  })();
  const calls = (async () => {
    for (let i = 0; i < 15; i++) {
      await client.call(100003, 3, 0, () => undefined); // NFS NULL
      await sleep(100);
    }
  })();
  const deadline = sleep(3_000).then(() => -1);
  const halfMs = (await Promise.race([halfAt, deadline])) - started;
  const trickleMs = (await Promise.race([trickleAt, deadline])) - started;
  const idleMs = (await Promise.race([idleAt, deadline])) - started;
  stop = true;
  await trickling;
  await calls; // all 15 calls answered on the same connection
  t.true(halfMs > 250 && halfMs < 1_000, `half record closed after ${halfMs} ms`);
  t.true(trickleMs > 250 && trickleMs < 1_000, `trickled record closed after ${trickleMs} ms`);
  t.true(idleMs > 550 && idleMs < 1_500, `idle connection closed after ${idleMs} ms`);
  t.true(srv.rpc.connectionStats.timedOut >= 3);
});

test.serial('when every connection has a call running, a newcomer is refused (nothing is evicted)', async (t) => {
  let release: () => void = () => undefined;
  const blocked = new Promise<void>((r) => (release = r));
  let running = 0;
  const slow: RpcProcedure<void, void> = {
    decodeArgs: () => undefined,
    run: () => {
      running++;
      return blocked;
    },
    encodeResult: () => undefined,
  };
  const server = new RpcServer({ maxConnections: 4 }).addProgram({ prog: 0x20000099, vers: 1, procedures: new Map([[1, slow]]) });
  const port = await server.listenTcp(0, '127.0.0.1');
  t.teardown(() => server.close());
  const clients = Array.from({ length: 4 }, () => new TcpRpcClient({ host: '127.0.0.1', port, timeoutMs: 5_000 }));
  t.teardown(() => clients.forEach((c) => c.close()));
  const pending = clients.map((c) => c.call(0x20000099, 1, 1, () => undefined));
  t.teardown(() => Promise.all(pending.map((p) => p.catch(() => undefined))));
  // Every connection has its call running (not just open: an open one without a call may go).
  for (let i = 0; i < 250 && running < 4; i++) await sleep(20);
  t.is(running, 4);
  t.is(server.openConnections, 4);
  const extra = net.connect({ host: '127.0.0.1', port });
  extra.on('error', () => undefined);
  const gone = await Promise.race([new Promise((r) => extra.once('close', () => r(true))), sleep(2_000).then(() => false)]);
  t.true(gone, 'the fifth connection is closed at once');
  t.is(server.connectionStats.refused, 1);
  t.is(server.connectionStats.evicted, 0);
  release();
  await Promise.all(pending);
});

test.serial('records that never complete cannot hold more than the bound; a legitimate client still reads', async (t) => {
  const srv = await embedded(t, {});
  const MiB = 1024 * 1024;
  // 100 connections over 10 addresses, each announcing a 4 MiB record and sending 1 MiB of it:
  // 100 MiB held without the bound (DEFAULT_MAX_INCOMPLETE_RECORD_BYTES, 64 MiB).
  const socks: net.Socket[] = [];
  t.teardown(() => socks.forEach((s) => s.destroy()));
  let peak = 0;
  for (let i = 0; i < 100; i++) {
    const s = await stall(srv.nfsPort, `127.0.0.${2 + (i % 10)}`, 0);
    s.write(Buffer.alloc(MiB, 1)); // 1 MiB of the announced 4 MiB record
    socks.push(s);
    peak = Math.max(peak, srv.rpc.incompleteRecordBytes);
  }
  for (let i = 0; i < 50; i++) {
    await sleep(20);
    peak = Math.max(peak, srv.rpc.incompleteRecordBytes);
  }
  t.log(`incomplete record bytes peak ${(peak / MiB).toFixed(1)} MiB, ${srv.rpc.connectionStats.evictedForRecordBytes} evicted`);
  t.true(peak <= DEFAULT_MAX_INCOMPLETE_RECORD_BYTES + MiB, `peak ${peak}`);
  t.true(srv.rpc.connectionStats.evictedForRecordBytes >= 30);
  const ms = await legitimateRead(t, srv);
  t.true(ms < 3_000, `took ${ms} ms`);
});
