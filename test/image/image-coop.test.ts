// Block sharing between mounts of one image version, for real: `overlay up` nodes in network
// namespaces behind NATs (the publisher and two mounts behind endpoint-independent NATs, a third
// mount behind a symmetric one), libnfs reading through each mount. Steps share the network:
//   A reads the boot set from the server; B then gets nearly all of it from A, bytes equal;
//   A's shadow (a new file, an overwritten file) is never served: C gets the image's bytes, and
//   asking A's peer endpoint directly for the new file gets nothing;
//   a peer SIGKILLed in the middle of a transfer costs the reader nothing;
//   a peer whose cache was corrupted is caught: the reader gets the right bytes, the peer is
//   dropped, counted and shown in `overlay status`;
//   of two mounts on one node, the one that stops hands the node's sharer record to the other, and
//   so does a serve process the node's server record.
import anyTest, { type TestFn } from 'ava';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImageNet, OVERLAY_BIN, fillDistinctBlocks, imageNfsUrl, mountCounters, waitUntil } from '../../simulations/netns/image-net.js';
import type { Proc } from '../../simulations/harness/proc.js';
import { pathHandle } from '../../rowfs/proxy/replicated-main.js';
import { hex } from '../../rowfs/state/store.js';
import { controlRequest } from '../../src/control/client.js';
import { registryKeys } from '../../rowfs/image/names.js';
import { decodeServerRecord, decodeSharerRecord } from '../../rowfs/image/records.js';

const TTL_S = 6;
const PUBLISHER = 0;
const A = 1;
const B = 2;
const C = 3;
const PORT = 2049;
const BLOCK = 65536;
const FILES: Record<string, number> = { 'boot.bin': 24 * 1024 * 1024, 'lib/libc.so': 3 * 1024 * 1024 + 4321, 'etc/config': 12_345 };
const TOTAL = Object.values(FILES).reduce((a, b) => a + b, 0);

interface Ctx {
  net: ImageNet;
  mounts: Map<string, { proc: Proc; store: string; node: number; endpoint: string }>;
  /** Serve and publish processes, the publisher's first. */
  serves: Proc[];
}
const test = anyTest as TestFn<Ctx>;

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const original = (t: { context: Ctx }, file: string) => sha(join(t.context.net.root, 'v1', file));

type PeerCounters = { bytes: { fromMain: number; toClient: number }; peers?: { bytes: number; rejectedBlocks: number; badPeers: string[]; failures: number; bytesFrom: Record<string, number> } };
const counters = (store: string) => mountCounters(store) as unknown as PeerCounters;

async function readSha(net: ImageNet, node: number, file: string): Promise<string> {
  const out = await net.run(node, 'sh', ['-c', `nfs-cat '${imageNfsUrl('127.0.0.1', PORT, 'app', '1', file)}' | sha256sum`], 120_000);
  return out.split(/\s/)[0]!;
}

/** A mount of app 1 on `node` with its own store; resolves once it serves (and shares). */
async function mount(t: { context: Ctx }, name: string, node: number, extra: string[] = [], store = join(t.context.net.root, `store-${name}`)): Promise<{ proc: Proc; store: string; endpoint: string }> {
  const proc = t.context.net.image(node, ['mount', 'app', '--listen', String(PORT), '--store', store, '--ttl', String(TTL_S), ...extra]);
  const endpoint = (await proc.waitFor(/sharing verified blocks on (\d+\.\d+\.\d+\.\d+:\d+)|block sharing (off)/, 60_000))[1] ?? 'off';
  const m = { proc, store, node, endpoint };
  t.context.mounts.set(name, m);
  return m;
}

async function unmount(t: { context: Ctx }, name: string): Promise<void> {
  await t.context.mounts.get(name)?.proc.kill(10_000);
  t.context.mounts.delete(name);
}

/** Counters once the mount has written them after everything read so far (every second). */
async function settled(store: string): Promise<PeerCounters> {
  await new Promise((r) => setTimeout(r, 1500));
  return counters(store);
}

test.before(async (t) => {
  const net = await ImageNet.create({ nats: ['eim', 'eim', 'eim', 'symmetric'], tag: 'coop' });
  t.context = { net, mounts: new Map(), serves: [] };
  const v1 = join(net.root, 'v1');
  mkdirSync(join(v1, 'lib'), { recursive: true });
  mkdirSync(join(v1, 'etc'), { recursive: true });
  let seed = 1;
  for (const [f, n] of Object.entries(FILES)) fillDistinctBlocks(join(v1, f), n, String(seed++));
  for (const i of [PUBLISHER, A, B, C]) await net.up(i);
  const pub = net.image(PUBLISHER, ['publish', 'app', '1', v1, '--ttl', String(TTL_S)]);
  t.context.serves.push(pub);
  await pub.waitFor(/published app 1/, 120_000);
});

test.after.always(async (t) => {
  for (const m of t.context.mounts?.values() ?? []) await m.proc.kill(5_000).catch(() => undefined);
  for (const p of t.context.serves ?? []) await p.kill(5_000).catch(() => undefined);
  await t.context.net?.destroy();
});

test.serial('a second mount gets the boot set from the first one, not the server; the bytes match', async (t) => {
  const { net } = t.context;
  const a = await mount(t, 'a', A);
  for (const f of Object.keys(FILES)) t.is(await readSha(net, A, f), original(t, f), `A ${f}`);
  const ca = await settled(a.store);
  t.true(ca.bytes.fromMain >= TOTAL, `A read ${ca.bytes.fromMain} bytes from the server`);
  t.is(ca.peers?.bytes ?? 0, 0, 'A had no peer');

  const b = await mount(t, 'b', B);
  for (const f of Object.keys(FILES)) t.is(await readSha(net, B, f), original(t, f), `B ${f}`);
  const cb = await settled(b.store);
  t.log(`B: ${cb.peers!.bytes} bytes from peers ${JSON.stringify(cb.peers!.bytesFrom)}, ${cb.bytes.fromMain} from the server`);
  t.true(cb.peers!.bytes >= 0.9 * TOTAL, `B got ${cb.peers!.bytes} of ${TOTAL} bytes from peers`);
  t.true(cb.bytes.fromMain <= 0.1 * TOTAL, `B got ${cb.bytes.fromMain} bytes from the server`);
  t.deepEqual(Object.keys(cb.peers!.bytesFrom), [a.endpoint]);
  t.is(cb.peers!.rejectedBlocks, 0);
});

test.serial("a mount's shadow is never served: peers get the image's bytes, and nothing of a file only the shadow has", async (t) => {
  const { net } = t.context;
  const a = t.context.mounts.get('a')!;
  // A's user creates a file and overwrites the first blocks of an image file: both live in A's shadow only.
  const secret = join(net.root, 'secret.txt');
  writeFileSync(secret, 'private to A\n'.repeat(10_000));
  await net.run(A, 'nfs-cp', [secret, imageNfsUrl('127.0.0.1', PORT, 'app', '1', 'etc/secret.txt')]);
  const write = `
    import { openExport } from '${fileURLToPath(new URL('../../rowfs/mount/open-export.js', import.meta.url))}';
    const ex = await openExport({ host: '127.0.0.1', exportPath: '/images/app/1', nfsPort: ${PORT}, mountPort: ${PORT}, timeoutMs: 10000 });
    const lib = await ex.nfs.call('LOOKUP', { what: { dir: ex.root, name: 'lib' } });
    const f = await ex.nfs.call('LOOKUP', { what: { dir: lib.object, name: 'libc.so' } });
    const data = Buffer.alloc(${4 * BLOCK}, 0x41);
    const w = await ex.nfs.call('WRITE', { file: f.object, offset: 0n, count: data.length, stable: 2, data });
    await ex.close();
    console.log(w.status);`;
  t.is((await net.run(A, process.execPath, ['--input-type=module', '-e', write])).trim(), '0', 'WRITE through A: OK');
  const written = Buffer.from(readFileSync(join(net.root, 'v1', 'lib', 'libc.so')));
  written.fill(0x41, 0, 4 * BLOCK);
  t.is(await readSha(net, A, 'lib/libc.so'), createHash('sha256').update(written).digest('hex'), "A's user sees its own write");
  // Asked straight, A's peer endpoint has the image's blocks of libc.so and nothing of secret.txt.
  const [host, port] = a.endpoint.split(':');
  const probe = `
    import { createHash } from 'node:crypto';
    import { PeerConnection } from '${fileURLToPath(new URL('../../rowfs/peer/peer-connection.js', import.meta.url))}';
    import { peerFileId } from '${fileURLToPath(new URL('../../rowfs/peer/peer-fetcher.js', import.meta.url))}';
    const c = await PeerConnection.open({ host: '${host}', port: ${port} });
    const out = {};
    for (const f of ['lib/libc.so', 'etc/secret.txt']) {
      const r = await c.get(peerFileId(f), 0, 4);
      out[f] = r.blocks.map((b) => (b ? createHash('sha256').update(b).digest('hex') : null));
    }
    c.close();
    console.log(JSON.stringify(out));`;
  const got = JSON.parse(await net.run(C, process.execPath, ['--input-type=module', '-e', probe])) as Record<string, Array<string | null>>;
  const libc = readFileSync(join(net.root, 'v1', 'lib', 'libc.so'));
  t.deepEqual(got['lib/libc.so'], [0, 1, 2, 3].map((i) => createHash('sha256').update(libc.subarray(i * BLOCK, (i + 1) * BLOCK)).digest('hex')), "the image's blocks, not A's write");
  t.deepEqual(got['etc/secret.txt'], [null, null, null, null], 'nothing of a file only in the shadow');
  // A third mount, behind a symmetric NAT, reads the image's libc.so (from A and B).
  const c = await mount(t, 'c', C);
  t.is(await readSha(net, C, 'lib/libc.so'), original(t, 'lib/libc.so'));
  const cc = await settled(c.store);
  t.true(cc.peers!.bytes >= FILES['lib/libc.so']! * 0.9, JSON.stringify(cc.peers));
  await unmount(t, 'c');
});

test.serial('a peer SIGKILLed in the middle of a transfer: the read completes with the right bytes', async (t) => {
  const { net } = t.context;
  // Only B holds the blocks now (A stops); B gives each peer 4 MiB/s, so the read lasts seconds.
  await unmount(t, 'a');
  await unmount(t, 'b');
  const b = await mount(t, 'b', B, ['--upload-peer-bytes-per-s', String(4 << 20)], join(net.root, 'store-b'));
  const c = await mount(t, 'c2', C);
  // The server 40 ms away, so the read lasts well past B's death whatever the machine's speed.
  await net.topo.setDelay(PUBLISHER, 20);
  t.teardown(() => net.topo.setDelay(PUBLISHER, 0));
  let finished = false;
  const read = readSha(net, C, 'boot.bin').finally(() => (finished = true));
  await waitUntil('bytes from B', async () => ((counters(c.store).peers?.bytes ?? 0) > 0 ? true : undefined), 30_000);
  const before = counters(c.store).peers!.bytes;
  t.false(finished, 'B dies while the read is under way');
  process.kill(b.proc.pid, 'SIGKILL');
  t.log(`B killed after ${before} bytes from it`);
  t.is(await read, original(t, 'boot.bin'), 'no client error, the right bytes');
  const cc = await settled(c.store);
  t.log(`C: ${cc.peers!.bytes} bytes from peers, ${cc.bytes.fromMain} from the server, ${cc.peers!.failures} failed peer requests`);
  t.true(cc.peers!.bytes > 0 && cc.peers!.bytes < FILES['boot.bin']!, 'part from the peer');
  t.true(cc.bytes.fromMain > 0, 'the rest from the server');
  t.true(cc.peers!.failures >= 1, 'requests to B were under way when it died');
  t.is(cc.peers!.rejectedBlocks, 0);
  await net.topo.setDelay(PUBLISHER, 0);
  await unmount(t, 'c2');
  t.context.mounts.delete('b');
});

test.serial('a peer serving a corrupted block is caught: the reader gets the right bytes, the peer is dropped and shown', async (t) => {
  const { net } = t.context;
  // A's block cache is corrupted on disk (a lying or broken peer), then A serves again.
  const storeA = join(net.root, 'store-a');
  const cacheRoot = join(storeA, 'state', 'cache');
  const key = createHash('sha1').update(hex(pathHandle('boot.bin'))).digest('hex');
  const dir = readdirSync(cacheRoot).find((d) => readdirSync(join(cacheRoot, d, 'blocks')).includes(key))!;
  const fd = openSync(join(cacheRoot, dir, 'blocks', key), 'r+');
  for (let b = 0; b < FILES['boot.bin']! / BLOCK; b += 7) writeSync(fd, Buffer.from([0xff, 0x00, 0xff]), 0, 3, b * BLOCK + 100);
  closeSync(fd);
  const a = await mount(t, 'a', A, [], storeA);
  const c = await mount(t, 'c3', C);
  t.is(await readSha(net, C, 'boot.bin'), original(t, 'boot.bin'), 'the client got the right bytes');
  const cc = await settled(c.store);
  t.log(`C: ${JSON.stringify(cc.peers)}`);
  t.true(cc.peers!.rejectedBlocks >= 1, 'the corrupted block was refused');
  t.deepEqual(cc.peers!.badPeers, [a.endpoint], 'and its peer dropped');
  t.is(cc.peers!.bytes, 0, 'nothing of the liar was used');
  const status = await waitUntil('status shows the bad peer', async () => {
    const out = (await net.cli(C, ['status'])).output;
    return out.includes(`bad peers: ${a.endpoint}`) ? out : undefined;
  }, 20_000);
  t.regex(status, /blocks rejected [1-9]/);
  const stats = await net.run(C, process.execPath, [OVERLAY_BIN, 'rowfs', '--stats', '--state', join(c.store, 'state')]);
  t.regex(stats, /bad peers .*: \S+/);
});

test.serial('boot trace: a mount attaches the order it read blocks; a cold mount fetches them ahead of its client', async (t) => {
  const { net } = t.context;
  const traced = ['etc/config', 'lib/libc.so', 'boot.bin'];
  const rec = await mount(t, 'recorder', B, ['--no-share', '--publish-trace']);
  for (const f of traced) t.is(await readSha(net, B, f), original(t, f));
  // Attached at every refresh while it grows: the last one holds every block of the traced files, once.
  const blocks = Math.ceil(FILES['etc/config']! / BLOCK) + Math.ceil(FILES['lib/libc.so']! / BLOCK) + FILES['boot.bin']! / BLOCK;
  await rec.proc.waitFor(new RegExp(`attached a boot trace of ${blocks} blocks`), 20_000);
  await unmount(t, 'recorder');

  const cold = await mount(t, 'cold', B, ['--no-share']);
  await cold.proc.waitFor(new RegExp(`prefetching a boot trace of ${blocks} blocks`), 10_000);
  for (const f of traced) t.is(await readSha(net, B, f), original(t, f), `${f} right through the prefetch`);
  const c = (await settled(cold.store)) as PeerCounters & { prefetch?: { tracedBlocks: number; fetchedBlocks: number; hitBlocks: number; wasteBlocks: number; stopped: string | null } };
  t.log(`prefetch: ${JSON.stringify(c.prefetch)}`);
  t.is(c.prefetch!.tracedBlocks, blocks);
  // On this delay-free link the client's own read-ahead races the prefetch (bench:coop measures it at 23 ms).
  t.true(c.prefetch!.hitBlocks > 0, 'blocks fetched before the client asked for them, then read by it');
  t.is(c.prefetch!.stopped, 'trace done');
  t.is(c.prefetch!.wasteBlocks, 0, 'the client read everything fetched ahead');
  const status = await waitUntil('status shows the prefetch', async () => {
    const out = (await net.cli(B, ['status'])).output;
    return /prefetch \d+ blocks, \d+ hits/.test(out) ? out : undefined;
  }, 20_000);
  t.regex(status, /prefetch \d+ blocks/);
});

test.serial("two mounts of the version on one node: the one that stops hands the node's sharer record to the other", async (t) => {
  const { net } = t.context;
  const a = t.context.mounts.get('a')!;
  // A second mount on A that refreshes rarely (TTL 60 s: every 20 s), so only a handover can make
  // the record name it soon after `a`, which refreshes every TTL_S / 3, has stopped.
  const second = net.image(A, ['mount', 'app', '--listen', String(PORT + 1), '--store', join(net.root, 'store-a2'), '--ttl', '60']);
  t.context.mounts.set('a2', { proc: second, store: join(net.root, 'store-a2'), node: A, endpoint: '' });
  const endpoint = (await second.waitFor(/sharing verified blocks on (\d+\.\d+\.\d+\.\d+:\d+)/, 60_000))[1]!;
  t.not(endpoint, a.endpoint);
  const sock = join(net.node(A).state, 'control.sock');
  const key = new TextDecoder().decode(registryKeys.sharers('app', '1'));
  const fetched = async () => (await controlRequest(sock, { op: 'dht-fetch', key })) as Array<{ valueB64: string; ttlMs: number }>;
  const ours = (records: Array<{ valueB64: string; ttlMs: number }>) =>
    records.map((r) => ({ ...decodeSharerRecord(Buffer.from(r.valueB64, 'base64')).value, ttlMs: r.ttlMs })).filter((r) => r.peer && [a.endpoint, endpoint].includes(`${r.peer.vip}:${r.peer.port}`));
  const named = async (): Promise<string[]> => ours(await fetched()).map((r) => `${r.peer!.vip}:${r.peer!.port}`);
  // `a` refreshes last: the node's record names a's endpoint.
  t.deepEqual(await waitUntil("the record names a's endpoint", async () => ((await named()).join() === a.endpoint ? true : undefined), 3 * TTL_S * 1000), true);
  await unmount(t, 'a');
  t.regex(a.proc.output(), /another mount of app 1 on this node keeps its sharer record/);
  const handed = ours(await fetched());
  t.deepEqual(handed.map((r) => `${r.peer!.vip}:${r.peer!.port}`), [endpoint], "right after a's stop the record names the mount still running, not a's closed port");
  // Written with the remaining mount's TTL (60 s), not a's (TTL_S): it lives until that one's next refresh, 20 s away at most.
  t.true(handed[0]!.ttlMs > 3 * TTL_S * 1000, `record TTL left ${handed[0]!.ttlMs} ms`);
  await unmount(t, 'a2');
});

test.serial("two serve processes of the version on one node: the one that stops hands the node's server record to the other", async (t) => {
  const { net } = t.context;
  const pub = t.context.serves[0]!;
  const serving = async () => (await net.status(PUBLISHER)).images.filter((i) => i.role === 'serve' && i.app === 'app' && i.version === '1').map((i) => Number(i.detail.nfsPort));
  const [pubPort] = await serving();
  // A second serve process of the version that refreshes rarely (TTL 60 s: every 20 s), so only a
  // handover makes the record name it soon after the publisher's process, refreshing every TTL_S / 3, stops.
  const second = net.image(PUBLISHER, ['serve', 'app', '1', join(net.root, 'v1'), '--ttl', '60']);
  t.context.serves.push(second);
  await second.waitFor(/serving app 1/, 120_000);
  const secondPort = (await serving()).find((p) => p !== pubPort)!;
  t.truthy(secondPort);
  const sock = join(net.node(PUBLISHER).state, 'control.sock');
  const key = new TextDecoder().decode(registryKeys.servers('app', '1'));
  const fetched = async () =>
    ((await controlRequest(sock, { op: 'dht-fetch', key })) as Array<{ valueB64: string; ttlMs: number }>)
      .map((r) => ({ ...decodeServerRecord(Buffer.from(r.valueB64, 'base64')).value, ttlMs: r.ttlMs }))
      .filter((r) => r.vip === net.node(PUBLISHER).vip);
  const named = async (): Promise<number[]> => (await fetched()).map((r) => r.nfsPort);
  t.true(await waitUntil("the record names the publisher's port", async () => ((await named()).join() === String(pubPort) ? true : undefined), 3 * TTL_S * 1000));
  await pub.kill(10_000);
  t.regex(pub.output(), /another serve process of app 1 on this node keeps its server record/);
  const handed = await fetched();
  t.deepEqual(handed.map((r) => r.nfsPort), [secondPort], "right after the publisher's process stops the record names the serve process still running");
  // Written with the remaining process's TTL (60 s), not the publisher's (TTL_S): it lives until that one's next refresh.
  t.true(handed[0]!.ttlMs > 3 * TTL_S * 1000, `record TTL left ${handed[0]!.ttlMs} ms`);
  await second.kill(10_000);
});
