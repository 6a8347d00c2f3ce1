// `npm run bench:rowfs`: the ROW-FS proxy against direct access to the same nfs-ganesha, in one run.
// Setup: ganesha "main" (ROUNDS 256 MB files, a 1 GB sparse image, a directory of 1,000 files) and
// ganesha "shadow" (empty), each in its own namespace; the proxy runs as `overlay rowfs` in its own
// process (so its peak RSS is its own); the client is our NFSv3 client in this process, with
// QUEUE_DEPTH requests in flight for every measurement, the same for direct and proxy.
//   read:     sequential 1 MB READs of a 256 MB file. Each peer first makes one discarded pass
//             (reported as *_read_first_mbps): for direct it fills ganesha's page cache; for the
//             proxy it is a cold pass, after which the proxy is replaced by one on an empty state,
//             so the measured proxy pass is cold again (every block fetched from main and stored
//             in the block cache; checked with the counters) but runs on guest memory the VM has
//             already populated (see docs/rowfs.md, "the warm-up"), after a cold read of a 32 MB
//             file through the new proxy (its JIT warm-up). Warm pass reported apart.
//   floor:    direct_read_plus_cache_write_mbps: in each round, between the proxy's discarded and
//             measured cold passes, the direct peer's pass (same client, READ size, queue depth, file)
//             that also writes every chunk it receives into a new local file next to the block cache
//             (buffered, no fsync), deleted afterwards: the least any caching proxy must do here.
//   Each of these runs ROUNDS times (a new 256 MB file per round), direct and proxy alternating;
//   medians are reported and the per-round values printed.
//   rand4k:   random 4 KB READs in that file for RAND_SECONDS (after the sequential pass: warm)
//   getattr:  GETATTR of one file; lookup: LOOKUP of names cycling over the 1,000-file directory
//   write:    64 MB of 1 MB UNSTABLE WRITEs + COMMIT into a new file; direct = to the shadow
//             ganesha (the server proxy writes go to), proxy = through the proxy
//   sparse:   4 KB reads in 2% of the blocks of the 1 GB image through a fresh proxy (cold), then
//             again after restarting it on the same state and cache (warm): bytes from main.
//   peer:     nfs-ganesha's PROXY_V4 proxy over the same main (bench/rowfs/peer-proxy.ts), restarted
//             each round: the round's 256 MB file read cold (ours: the measured cold pass above),
//             a first listing of 2,000 entries and 2,000 x 4 KB files read over one connection,
//             each also through the round's proxy: peer_proxy_*_s against proxy_*_s, peer_proxy_rss_mb.
//             Each proxy lists and reads its own copy of the directories (main's caches warmed by one
//             would favour the other). Before the measured small files, each proxy reads 3 x 2,000 others the same way, unmeasured
//             (symmetric JIT warm-up of our fresh Node process, like the cold read's jit-warmup).
//   kernel:   the Linux kernel NFS client in a qemu VM, ganesha direct against the proxy with a local
//             shadow directory (bench/rowfs/kernel-client.ts): vm_* figures.
// Prints a table; writes bench/results/rowfs.json. Diagnostics (not used for the figures):
// ROWFS_BENCH_SECONDS (ops phases), ROWFS_BENCH_ROUNDS, ROWFS_BENCH_DEBUG=1 (proxy memory, its RSS by kind after every
// phase, CPU per cold pass),
// ROWFS_BENCH_PROF=DIR (CPU profile of the proxy), ROWFS_BENCH_NODE_FLAGS, ROWFS_BENCH_PROXY_ARGS,
// ROWFS_BENCH_KERNEL=0 (no kernel-client phase); the kernel-client phase alone: bench/rowfs/kernel-alone.ts
// (with ROWFS_BENCH_VM_META_ONLY=1, ROWFS_BENCH_VM_TRACE='CMD {pid}', ROWFS_BENCH_VM_PROXY_FIRST=1,
// ROWFS_BENCH_VM_MOUNTSTATS=1: the guest's round trip per procedure and side).
import { tempWorkDir } from '../simulations/harness/interrupt-cleanup.js';
import { randomInt } from 'node:crypto';
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, closeSync, ftruncateSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGanesha, type Ganesha } from '../simulations/harness/ganesha.js';
import { cpuSeconds, peakRssMb, rssKindsMb, startProxy, type ProxyProc } from './rowfs/proxy-process.js';
import { LIST_DIRS, LIST_ENTRIES, SMALL_DIRS, SMALL_WARMUP_DIRS, listSeconds, mainOptionsForPeer, preparePeerTree, smallFilesSeconds, startPeerProxy } from './rowfs/peer-proxy.js';
import { kernelClientPhase, prepareKernelTree } from './rowfs/kernel-client.js';
import { openExport, type OpenedExport } from '../rowfs/mount/open-export.js';
import { expectOk } from '../rowfs/nfs3/errors.js';
import { rowfsRatioPlot } from './rowfs/ratio-plot.js';
import { CreateMode, StableHow, type FileHandle } from '../rowfs/nfs3/types.js';
import { runMain } from './run-main.js';
import { median } from './median.js';

const FILE_BYTES = 256 * 1024 * 1024;
const IMAGE_BYTES = 1024 * 1024 * 1024;
const WRITE_BYTES = 64 * 1024 * 1024;
const IO_BYTES = 1024 * 1024;
/** A small file read cold through each new proxy before its measured pass (JIT warm-up). */
const JIT_WARMUP_BYTES = 32 * 1024 * 1024;
const BLOCK_BYTES = 64 * 1024;
const QUEUE_DEPTH = 8;
/** Rounds of every direct/proxy measurement (median reported): the machine is shared and noisy. */
const ROUNDS = Number(process.env.ROWFS_BENCH_ROUNDS ?? 3);
const OPS_SECONDS = Number(process.env.ROWFS_BENCH_SECONDS ?? 3);
const RAND_SECONDS = OPS_SECONDS;
const LOOKUP_FILES = 1000;
const SPARSE_FRACTION = 0.02;
/** ROWFS_BENCH_KERNEL=0 leaves out the kernel-client phase (diagnostics; its figures are then missing). */
const SKIP_KERNEL = process.env.ROWFS_BENCH_KERNEL === '0';

type Figures = Record<string, { value: number; unit: string }>;
const figures: Figures = {};
function put(name: string, value: number, unit: string) {
  figures[name] = { value: Math.round(value * 1000) / 1000, unit };
  console.log(`${name.padEnd(34)} ${String(figures[name]!.value).padStart(14)} ${unit}`);
}

/** Runs `op(i)` with `depth` in flight until `count` ops or `seconds` elapse; returns ops/s and ops. */
async function pump(depth: number, op: (i: number) => Promise<void>, limit: { count?: number; seconds?: number }): Promise<{ perSecond: number; ops: number; seconds: number }> {
  let next = 0;
  let done = 0;
  const start = performance.now();
  const deadline = limit.seconds ? start + limit.seconds * 1000 : Infinity;
  const worker = async () => {
    for (;;) {
      if (limit.count !== undefined && next >= limit.count) return;
      if (performance.now() >= deadline) return;
      const i = next++;
      await op(i);
      done++;
    }
  };
  await Promise.all(Array.from({ length: depth }, worker));
  const seconds = (performance.now() - start) / 1000;
  return { perSecond: done / seconds, ops: done, seconds };
}

async function lookup(ex: OpenedExport, dir: FileHandle, name: string): Promise<FileHandle> {
  return expectOk(await ex.nfs.lookup({ what: { dir, name } }), `LOOKUP ${name}`).object;
}

async function seqRead(ex: OpenedExport, fh: FileHandle, bytes = FILE_BYTES): Promise<number> {
  const r = await pump(QUEUE_DEPTH, async (i) => {
    const res = expectOk(await ex.nfs.read({ file: fh, offset: BigInt(i * IO_BYTES), count: IO_BYTES }), 'READ');
    if (res.data.length !== IO_BYTES) throw new Error(`short read at ${i}`);
  }, { count: bytes / IO_BYTES });
  return bytes / r.seconds / 1e6;
}

/**
 * The floor of any caching proxy on this machine: the direct peer's pass (same client, READ size and
 * queue depth) that also writes every chunk it receives into a new file at `cachePath` (buffered, no
 * fsync: the page cache, as the block cache). The pass ends when every write has returned.
 */
async function seqReadPlusCacheWrite(ex: OpenedExport, fh: FileHandle, cachePath: string): Promise<number> {
  const file = await openFile(cachePath, 'wx');
  try {
    const r = await pump(QUEUE_DEPTH, async (i) => {
      const res = expectOk(await ex.nfs.read({ file: fh, offset: BigInt(i * IO_BYTES), count: IO_BYTES }), 'READ');
      if (res.data.length !== IO_BYTES) throw new Error(`short read at ${i}`);
      const w = await file.write(res.data, 0, IO_BYTES, i * IO_BYTES);
      if (w.bytesWritten !== IO_BYTES) throw new Error(`short cache write at ${i}`);
    }, { count: FILE_BYTES / IO_BYTES });
    return FILE_BYTES / r.seconds / 1e6;
  } finally {
    await file.close();
  }
}

async function rand4k(ex: OpenedExport, fh: FileHandle): Promise<number> {
  return (await pump(QUEUE_DEPTH, async () => {
    const off = randomInt(0, FILE_BYTES / 4096) * 4096;
    expectOk(await ex.nfs.read({ file: fh, offset: BigInt(off), count: 4096 }), 'READ');
  }, { seconds: RAND_SECONDS })).perSecond;
}

async function getattrOps(ex: OpenedExport, fh: FileHandle): Promise<number> {
  return (await pump(QUEUE_DEPTH, async () => void expectOk(await ex.nfs.getattr({ object: fh }), 'GETATTR'), { seconds: OPS_SECONDS })).perSecond;
}

async function lookupOps(ex: OpenedExport, dir: FileHandle): Promise<number> {
  return (await pump(QUEUE_DEPTH, async (i) => void (await lookup(ex, dir, `n${i % LOOKUP_FILES}`)), { seconds: OPS_SECONDS })).perSecond;
}

async function writeMbps(ex: OpenedExport, dir: FileHandle, name: string): Promise<number> {
  const c = expectOk(await ex.nfs.create({ where: { dir, name }, how: { mode: CreateMode.GUARDED, attributes: { mode: 0o644 } } }), 'CREATE');
  const fh = c.obj ?? (await lookup(ex, dir, name));
  const data = Buffer.alloc(IO_BYTES, 0x5a);
  const start = performance.now();
  await pump(QUEUE_DEPTH, async (i) => {
    const r = expectOk(await ex.nfs.write({ file: fh, offset: BigInt(i * IO_BYTES), count: IO_BYTES, stable: StableHow.UNSTABLE, data }), 'WRITE');
    if (r.count !== IO_BYTES) throw new Error('short write');
  }, { count: WRITE_BYTES / IO_BYTES });
  expectOk(await ex.nfs.commit({ file: fh, offset: 0n, count: 0 }), 'COMMIT');
  return WRITE_BYTES / ((performance.now() - start) / 1000) / 1e6;
}

async function main() {
  const workDir = tempWorkDir('rowfs-bench-'); // removed also if the bench is told to stop
  const work = workDir.path;
  const mainDir = join(work, 'main');
  const shadowDir = join(work, 'shadow');
  mkdirSync(mainDir);
  mkdirSync(shadowDir);
  // 256 MB of non-zero data, a 1 GB sparse image with some data in it, 1,000 small files.
  const chunk = Buffer.alloc(IO_BYTES);
  for (let r = 0; r < ROUNDS; r++) {
    // One file per round, so every round's proxy read is cold (nothing of it in the block cache).
    const fd = openSync(join(mainDir, `file256-${r}`), 'w');
    for (let i = 0; i < FILE_BYTES / IO_BYTES; i++) {
      chunk.fill((i + r) & 0xff);
      writeSync(fd, chunk);
    }
    closeSync(fd);
  }
  const jit = openSync(join(mainDir, 'jit-warmup'), 'w');
  for (let i = 0; i < JIT_WARMUP_BYTES / IO_BYTES; i++) writeSync(jit, chunk.fill(0x11 + i));
  closeSync(jit);
  const img = openSync(join(mainDir, 'image.img'), 'w');
  ftruncateSync(img, IMAGE_BYTES);
  for (let i = 0; i < 64; i++) writeSync(img, Buffer.alloc(4096, 0xab), 0, 4096, i * 16 * 1024 * 1024);
  closeSync(img);
  mkdirSync(join(mainDir, 'dir'));
  for (let i = 0; i < LOOKUP_FILES; i++) writeFileSync(join(mainDir, 'dir', `n${i}`), `${i}`);
  preparePeerTree(mainDir);
  if (!SKIP_KERNEL) prepareKernelTree(mainDir);

  const cleanups: Array<() => Promise<void>> = [];
  try {
    const mainG = await startGanesha({ exportDir: mainDir, ...mainOptionsForPeer(mainDir) });
    cleanups.push(() => mainG.stop());
    const peer = await startPeerProxy(mainG);
    cleanups.push(() => peer.ganesha.stop());
    let peerRss = 0;
    /** The peer restarted (its caches empty) and a new client connection to it. */
    const freshPeer = async (): Promise<OpenedExport> => {
      peerRss = Math.max(peerRss, peakRssMb(peer.pid()));
      await peer.ganesha.restart();
      const ex = await openExport({ host: peer.host, exportPath: mainG.exportPath, nfsPort: peer.nfsPort, mountPort: peer.mountPort, timeoutMs: 60_000 });
      cleanups.push(() => ex.close());
      return ex;
    };
    const shadowG = await startGanesha({ exportDir: shadowDir });
    cleanups.push(() => shadowG.stop());
    const direct = await openExport({ host: mainG.host, exportPath: mainG.exportPath, nfsPort: mainG.nfsPort, mountPort: mainG.mountPort, timeoutMs: 60_000 });
    cleanups.push(() => direct.close());
    const directShadow = await openExport({ host: shadowG.host, exportPath: shadowG.exportPath, nfsPort: shadowG.nfsPort, mountPort: shadowG.mountPort, timeoutMs: 60_000 });
    cleanups.push(() => directShadow.close());
    const dDir = await lookup(direct, direct.root, 'dir');

    // The proxy under test: replaced by one on an empty state (so an empty block cache) for every
    // cold pass. The new proxy is up before the old one stops and its state is deleted, so the
    // page-cache pages that deletion frees are still the guest's when the next pass begins.
    let proxy: { proc: ProxyProc; ex: OpenedExport; stateDir: string } | undefined;
    let peak = 0;
    let states = 0;
    const stopProxy = async () => {
      if (!proxy) return;
      const old = proxy;
      proxy = undefined;
      await old.ex.close().catch(() => undefined);
      peak = Math.max(peak, old.proc.peakRssMb());
      await old.proc.stop();
      rmSync(old.stateDir, { recursive: true, force: true });
    };
    cleanups.push(stopProxy);
    const freshProxy = async (): Promise<{ proxy: ProxyProc; ex: OpenedExport }> => {
      const stateDir = join(work, `state-${states++}`);
      const proc = await startProxy(mainG, shadowG, stateDir, BLOCK_BYTES);
      const ex = await openExport({ host: '127.0.0.1', exportPath: mainG.exportPath, nfsPort: proc.port, mountPort: proc.port, timeoutMs: 60_000 }).catch(async (e) => {
        await proc.stop();
        throw e;
      });
      await stopProxy();
      proxy = { proc, ex, stateDir };
      return { proxy: proc, ex };
    };

    // Every measurement ROUNDS times, direct and proxy alternating; the median is reported.
    const rounds: Record<string, number[]> = {};
    const sample = (name: string, v: number) => {
      (rounds[name] ??= []).push(v);
      // Which phase raises the proxy's peak RSS, and of what kind (anonymous, file-backed, shared).
      if (process.env.ROWFS_BENCH_DEBUG && proxy) {
        const k = rssKindsMb(proxy.proc.proc.pid);
        console.log(`(after ${name}: proxy RSS anon ${k.anon.toFixed(1)} + file ${k.file.toFixed(1)} + shmem ${k.shmem.toFixed(1)} MB, peak ${k.hwm.toFixed(1)} MB)`);
      }
    };
    for (let r = 0; r < ROUNDS; r++) {
      const dFile = await lookup(direct, direct.root, `file256-${r}`);
      // Warm-up, discarded, the same for both peers: one full pass each. For direct it puts the
      // file in ganesha's page cache. For the proxy it is a cold pass (every block fetched from
      // main and written to the block cache), after which the block cache is emptied (the proxy is
      // restarted on an empty state). Why: on these VMs the first touch of guest memory the guest
      // has not used lately costs the host a page population (~0.5 GB/s against several GB/s once
      // touched; freed pages are handed back to the host within seconds). A cold pass must put every
      // byte into new page-cache pages, so the first pass after a quiet spell measures the VM's
      // memory population rather than the proxy; the page-cache pages freed by emptying the cache
      // are what the measured cold pass then reuses. The measured pass is still cold for the proxy
      // (checked below: every block from main, no cache hit). See docs/rowfs.md.
      sample('direct_read_first_mbps', await seqRead(direct, dFile));
      {
        const { ex } = await freshProxy();
        const fh = await lookup(ex, ex.root, `file256-${r}`);
        const cpu0 = cpuSeconds(proxy!.proc.proc.pid);
        sample('proxy_read_first_mbps', await seqRead(ex, fh));
        if (process.env.ROWFS_BENCH_DEBUG) console.log(`(round ${r}: proxy CPU in the first cold pass ${(cpuSeconds(proxy!.proc.proc.pid) - cpu0).toFixed(2)} s)`);
      }
      const { proxy: p, ex: viaP } = await freshProxy();
      // The floor (direct read + a page-cache write of every byte), here: like the proxy's measured
      // pass, it writes into page-cache pages just freed (the first proxy's state, deleted above),
      // and its own file is deleted right before the proxy's measured pass, whose cache reuses them.
      const floorFile = join(work, `floor-${r}`);
      sample('direct_read_plus_cache_write_mbps', await seqReadPlusCacheWrite(direct, dFile, floorFile));
      rmSync(floorFile, { force: true });
      const pFile = await lookup(viaP, viaP.root, `file256-${r}`);
      const pDir = await lookup(viaP, viaP.root, 'dir');
      // A new process compiles its code on first use: a cold read of another, small file first, so
      // the measured pass sees the proxy's steady state (as a long-running proxy would be).
      await seqRead(viaP, await lookup(viaP, viaP.root, 'jit-warmup'), JIT_WARMUP_BYTES);
      const before = await p.stats();
      const cpu0 = cpuSeconds(p.proc.pid);
      const t0 = process.hrtime.bigint(); // CLOCK_MONOTONIC, as `perf record -k CLOCK_MONOTONIC`
      sample('proxy_read_mbps', await seqRead(viaP, pFile));
      const t1 = process.hrtime.bigint();
      if (process.env.ROWFS_BENCH_DEBUG) console.log(`(round ${r}: proxy pid ${p.proc.pid} CPU in the measured cold pass ${(cpuSeconds(p.proc.pid) - cpu0).toFixed(2)} s, monotonic ${Number(t0) / 1e9}-${Number(t1) / 1e9} s)`);
      const after = await p.stats();
      // The measured pass must be cold for the system under test: every block of the file fetched
      // from main (and stored in the block cache) during the pass. (Blocks read ahead are fetched
      // from main before the client asks for them; the client's READ then counts as a cache hit.)
      const fromMain = after.bytes.fromMain - before.bytes.fromMain;
      const missed = after.cache.missBlocks - before.cache.missBlocks;
      if (fromMain !== FILE_BYTES || missed !== FILE_BYTES / BLOCK_BYTES) throw new Error(`round ${r}: the measured proxy pass was not cold (${fromMain} bytes, ${missed} blocks from main)`);
      // The peer proxy (ganesha PROXY_V4), restarted so nothing of this round is in its caches: the
      // same file's cold read, then a first listing and the small files, each also through ours.
      const viaPeer = await freshPeer();
      sample('proxy_cold_read_s', FILE_BYTES / 1e6 / rounds['proxy_read_mbps']![r]!);
      sample('peer_proxy_cold_read_s', FILE_BYTES / 1e6 / (await seqRead(viaPeer, await lookup(viaPeer, viaPeer.root, `file256-${r}`))));
      sample('peer_proxy_list_s', await listSeconds(viaPeer, await lookup(viaPeer, viaPeer.root, LIST_DIRS.peer), LIST_ENTRIES));
      sample('proxy_list_s', await listSeconds(viaP, await lookup(viaP, viaP.root, LIST_DIRS.ours), LIST_ENTRIES));
      // Both proxies read other directories of the same files first, unmeasured (SMALL_WARMUP_DIRS:
      // ours, a fresh Node process, would otherwise be measured while it compiles the small-file path).
      for (const warm of SMALL_WARMUP_DIRS) {
        await smallFilesSeconds(viaPeer, await lookup(viaPeer, viaPeer.root, warm));
        await smallFilesSeconds(viaP, await lookup(viaP, viaP.root, warm));
      }
      sample('peer_proxy_small_files_s', await smallFilesSeconds(viaPeer, await lookup(viaPeer, viaPeer.root, SMALL_DIRS.peer)));
      sample('proxy_small_files_s', await smallFilesSeconds(viaP, await lookup(viaP, viaP.root, SMALL_DIRS.ours)));
      await viaPeer.close();
      sample('direct_read_mbps', await seqRead(direct, dFile));
      sample('proxy_read_warm_mbps', await seqRead(viaP, pFile));
      sample('direct_rand4k_iops', await rand4k(direct, dFile));
      sample('proxy_rand4k_iops', await rand4k(viaP, pFile));
      sample('direct_getattr_ops', await getattrOps(direct, dFile));
      sample('proxy_getattr_ops', await getattrOps(viaP, pFile));
      await lookupOps(viaP, pDir); // first sight of each name records its vid (once per name and state)
      sample('direct_lookup_ops', await lookupOps(direct, dDir));
      sample('proxy_lookup_ops', await lookupOps(viaP, pDir));
      sample('direct_write_mbps', await writeMbps(directShadow, directShadow.root, `direct-write-${r}`));
      sample('proxy_write_mbps', await writeMbps(viaP, viaP.root, `proxy-write-${r}`));
      if (process.env.ROWFS_BENCH_DEBUG) console.log(`(round ${r}: proxy peak RSS ${p.peakRssMb().toFixed(1)} MB)`, JSON.stringify((await p.stats() as any).memory));
    }
    await stopProxy();
    const units: Record<string, string> = { mbps: 'MB/s', iops: 'ops/s', ops: 'ops/s', s: 's' };
    for (const [name, xs] of Object.entries(rounds)) {
      put(name, median(xs), units[name.split('_').pop()!]!);
      console.log(`${''.padEnd(34)} rounds: ${xs.map((x) => (x >= 100 ? x.toFixed(0) : x.toPrecision(3))).join(', ')}`);
    }

    // Sparse image: a fresh proxy state, 2% of the blocks touched with one 4 KB read each.
    const sparseState = join(work, 'state-sparse');
    let sp = await startProxy(mainG, shadowG, sparseState, BLOCK_BYTES);
    const blocks = IMAGE_BYTES / BLOCK_BYTES;
    const chosen = new Set<number>();
    while (chosen.size < Math.round(blocks * SPARSE_FRACTION)) chosen.add(randomInt(0, blocks));
    const reads = [...chosen].map((b) => b * BLOCK_BYTES + randomInt(0, (BLOCK_BYTES - 4096) / 4096 + 1) * 4096);
    const touchSparse = async (s: ProxyProc) => {
      const ex = await openExport({ host: '127.0.0.1', exportPath: mainG.exportPath, nfsPort: s.port, mountPort: s.port, timeoutMs: 60_000 });
      try {
        const fh = await lookup(ex, ex.root, 'image.img');
        const before = (await s.stats()).bytes.fromMain;
        await pump(QUEUE_DEPTH, async (i) => void expectOk(await ex.nfs.read({ file: fh, offset: BigInt(reads[i]!), count: 4096 }), 'READ'), { count: reads.length });
        return (await s.stats()).bytes.fromMain - before;
      } finally {
        await ex.close();
      }
    };
    put('touched_bytes_rounded', chosen.size * BLOCK_BYTES, 'bytes');
    put('cold_bytes_from_main', await touchSparse(sp), 'bytes');
    peak = Math.max(peak, sp.peakRssMb());
    await sp.stop();
    sp = await startProxy(mainG, shadowG, sparseState, BLOCK_BYTES); // a "second boot": same state and cache
    put('warm_bytes_from_main', await touchSparse(sp), 'bytes');
    peak = Math.max(peak, sp.peakRssMb());
    await sp.stop();
    put('proxy_peak_rss_mb', peak, 'MB');
    put('peer_proxy_rss_mb', Math.max(peerRss, peakRssMb(peer.pid())), 'MB');
    await peer.ganesha.stop();

    // The Linux kernel client in a VM, ganesha direct against the proxy with a local shadow.
    if (!SKIP_KERNEL) {
      console.log(`(kernel-client phase: load ${readFileSync('/proc/loadavg', 'utf8').trim()})`);
      const vm = await kernelClientPhase(mainG, mainDir, work, BLOCK_BYTES, (line) => console.log(line));
      for (const [name, f] of Object.entries(vm)) put(name, f.value, f.unit);
    }

    const ratio = (a: string, b: string) => figures[a]!.value / figures[b]!.value;
    console.log('');
    // The floor against direct: ratio of the medians, and per round (same round, same conditions).
    const floor = ratio('direct_read_plus_cache_write_mbps', 'direct_read_mbps');
    const floorRounds = rounds['direct_read_plus_cache_write_mbps']!.map((f, i) => f / rounds['direct_read_mbps']![i]!);
    const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
    console.log(`floor (direct read + cache write) ${pct(floor)} of direct: ${floor >= 0.8 ? 'above' : 'below'} 80% of direct ` +
      `(per round ${floorRounds.map(pct).join(', ')}; median ${pct(median(floorRounds))}); proxy ${pct(ratio('proxy_read_mbps', 'direct_read_plus_cache_write_mbps'))} of the floor`);
    console.log(`read ${(100 * ratio('proxy_read_mbps', 'direct_read_mbps')).toFixed(0)}% of direct (target >= 80%), ` +
      `getattr ${(100 * ratio('proxy_getattr_ops', 'direct_getattr_ops')).toFixed(0)}%, lookup ${(100 * ratio('proxy_lookup_ops', 'direct_lookup_ops')).toFixed(0)}% (targets >= 70%)`);
    const peerPhases = ['cold_read', 'list', 'small_files'].map((p) => `${p} ${figures[`proxy_${p}_s`]!.value <= figures[`peer_proxy_${p}_s`]!.value ? 'met' : 'missed'} (ours ${figures[`proxy_${p}_s`]!.value} s, peer ${figures[`peer_proxy_${p}_s`]!.value} s)`);
    console.log(`peer proxy (target: ours no slower in every phase): ${peerPhases.join('; ')}`);
    if (!SKIP_KERNEL) {
      const vmRatio = (what: string) => ratio(`vm_${what}_proxy`, `vm_${what}_direct`);
      const vmTargets: Array<[string, number]> = [['create_ops', 0.7], ['stat_ops', 0.7], ['delete_ops', 0.7], ['read_mbps', 0.8], ['write_mbps', 0.8]];
      console.log(`kernel client, proxy/direct: ${vmTargets.map(([w, t]) => `${w} ${vmRatio(w).toFixed(2)}x (>= ${t}: ${vmRatio(w) >= t ? 'met' : 'missed'})`).join(', ')}`);
      console.log(`kernel client CPU: proxy ${figures['vm_proxy_cpu_s']!.value} s, ganesha ${figures['vm_ganesha_cpu_s']!.value} s (<= 2x: ${ratio('vm_proxy_cpu_s', 'vm_ganesha_cpu_s') <= 2 ? 'met' : 'missed'}); ` +
        `proxy peak RSS ${figures['vm_proxy_peak_rss_mb']!.value} MB (<= 100: ${figures['vm_proxy_peak_rss_mb']!.value <= 100 ? 'met' : 'missed'})`);
    }
    console.log(`load ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
    mkdirSync(fileURLToPath(new URL('../../bench/results/', import.meta.url)), { recursive: true });
    const out = fileURLToPath(new URL('../../bench/results/rowfs.json', import.meta.url));
    const plot = rowfsRatioPlot(figures);
    writeFileSync(out, JSON.stringify({ bench: 'rowfs', date: new Date().toISOString(), figures, ...(plot ? { plots: [plot] } : {}) }, null, 2) + '\n');
    console.log(`wrote ${out}`);
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    workDir.remove();
  }
}

runMain(main);
