// The proxy over replicas of one tree (ReplicatedMain): reads keep going with the right bytes when
// the server in use stops mid-read, a replica whose copy differs in one byte is caught (the bad
// block never reaches the client) and the read completes from a good replica, and path handles
// survive a proxy restart against another server. Real embedded NFS servers and the proxy on
// loopback, our NFSv3 client.
import test from 'ava';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, writeFileSync, mkdirSync, openSync, writeSync, closeSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openExport, type OpenedExport } from '../../../rowfs/mount/open-export.js';
import { RowfsProxy } from '../../../rowfs/proxy/proxy.js';
import type { ReplicaEvent, ReplicaServer, ReplicaVerifier } from '../../../rowfs/proxy/replicated-main.js';
import { startEmbeddedServer, type EmbeddedServer } from '../../../rowfs/server/embedded-server.js';
import { expectOk } from '../../../rowfs/nfs3/errors.js';
import { lookupPath, pattern } from './fixture.js';

const BLOCK = 65536;
const BIG = 8 * 1024 * 1024 + 777;

/** A verifier computed from the original tree (stands in for the image manifest here). */
function verifierFor(dir: string, files: string[]): ReplicaVerifier {
  const entries = new Map<string, { type: 'file' | 'dir'; size: number; hashes?: string[] }>([['', { type: 'dir', size: 0 }]]);
  for (const f of files) {
    const parts = f.split('/');
    for (let i = 1; i < parts.length; i++) entries.set(parts.slice(0, i).join('/'), { type: 'dir', size: 0 });
    const data = readFileSync(join(dir, f));
    const hashes = [];
    for (let at = 0; at < data.length; at += BLOCK) hashes.push(createHash('sha256').update(data.subarray(at, at + BLOCK)).digest('hex'));
    entries.set(f, { type: 'file', size: data.length, hashes });
  }
  return {
    blockSize: BLOCK,
    entry: (p) => entries.get(p),
    verifyBlock: (p, i, data) => entries.get(p)?.hashes?.[i] === createHash('sha256').update(data).digest('hex'),
  };
}

interface Setup {
  dirs: string[];
  servers: EmbeddedServer[];
  replicas: ReplicaServer[];
  proxy: RowfsProxy;
  client: OpenedExport;
  events: ReplicaEvent[];
}

async function setup(t: { teardown(fn: () => Promise<void> | void): void }, opts: { tamper?: boolean } = {}): Promise<Setup> {
  const root = mkdtempSync(join(tmpdir(), 'replicated-main-'));
  const a = join(root, 'a');
  mkdirSync(join(a, 'd'), { recursive: true });
  writeFileSync(join(a, 'd', 'big.bin'), pattern(BIG, 7));
  writeFileSync(join(a, 'small.txt'), 'small\n');
  const b = join(root, 'b');
  cpSync(a, b, { recursive: true });
  const verifier = verifierFor(a, ['d/big.bin', 'small.txt']);
  if (opts.tamper) {
    // One byte of one block differs on replica a (the first one tried).
    const fd = openSync(join(a, 'd', 'big.bin'), 'r+');
    writeSync(fd, Buffer.from([0x55 ^ pattern(BIG, 7)[3 * BLOCK + 10]!]), 0, 1, 3 * BLOCK + 10);
    closeSync(fd);
  }
  const servers: EmbeddedServer[] = [];
  const replicas: ReplicaServer[] = [];
  for (const [id, dir] of [['a', a], ['b', b]] as const) {
    const s = await startEmbeddedServer({ exportDir: dir, readOnly: true, host: '127.0.0.1', exportPath: '/image' });
    servers.push(s);
    replicas.push({ id, label: `server-${id}`, host: '127.0.0.1', exportPath: '/image', nfsPort: s.nfsPort, mountPort: s.mountPort });
  }
  const events: ReplicaEvent[] = [];
  const live = new Set(['a', 'b']);
  const proxy = await RowfsProxy.start({
    main: { id: 'image:test@1', verifier, stallMs: 1000, noServerTimeoutMs: 5000, source: { servers: async () => replicas.filter((r) => live.has(r.id)) }, onEvent: (e) => events.push(e) },
    shadow: { dir: join(root, 'shadow') },
    stateDir: join(root, 'state'),
    listenHost: '127.0.0.1',
    exportPath: '/image',
  });
  const client = await openExport({ host: '127.0.0.1', exportPath: '/image', nfsPort: proxy.nfsPort, mountPort: proxy.mountPort, timeoutMs: 30_000 });
  t.teardown(async () => {
    await client.close().catch(() => undefined);
    await proxy.stop();
    for (const s of servers) await s.stop().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  });
  return { dirs: [a, b], servers, replicas, proxy, client, events };
}

async function readAll(client: OpenedExport, path: string, onChunk?: (at: number) => Promise<void>): Promise<Buffer> {
  const fh = await lookupPath(client, path);
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const r = expectOk(await client.nfs.read({ file: fh, offset: BigInt(at), count: 256 * 1024 }), 'READ');
    parts.push(Buffer.from(r.data));
    at += r.data.length;
    await onChunk?.(at);
    if (r.eof || r.data.length === 0) break;
  }
  return Buffer.concat(parts);
}

test('a read continues from the other replica when the server in use stops mid-read', async (t) => {
  const s = await setup(t);
  let stopped = false;
  const data = await readAll(s.client, 'd/big.bin', async (at) => {
    if (!stopped && at >= 2 * 1024 * 1024) {
      stopped = true;
      // Whichever server is in use goes away.
      const inUse = s.proxy.replicaState()!.current!.id;
      await s.servers[inUse === 'a' ? 0 : 1]!.stop();
    }
  });
  t.true(stopped);
  t.true(data.equals(pattern(BIG, 7)), 'bytes match the original');
  t.true(s.events.some((e) => e.kind === 'failed'), JSON.stringify(s.events));
  const snap = s.proxy.counters.snapshot();
  t.is(snap.replicas!.failovers, 1);
  t.true(Object.values(snap.replicas!.bytesFrom).filter((n) => n > 0).length === 2, 'bytes came from both servers');
  t.is(snap.bytes.fromMain, Object.values(snap.replicas!.bytesFrom).reduce((a, b) => a + b, 0), 'bytes from main are the sum over the replicas');
  t.true(snap.bytes.fromMain >= BIG);
});

test('a replica with one wrong byte is caught: the client gets the right bytes from the good one', async (t) => {
  const s = await setup(t, { tamper: true });
  const data = await readAll(s.client, 'd/big.bin');
  t.true(data.equals(pattern(BIG, 7)), 'bytes match the original');
  const snap = s.proxy.counters.snapshot();
  t.true(snap.replicas!.verifyFailures >= 1);
  t.deepEqual(snap.replicas!.badServers, ['server-a']);
  t.true(s.events.some((e) => e.kind === 'bad' && e.server.id === 'a'));
  // Everything after the switch came from b.
  t.is(s.proxy.replicaState()!.current!.id, 'b');
});

test('the small file and directory listing pass through path handles', async (t) => {
  const s = await setup(t);
  t.is((await readAll(s.client, 'small.txt')).toString(), 'small\n');
  const res = expectOk(await s.client.nfs.readdirplus({ dir: s.client.root, cookie: 0n, cookieverf: new Uint8Array(8), dircount: 4096, maxcount: 32768 }), 'READDIRPLUS');
  t.deepEqual(res.entries.map((e) => e.name).filter((n) => n !== '.' && n !== '..').sort(), ['d', 'small.txt']);
});
