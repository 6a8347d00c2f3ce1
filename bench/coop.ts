// bench:coop — mounts of one image version sharing verified blocks, and boot-trace prefetch, between
// real `overlay up` nodes in network namespaces behind endpoint-independent NATs: the publisher
// and eight client nodes, the publisher's router adding a wide-area delay (11.5 ms each way). Every
// client reads the same boot set (kernel, initrd, libraries, many small configuration files; a
// larger file of the image is never read) with libnfs's nfs-cat, one file after another.
//   clients                        mounts started one after another, each reading once the previous one finished
//   one_client_server_bytes        bytes the server sent a lone client reading the boot set
//   server_bytes_total             bytes the server sent all clients together, with sharing
//   server_bytes_total_no_sharing  the same with --no-share
//   bad_blocks_accepted            64 KiB blocks any client read wrong; client 2's cache is corrupted once it has read (a lying peer)
//   blocks_rejected                peer blocks the clients refused (the liar's)
//   rtt_ms                         ping from a client to the publisher's virtual IP
//   cold_read_s_no_prefetch        the boot set read by one cold client (--no-share --no-prefetch), server only
//   cold_read_s_prefetch           the same with the boot trace a first mount attached (--publish-trace)
// Prints a table; writes bench/results/coop.json (with the plot of server bytes per client).
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { ImageNet, fillDistinctBlocks, imageNfsUrl, mountCounters } from '../simulations/netns/image-net.js';
import type { BarsPlot } from './plot-spec.js';

const CLIENTS = 8;
const PUBLISHER = 0;
const BLOCK = 65536;
const TTL_S = 9;
const PORT = 2049;
const ONE_WAY_DELAY_MS = 11.5;
/** Cold-read pairs (no prefetch, prefetch), alternated. */
const COLD_PAIRS = 2;

type Figures = Record<string, { value: number; unit: string }>;
const figures: Figures = {};
function figure(name: string, value: number, unit: string): void {
  figures[name] = { value: Math.round(value * 1000) / 1000, unit };
  console.log(`${name.padEnd(30)} ${String(figures[name]!.value).padStart(12)} ${unit}`);
}

/** The boot set (read by every client, in this order) and a file of the image nobody reads. */
function bootSet(): Array<[string, number]> {
  const files: Array<[string, number]> = [['boot/vmlinuz', 6 << 20], ['boot/initrd.img', 10 << 20]];
  for (let i = 0; i < 40; i++) files.push([`usr/lib/lib${i}.so`, 256 * 1024 + i * 977]);
  for (let i = 0; i < 160; i++) files.push([`etc/conf${i}`, 4096 + ((i * 7919) % 28_000)]);
  return files;
}

const blocksOf = (data: Buffer) => Array.from({ length: Math.ceil(data.length / BLOCK) }, (_, i) => createHash('sha256').update(data.subarray(i * BLOCK, (i + 1) * BLOCK)).digest('hex'));

interface MountCounters {
  bytes: { fromMain: number };
  peers?: { bytes: number; rejectedBlocks: number; badPeers: string[]; bytesFrom: Record<string, number> };
  prefetch?: { tracedBlocks: number; fetchedBlocks: number; hitBlocks: number; wasteBlocks: number };
}

async function main(): Promise<void> {
  const net = await ImageNet.create({ nats: Array(CLIENTS + 1).fill('eim'), tag: 'bco' });
  try {
    const tree = join(net.root, 'v1');
    const files = bootSet();
    for (const [f, n] of files) {
      mkdirSync(join(tree, f, '..'), { recursive: true });
      fillDistinctBlocks(join(tree, f), n, f);
    }
    mkdirSync(join(tree, 'usr/share'), { recursive: true });
    fillDistinctBlocks(join(tree, 'usr/share/unread.dat'), 64 << 20, 'unread');
    const bootBytes = files.reduce((n, [, b]) => n + b, 0);
    const bootBlocks = files.reduce((n, [, b]) => n + Math.ceil(b / BLOCK), 0);
    const want = new Map(files.map(([f]) => [f, blocksOf(readFileSync(join(tree, f)))]));
    console.log(`boot set: ${files.length} files, ${(bootBytes / 1e6).toFixed(1)} MB, ${bootBlocks} blocks`);

    for (let i = 0; i <= CLIENTS; i++) await net.up(i);
    const ttl = ['--ttl', String(TTL_S)];
    await net.image(PUBLISHER, ['publish', 'app', '1', tree, ...ttl]).waitFor(/published app 1/, 120_000);
    await net.topo.setDelay(PUBLISHER, ONE_WAY_DELAY_MS);
    const ping = await net.run(1, 'ping', ['-c', '20', '-i', '0.2', '-q', net.node(PUBLISHER).vip], 60_000);
    const avg = /= [\d.]+\/([\d.]+)\//.exec(ping);
    figure('rtt_ms', avg ? Number(avg[1]) : NaN, 'ms');

    let storeN = 0;
    /** A mount on node i with a fresh store; resolves once it serves. */
    const mount = async (i: number, extra: string[]) => {
      const store = join(net.root, `store-${++storeN}`);
      const proc = net.image(i, ['mount', 'app', '--listen', String(PORT), '--store', store, ...ttl, ...extra]);
      await proc.waitFor(/sharing verified blocks on|block sharing off/, 60_000);
      return { proc, store };
    };
    /** nfs-cat of every boot file on node i into a directory; seconds taken and blocks read wrong. */
    const readBoot = async (i: number): Promise<{ seconds: number; badBlocks: number }> => {
      const out = join(net.root, `out-${storeN}`);
      mkdirSync(out);
      const script = files.map(([f], k) => `nfs-cat '${imageNfsUrl('127.0.0.1', PORT, 'app', '1', f)}' > ${join(out, String(k))} || exit 1`).join('\n');
      writeFileSync(join(out, 'read.sh'), script);
      const t0 = performance.now();
      await net.run(i, 'sh', [join(out, 'read.sh')], 600_000);
      const seconds = (performance.now() - t0) / 1000;
      let badBlocks = 0;
      files.forEach(([f], k) => {
        const got = blocksOf(readFileSync(join(out, String(k))));
        const w = want.get(f)!;
        for (let b = 0; b < Math.max(got.length, w.length); b++) if (got[b] !== w[b]) badBlocks++;
      });
      return { seconds, badBlocks };
    };
    const settled = async (store: string): Promise<MountCounters> => {
      await new Promise((r) => setTimeout(r, 1500));
      return mountCounters(store) as unknown as MountCounters;
    };

    // Without sharing: each client alone against the server, one after another.
    const noShare: number[] = [];
    for (let i = 1; i <= CLIENTS; i++) {
      const m = await mount(i, ['--no-share', '--no-prefetch']);
      const r = await readBoot(i);
      const c = await settled(m.store);
      noShare.push(c.bytes.fromMain);
      console.log(`no sharing, client ${i}: ${(c.bytes.fromMain / 1e6).toFixed(1)} MB from the server, read in ${r.seconds.toFixed(1)} s, ${r.badBlocks} bad blocks`);
      await m.proc.kill(10_000);
    }
    // With sharing: the mounts stay up; client 2 turns liar once it has read (its cache corrupted on disk).
    const share: number[] = [];
    let badBlocks = 0;
    let rejected = 0;
    const running = [];
    for (let i = 1; i <= CLIENTS; i++) {
      const m = await mount(i, ['--no-prefetch']);
      running.push(m);
      const r = await readBoot(i);
      const c = await settled(m.store);
      share.push(c.bytes.fromMain);
      badBlocks += r.badBlocks;
      rejected += c.peers?.rejectedBlocks ?? 0;
      console.log(
        `sharing, client ${i}: ${(c.bytes.fromMain / 1e6).toFixed(1)} MB from the server, ${((c.peers?.bytes ?? 0) / 1e6).toFixed(1)} MB from ${Object.keys(c.peers?.bytesFrom ?? {}).length} peers, ` +
          `read in ${r.seconds.toFixed(1)} s, ${r.badBlocks} bad blocks, ${c.peers?.rejectedBlocks ?? 0} rejected${c.peers?.badPeers.length ? ` (bad peers ${c.peers.badPeers.join(' ')})` : ''}`,
      );
      if (i === 2) {
        const blocksDir = join(m.store, 'state', 'cache');
        let corrupted = 0;
        for (const d of readdirSync(blocksDir)) {
          for (const f of readdirSync(join(blocksDir, d, 'blocks'))) {
            const path = join(blocksDir, d, 'blocks', f);
            const fd = openSync(path, 'r+');
            for (let at = 0; at < statSync(path).size; at += 3 * BLOCK, corrupted++) writeSync(fd, Buffer.from([0xde, 0xad]), 0, 2, at + 17);
            closeSync(fd);
          }
        }
        console.log(`client 2 lies from now on: ${corrupted} blocks of its cache corrupted`);
      }
    }
    for (const m of running) await m.proc.kill(10_000);
    figure('clients', CLIENTS, 'mounts');
    figure('one_client_server_bytes', noShare[0]!, 'bytes');
    figure('server_bytes_total', share.reduce((a, b) => a + b, 0), 'bytes');
    figure('server_bytes_total_no_sharing', noShare.reduce((a, b) => a + b, 0), 'bytes');
    figure('bad_blocks_accepted', badBlocks, 'blocks');
    figure('blocks_rejected', rejected, 'blocks');

    // Boot trace: a first mount attaches its trace; then cold clients without and with prefetch, alternated.
    const rec = await mount(1, ['--no-share', '--no-prefetch', '--publish-trace']);
    await readBoot(1);
    await rec.proc.waitFor(new RegExp(`attached a boot trace of ${bootBlocks} blocks`), 60_000);
    await rec.proc.kill(10_000);
    const cold: Record<'no' | 'yes', number[]> = { no: [], yes: [] };
    let node = 2;
    for (let pair = 0; pair < COLD_PAIRS; pair++) {
      for (const prefetch of [false, true]) {
        const i = node++;
        const m = await mount(i, ['--no-share', ...(prefetch ? [] : ['--no-prefetch'])]);
        const r = await readBoot(i);
        const c = await settled(m.store);
        cold[prefetch ? 'yes' : 'no'].push(r.seconds);
        console.log(`cold read ${prefetch ? 'with' : 'without'} prefetch (node ${i}): ${r.seconds.toFixed(2)} s, ${r.badBlocks} bad blocks${c.prefetch ? `, prefetch ${JSON.stringify(c.prefetch)}` : ''}`);
        await m.proc.kill(10_000);
      }
    }
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    figure('cold_read_s_no_prefetch', mean(cold.no), 's');
    figure('cold_read_s_prefetch', mean(cold.yes), 's');

    const f = (n: string) => figures[n]!.value;
    console.log(`targets: server_bytes_total <= 1.5 x one_client_server_bytes: ${(f('server_bytes_total') / f('one_client_server_bytes')).toFixed(2)} x; bad_blocks_accepted = 0: ${f('bad_blocks_accepted')}; cold prefetch / no prefetch: ${(f('cold_read_s_prefetch') / f('cold_read_s_no_prefetch')).toFixed(2)} (<= 0.5)`);
    console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    const plot: BarsPlot = {
      file: 'docs/figures/coop-server-bytes.png',
      kind: 'bars',
      title: `Bytes the image server sent each client (boot set ${(bootBytes / 1e6).toFixed(1)} MB, clients one after another)`,
      categories: Array.from({ length: CLIENTS }, (_, i) => `client ${i + 1}`),
      ylabel: 'MB from the server',
      series: [
        { label: 'without sharing', values: noShare.map((b) => Math.round(b / 1e5) / 10) },
        { label: 'with sharing (client 2 lies from client 3 on)', values: share.map((b) => Math.round(b / 1e5) / 10) },
      ],
    };
    mkdirSync('bench/results', { recursive: true });
    writeFileSync('bench/results/coop.json', `${JSON.stringify({ bench: 'coop', date: new Date().toISOString(), figures, plots: [plot] }, null, 2)}\n`);
    console.log('wrote bench/results/coop.json');
  } finally {
    await net.destroy();
  }
}

await main();
