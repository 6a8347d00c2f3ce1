// The small-files phase of bench:rowfs on its own (diagnostics, not a figure source): a fresh main
// ganesha over preparePeerTree's files (and ROWFS_SMALL_MORE more small-files directories), the peer proxy
// (PROXY_V4) and ours (`overlay rowfs`, startProxy); for ROUNDS rounds, peer then ours, each fresh:
// a first listing of LIST_DIRS' (its own, as in the bench, before the small files), SMALL_WARMUP_DIRS' files
// read one after another (LOOKUP, ACCESS, READ each: smallFilesSeconds; unmeasured in the bench),
// SMALL_DIRS' (its own: the bench's figure), then ROWFS_SMALL_MORE (0) more such directories on the same
// proxy (the JIT warmer each time: what is left is the per-file cost). Prints the
// seconds and the CPU seconds of our proxy, main's ganesha, the peer and this process per pass, and
// our proxy's main calls and read-ahead counters.
// Knobs: ROWFS_SMALL_ROUNDS (3), ROWFS_SMALL_PEER=0 (ours only), ROWFS_SMALL_PAUSE_S (seconds to wait
// before each measured pass of ours, e.g. to attach perf), and bench/rowfs.ts's ROWFS_BENCH_PROF,
// ROWFS_BENCH_NODE_FLAGS, ROWFS_BENCH_PROXY_ARGS.
// Run: flock /work/notes/bench.lock node dist/bench/rowfs/small-alone.js
import { tempWorkDir } from '../../simulations/harness/interrupt-cleanup.js';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startGanesha } from '../../simulations/harness/ganesha.js';
import { openExport, type OpenedExport } from '../../rowfs/mount/open-export.js';
import { expectOk } from '../../rowfs/nfs3/errors.js';
import { cpuSeconds, startProxy, type ProxyStats } from './proxy-process.js';
import { LIST_DIRS, LIST_ENTRIES, SMALL_DIRS, SMALL_FILES, SMALL_WARMUP_DIRS, listSeconds, mainOptionsForPeer, preparePeerTree, smallFilesSeconds, startPeerProxy, writeSmallDir } from './peer-proxy.js';
import { runMain } from '../run-main.js';
import { jitSummary, TRACE_JIT } from './jit-summary.js';

const BLOCK_BYTES = 64 * 1024;
const ROUNDS = Number(process.env.ROWFS_SMALL_ROUNDS ?? 3);
const WITH_PEER = process.env.ROWFS_SMALL_PEER !== '0';
const PAUSE_S = Number(process.env.ROWFS_SMALL_PAUSE_S ?? 0);
/** More small-files directories (same files), each read after SMALL_DIRS' on the same proxy: warmer passes. */
const MORE_DIRS = Array.from({ length: Number(process.env.ROWFS_SMALL_MORE ?? 0) }, (_, i) => `small2000-more${i}`);

const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** A pass's seconds and the CPU seconds each process used meanwhile. */
async function measured(pids: Record<string, number>, pass: () => Promise<number>): Promise<string> {
  const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
  const self0 = process.cpuUsage();
  const seconds = await pass();
  const self = process.cpuUsage(self0);
  const cpus = Object.entries(pids).map(([k, pid]) => `${k} ${(cpuSeconds(pid) - cpu0[k]!).toFixed(2)}`);
  return `${seconds.toFixed(3)} s (${((seconds / SMALL_FILES) * 1000).toFixed(3)} ms/file); CPU s: ${cpus.join(', ')}, bench ${((self.user + self.system) / 1e6).toFixed(2)}`;
}

function delta(after: Record<string, number>, before: Record<string, number>): string {
  return Object.entries(after)
    .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
    .filter(([, v]) => v !== 0)
    .map(([k, v]) => `${k} ${v}`)
    .join(' ');
}

async function main(): Promise<void> {
  const workDir = tempWorkDir('rowfs-small-'); // removed also if the bench is told to stop
  const work = workDir.path;
  try {
    const mainDir = join(work, 'main');
    mkdirSync(mainDir);
    preparePeerTree(mainDir);
    for (const dir of MORE_DIRS) writeSmallDir(mainDir, dir);
    const shadowDir = join(work, 'shadow');
    mkdirSync(shadowDir);
    const mainG = await startGanesha({ exportDir: mainDir, ...mainOptionsForPeer(mainDir) });
    const peer = await startPeerProxy(mainG);
    const mainPid = mainG.proc().pid;
    const open = (host: string, nfsPort: number, mountPort: number) => openExport({ host, exportPath: mainG.exportPath, nfsPort, mountPort, timeoutMs: 60_000 });
    /** The listing, then the two small-files directories, on one connection. */
    const passes = async (label: 'ours' | 'peer', ex: OpenedExport, pids: Record<string, number>, before?: () => Promise<void>, after?: (pass: string) => Promise<void>) => {
      await listSeconds(ex, expectOk(await ex.nfs.lookup({ what: { dir: ex.root, name: LIST_DIRS[label] } }), 'LOOKUP').object, LIST_ENTRIES);
      for (const [k, dir] of [...SMALL_WARMUP_DIRS, SMALL_DIRS[label], ...MORE_DIRS].entries()) {
        const fh = expectOk(await ex.nfs.lookup({ what: { dir: ex.root, name: dir } }), 'LOOKUP').object;
        await before?.();
        console.log(`  ${label} pass ${k} (${dir === SMALL_DIRS[label] ? 'the figure' : SMALL_WARMUP_DIRS.includes(dir) ? 'warm-up' : 'more'}): ${await measured(pids, () => smallFilesSeconds(ex, fh))} (load ${load()})`);
        await after?.(dir);
      }
    };
    try {
      console.log(`(load ${load()})`);
      for (let r = 0; r < ROUNDS; r++) {
        console.log(`round ${r}`);
        if (WITH_PEER) {
          await peer.ganesha.restart();
          const ex = await open(peer.host, peer.nfsPort, peer.mountPort);
          try {
            await passes('peer', ex, { peer: peer.pid(), main: mainPid });
          } finally {
            await ex.close();
          }
        }
        const stateDir = join(work, `state-${r}`);
        const proxy = await startProxy(mainG, { dir: shadowDir }, stateDir, BLOCK_BYTES);
        try {
          const ex = await open('127.0.0.1', proxy.port, proxy.port);
          let stats: ProxyStats | undefined;
          let outputAt = 0;
          try {
            await passes(
              'ours',
              ex,
              { proxy: proxy.proc.pid, main: mainPid },
              async () => {
                if (PAUSE_S > 0) {
                  console.log(`  (proxy pid ${proxy.proc.pid}: ${PAUSE_S} s pause)`);
                  await new Promise((res) => setTimeout(res, PAUSE_S * 1000));
                }
                stats = await proxy.stats();
                outputAt = proxy.proc.output().length;
              },
              async () => {
                const now = (await proxy.stats()) as ProxyStats & { smallFilesAhead?: Record<string, number> };
                if (TRACE_JIT) console.log(`    ${jitSummary(proxy.proc.output().slice(outputAt))}`);
                console.log(`    main calls: ${delta(now.main, stats!.main)}; client: ${delta(now.client, stats!.client)}; cache missBlocks ${now.cache.missBlocks - stats!.cache.missBlocks}; ahead ${JSON.stringify(now.smallFilesAhead)}`);
              },
            );
          } finally {
            await ex.close();
          }
        } finally {
          await proxy.stop();
          rmSync(stateDir, { recursive: true, force: true });
        }
      }
    } finally {
      await peer.ganesha.stop();
      await mainG.stop();
    }
  } finally {
    workDir.remove();
  }
}

runMain(main);
