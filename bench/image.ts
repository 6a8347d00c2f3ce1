// bench:image — the image service between real `overlay up` nodes behind NATs (network namespaces,
// iptables NATs): the server and the client behind endpoint-independent NATs with a direct overlay
// link, a replica behind a third. In one run, against the overlay's own TCP rate between the two:
//   overlay_tcp_mbps        iperf3 between the client's and the server's virtual IPs
//   image_direct_read_mbps  a 256 MB file straight from the server's export (nfs-cat, no proxy)
//   image_cold_read_mbps    the same file through `overlay image mount`, cold
//   image_warm_read_mbps    again (block cache)
//   resolve_ms              from `image mount` starting to the proxy serving (its own report)
//   failover_stall_s        longest gap in bytes arriving while the serving node is SIGKILLed mid-read
//   failover_client_errors  reads that failed or returned wrong bytes in that case
//   tampered_blocks_served  64 KiB blocks the client got wrong from a mount whose first server lies
//   publish_hash_mbps       manifest hashing speed (buildManifest over the tree)
// Prints a table; writes bench/results/image.json.
import { createHash } from 'node:crypto';
import { closeSync, cpSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { buildManifest } from '../rowfs/image/manifest-tree.js';
import { ImageNet, imageNfsUrl, mountCounters, waitUntil } from '../simulations/netns/image-net.js';
import { writeBenchResults, type Figures } from './results-file.js';

const FILE_BYTES = 256 * 1024 * 1024;
const BLOCK = 65536;
const SERVER = 0;
const REPLICA = 1;
const CLIENT = 2;
const TTL_S = 12;

const figures: Figures = {};
function figure(name: string, value: number, unit: string): void {
  figures[name] = { value: Math.round(value * 1000) / 1000, unit };
  console.log(`${name.padEnd(26)} ${String(figures[name]!.value).padStart(10)} ${unit}`);
}

function fill(path: string, bytes: number, seed: number): void {
  const chunk = Buffer.alloc(1 << 20);
  createHash('sha256').update(String(seed)).digest().copy(chunk);
  for (let i = 32; i < chunk.length; i += 32) chunk.copy(chunk, i, 0, 32);
  const fd = openSync(path, 'w');
  for (let at = 0; at < bytes; at += chunk.length) {
    chunk.writeUInt32BE(at >>> 20, 0);
    writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - at));
  }
  closeSync(fd);
}

/**
 * A reader on the client node: nfs-cat into a small meter that reports the bytes, the SHA-256 of
 * each 64 KiB block, and the longest gap between arriving chunks.
 */
const METER = `let n=0,last=Date.now(),gap=0,cur=Buffer.alloc(0);const c=require('crypto');const blocks=[];
process.stdin.on('data',d=>{const now=Date.now();gap=Math.max(gap,now-last);last=now;n+=d.length;cur=Buffer.concat([cur,d]);
while(cur.length>=${BLOCK}){blocks.push(c.createHash('sha256').update(cur.subarray(0,${BLOCK})).digest('hex'));cur=cur.subarray(${BLOCK});}});
process.stdin.on('end',()=>{if(cur.length)blocks.push(c.createHash('sha256').update(cur).digest('hex'));console.log(JSON.stringify({bytes:n,maxGapMs:gap,blocks}))});`;

async function meteredRead(net: ImageNet, url: string): Promise<{ ok: boolean; bytes: number; maxGapMs: number; blocks: string[]; seconds: number }> {
  const t0 = performance.now();
  try {
    const out = await net.run(CLIENT, 'bash', ['-o', 'pipefail', '-c', `nfs-cat '${url}' | ${process.execPath} -e "${METER}"`], 600_000);
    return { ok: true, ...(JSON.parse(out) as { bytes: number; maxGapMs: number; blocks: string[] }), seconds: (performance.now() - t0) / 1000 };
  } catch (e) {
    console.error(`read failed: ${(e as Error).message.slice(0, 300)}`);
    return { ok: false, bytes: 0, maxGapMs: 0, blocks: [], seconds: (performance.now() - t0) / 1000 };
  }
}

function blockHashes(path: string): string[] {
  const data = readFileSync(path);
  const out: string[] = [];
  for (let at = 0; at < data.length; at += BLOCK) out.push(createHash('sha256').update(data.subarray(at, at + BLOCK)).digest('hex'));
  return out;
}

const mbps = (bytes: number, s: number) => (bytes * 8) / 1e6 / s;

async function main(): Promise<void> {
  const net = await ImageNet.create({ nats: ['eim', 'eim', 'eim'], tag: 'bim' });
  try {
    const tree = join(net.root, 'v1');
    mkdirSync(tree);
    fill(join(tree, 'big.bin'), FILE_BYTES, 1);
    fill(join(tree, 'fail.bin'), FILE_BYTES, 2);
    fill(join(tree, 'tamper.bin'), 32 * 1024 * 1024, 3);
    cpSync(tree, join(net.root, 'replica'), { recursive: true });
    cpSync(tree, join(net.root, 'bad'), { recursive: true });

    const h0 = performance.now();
    const m = await buildManifest(tree, { blockSize: BLOCK });
    const hashed = m.entries.reduce((n, e) => n + (e.type === 'file' ? e.size : 0), 0);
    figure('publish_hash_mbps', hashed / 1e6 / ((performance.now() - h0) / 1000), 'MB/s');

    for (const i of [SERVER, REPLICA, CLIENT]) await net.up(i);
    const ttl = ['--ttl', String(TTL_S)];
    await net.image(SERVER, ['publish', 'app', '1', tree, ...ttl]).waitFor(/published app 1/, 120_000);
    await net.image(REPLICA, ['serve', 'app', '1', join(net.root, 'replica'), ...ttl]).waitFor(/serving app 1/, 120_000);

    // A direct link between client and server: traffic asks for a shortcut.
    const server = net.node(SERVER);
    await net.run(CLIENT, 'ping', ['-c', '300', '-i', '0.005', '-q', '-W', '1', server.vip]).catch(() => undefined);
    const direct = await waitUntil('a direct link client-server', async () => ((await net.status(CLIENT)).links.some((l) => l.remote === server.ring && l.path === 'direct') ? true : undefined), 60_000).catch(() => false);
    console.log(`client-server link: ${direct ? 'direct' : 'NOT direct'}`);

    const iperf = net.topo.spawn(SERVER, 'iperf3', ['-s', '-1', '-B', server.vip]);
    await new Promise((r) => setTimeout(r, 500));
    const ip = JSON.parse(await net.run(CLIENT, 'iperf3', ['-c', server.vip, '-t', '8', '-J'], 60_000)) as { end: { sum_received: { bits_per_second: number } } };
    figure('overlay_tcp_mbps', ip.end.sum_received.bits_per_second / 1e6, 'Mbit/s');
    await iperf.kill(2000);

    const listing = await net.ls(CLIENT, 'app');
    const srv = listing.apps[0]!.versions[0]!.servers.find((s) => s.vip === server.vip)!;
    const directRead = await meteredRead(net, imageNfsUrl(server.vip, srv.nfsPort, 'app', '1', 'big.bin', (await net.status(SERVER)).images.find((i) => i.role === 'serve')!.detail.mountPort as number));
    figure('image_direct_read_mbps', mbps(directRead.bytes, directRead.seconds), 'Mbit/s');

    const store = join(net.root, 'mount');
    const mount = net.image(CLIENT, ['mount', 'app', '--listen', '2049', '--host', '127.0.0.1', '--store', store, ...ttl]);
    figure('resolve_ms', Number((await mount.waitFor(/mounted app 1 .* in (\d+) ms/, 60_000))[1]), 'ms');
    const url = (file: string) => imageNfsUrl('127.0.0.1', 2049, 'app', '1', file);
    const cold = await meteredRead(net, url('big.bin'));
    figure('image_cold_read_mbps', mbps(cold.bytes, cold.seconds), 'Mbit/s');
    const warm = await meteredRead(net, url('big.bin'));
    figure('image_warm_read_mbps', mbps(warm.bytes, warm.seconds), 'Mbit/s');

    // Failover: the serving node dies once 64 MB of fail.bin arrived.
    const before = mountCounters(store).bytes.toClient;
    const reading = meteredRead(net, url('fail.bin'));
    await waitUntil('64 MB', async () => (mountCounters(store).bytes.toClient - before > 64e6 ? true : undefined), 300_000);
    const serving = String((await net.status(CLIENT)).images.find((i) => i.role === 'mount')!.detail.server).split(':')[0];
    const victim = [...net.nodes.entries()].find(([, n]) => n.vip === serving)![0];
    process.kill(net.node(victim).up.pid, 'SIGKILL');
    const failed = await reading;
    const expectFail = blockHashes(join(tree, 'fail.bin'));
    const wrong = failed.blocks.length !== expectFail.length || failed.blocks.some((b, i) => b !== expectFail[i]);
    figure('failover_stall_s', failed.maxGapMs / 1000, 's');
    figure('failover_client_errors', !failed.ok || wrong ? 1 : 0, 'reads');
    await mount.kill(10_000);

    // A lying server first in line: the client node serves a copy tampered after its check.
    const bad = join(net.root, 'bad');
    await net.image(CLIENT, ['serve', 'app', '1', bad, ...ttl]).waitFor(/serving app 1/, 120_000);
    const fd = openSync(join(bad, 'tamper.bin'), 'r+');
    for (const at of [0, 7 * BLOCK + 5, 300 * BLOCK + 1]) writeSync(fd, Buffer.from([0xa5]), 0, 1, at);
    closeSync(fd);
    const store2 = join(net.root, 'mount2');
    const mount2 = net.image(CLIENT, ['mount', 'app', '--listen', '2050', '--host', '127.0.0.1', '--store', store2, ...ttl]);
    await mount2.waitFor(/mounted app 1/, 60_000);
    const tampered = await meteredRead(net, imageNfsUrl('127.0.0.1', 2050, 'app', '1', 'tamper.bin'));
    const expectT = blockHashes(join(tree, 'tamper.bin'));
    figure('tampered_blocks_served', tampered.blocks.filter((b, i) => b !== expectT[i]).length + Math.abs(tampered.blocks.length - expectT.length), 'blocks');
    console.log(`tamper case: verification failures ${mountCounters(store2).replicas?.verifyFailures}, bad servers ${mountCounters(store2).replicas?.badServers.join(', ')}`);
    await mount2.kill(10_000);
  } finally {
    await net.destroy();
  }
  const f = (n: string) => figures[n]?.value ?? NaN;
  console.log('');
  console.log(`cold read ${(f('image_cold_read_mbps') / f('overlay_tcp_mbps')).toFixed(2)} x overlay TCP (target >= 0.7); stall ${f('failover_stall_s')} s (<= 3); errors ${f('failover_client_errors')} (0); tampered ${f('tampered_blocks_served')} (0); resolve ${f('resolve_ms')} ms (<= 500)`);
  console.log(`wrote ${writeBenchResults('image', figures)}`);
}

void main().catch((e) => {
  console.error(`bench:image failed: ${(e as Error).stack ?? String(e)}`);
  process.exit(1);
});
