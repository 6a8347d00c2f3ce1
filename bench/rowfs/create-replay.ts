// The kernel client's create and remove sequences replayed by our NFS client against ganesha serving
// a directory directly and against the `overlay rowfs` process (a local shadow), both separate
// processes on one fresh journaled ext4, one call at a time, rounds alternating. The VM phase's
// figures move by up to 40% between runs with the guest's pace; this tells the servers apart by
// their own CPU per file (from /proc), the wall time per file with the same client, and the median
// round trip of each procedure (the host's pauses move means, not medians). A diagnostic, not a figure source.
// Sequences (what fsbench meta's open(O_CREAT|O_EXCL) and unlink become under the kernel client):
//   create: CREATE EXCLUSIVE, SETATTR (mode and times)   remove: LOOKUP, REMOVE
// Run: node dist/bench/rowfs/create-replay.js [files=2000] [rounds=4] (under flock /work/notes/bench.lock);
// ROWFS_BENCH_NODE_FLAGS and ROWFS_BENCH_PROXY_ARGS as in bench:rowfs; ROWFS_BENCH_REPLAY_TRACE='CMD ARGS'
// runs CMD with {pid} and {side} replaced during each side's round 1 (e.g. `perf trace -s -p {pid}`),
// stopped by SIGINT after it; ROWFS_BENCH_REPLAY_OTHER and ROWFS_BENCH_REPLAY_EMBEDDED (below) add sides.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempWorkDir } from '../../simulations/harness/interrupt-cleanup.js';
import { startGanesha } from '../../simulations/harness/ganesha.js';
import { openExport, type OpenedExport } from '../../rowfs/mount/open-export.js';
import { expectOk } from '../../rowfs/nfs3/errors.js';
import { CreateMode, TimeHow, type FileHandle } from '../../rowfs/nfs3/types.js';
import { cpuTimes, minorFaults, rssKindsMb, startProxy } from './proxy-process.js';
import { startEmbeddedProcess } from './embedded-process.js';
import { startTracer } from './tracer.js';
import { mountScratchExt4 } from './scratch-ext4.js';
import { median } from '../median.js';
import { runMain } from '../run-main.js';

const FILES = Number(process.argv[2] ?? 2000);
const ROUNDS = Number(process.argv[3] ?? 4);
const SCRATCH_BYTES = 2 * 1024 ** 3;
/** The round ROWFS_BENCH_REPLAY_TRACE traces (ROWFS_BENCH_REPLAY_TRACE_ROUND, default 1). */
const TRACE_ROUND = Number(process.env.ROWFS_BENCH_REPLAY_TRACE_ROUND ?? 1);

/**
 * ROWFS_BENCH_REPLAY_OTHER=DIR adds a third side, `other`: the proxy of another checkout (DIR's
 * bin/overlay.js, built), in the same rounds, so two versions are compared in one stretch of the
 * host's time (this host's pace moves between runs more than one change does).
 */
const OTHER = process.env.ROWFS_BENCH_REPLAY_OTHER;
/**
 * ROWFS_BENCH_REPLAY_OTHER_V8=FLAGS runs the `other` side with OVERLAY_ROWFS_V8=FLAGS (heap settings),
 * ROWFS_BENCH_REPLAY_OTHER_NODE_FLAGS=FLAGS with those Node flags instead of ROWFS_BENCH_NODE_FLAGS:
 * an A/B of settings in the same rounds (DIR may be this checkout).
 */
const OTHER_ENV = { OVERLAY_ROWFS_V8: process.env.ROWFS_BENCH_REPLAY_OTHER_V8, ROWFS_BENCH_NODE_FLAGS: process.env.ROWFS_BENCH_REPLAY_OTHER_NODE_FLAGS };
/**
 * ROWFS_BENCH_REPLAY_EMBEDDED=1 adds a side `embedded`: our embedded NFSv3 server as its own process
 * (embedded-process.ts), configured as the proxy's shadow is: what the proxy's layer costs above it.
 */
const EMBEDDED = process.env.ROWFS_BENCH_REPLAY_EMBEDDED === '1';

/** Runs `fn` with the variables of `vars` that are set replacing the environment's (spawned processes read them). */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) if (v !== undefined) process.env[k] = v;
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

interface Side {
  tag: 'direct' | 'proxy' | 'other' | 'embedded';
  ex: OpenedExport;
  work: FileHandle;
  pid: number;
}

/** The procedures a round sends, in the order printed. */
const PROCS = ['CREATE', 'SETATTR', 'LOOKUP', 'REMOVE'] as const;
type Proc = (typeof PROCS)[number];

interface RoundResult {
  /** Median round trip per procedure, microseconds: robust to the host's pauses, which move the means. */
  p50Us: Record<Proc, number>;
  createUs: number;
  removeUs: number;
  createCpuUs: number;
  removeCpuUs: number;
  createSysUs: number;
  removeSysUs: number;
  /** The server's minor page faults per file over the round (memory it touched for the first time, mostly). */
  faults: number;
}

/** Wall, server CPU and its system part, microseconds per file of `fn` over FILES files. */
async function timed(pid: number, fn: () => Promise<void>): Promise<[number, number, number]> {
  const { user: u0, system: s0 } = cpuTimes(pid);
  const t0 = process.hrtime.bigint();
  await fn();
  const wall = Number(process.hrtime.bigint() - t0) / 1e3;
  const { user: u1, system: s1 } = cpuTimes(pid);
  return [wall / FILES, ((u1 - u0 + s1 - s0) * 1e6) / FILES, ((s1 - s0) * 1e6) / FILES];
}

async function round(side: Side, r: number): Promise<RoundResult> {
  const nfs = side.ex.nfs;
  const dir = expectOk(await nfs.mkdir({ where: { dir: side.work, name: `r${r}` }, attributes: { mode: 0o755 } }), 'MKDIR').obj!;
  const verf = new Uint8Array(8);
  const trips = Object.fromEntries(PROCS.map((p) => [p, new Float64Array(FILES)])) as Record<Proc, Float64Array>;
  const trip = async <T>(p: Proc, i: number, call: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const res = await call();
    trips[p][i] = (performance.now() - t0) * 1e3;
    return res;
  };
  const faults0 = minorFaults(side.pid);
  const [createUs, createCpuUs, createSysUs] = await timed(side.pid, async () => {
    for (let i = 0; i < FILES; i++) {
      new DataView(verf.buffer).setUint32(4, i);
      const fh = expectOk(await trip('CREATE', i, () => nfs.create({ where: { dir, name: `f${i}` }, how: { mode: CreateMode.EXCLUSIVE, verf } })), 'CREATE').obj!;
      const attrs = { mode: 0o644, atime: { how: TimeHow.SET_TO_SERVER_TIME }, mtime: { how: TimeHow.SET_TO_SERVER_TIME } } as const;
      expectOk(await trip('SETATTR', i, () => nfs.setattr({ object: fh, newAttributes: attrs })), 'SETATTR');
    }
  });
  const [removeUs, removeCpuUs, removeSysUs] = await timed(side.pid, async () => {
    for (let i = 0; i < FILES; i++) {
      expectOk(await trip('LOOKUP', i, () => nfs.lookup({ what: { dir, name: `f${i}` } })), 'LOOKUP');
      expectOk(await trip('REMOVE', i, () => nfs.remove({ object: { dir, name: `f${i}` } })), 'REMOVE');
    }
  });
  const p50Us = Object.fromEntries(PROCS.map((p) => [p, median([...trips[p]])])) as Record<Proc, number>;
  return { p50Us, createUs, removeUs, createCpuUs, removeCpuUs, createSysUs, removeSysUs, faults: (minorFaults(side.pid) - faults0) / FILES };
}

async function main(): Promise<void> {
  const workDir = tempWorkDir('rowfs-create-');
  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    const scratch = await mountScratchExt4(workDir.path, SCRATCH_BYTES);
    cleanups.push(() => scratch.release());
    const mainDir = join(scratch.path, 'main');
    const directDir = join(scratch.path, 'direct');
    const shadowDir = join(scratch.path, 'shadow');
    for (const d of [join(mainDir, 'work'), join(directDir, 'work'), shadowDir]) mkdirSync(d, { recursive: true });
    const mainG = await startGanesha({ exportDir: mainDir, readOnly: true, nfsPort: 20491, mountPort: 20049 });
    cleanups.push(() => mainG.stop());
    const direct = await startGanesha({ exportDir: directDir, nfsPort: 20490, mountPort: 20048 });
    cleanups.push(() => direct.stop());
    const proxy = await startProxy(mainG, { dir: shadowDir }, join(scratch.path, 'state'), 64 * 1024);
    cleanups.push(() => proxy.stop());
    const open = async (tag: Side['tag'], host: string, exportPath: string, nfsPort: number, mountPort: number, pid: number): Promise<Side> => {
      const ex = await openExport({ host, exportPath, nfsPort, mountPort, timeoutMs: 60_000 });
      cleanups.push(() => ex.close());
      const work = expectOk(await ex.nfs.lookup({ what: { dir: ex.root, name: 'work' } }), 'work').object;
      return { tag, ex, work, pid };
    };
    const sides = [
      await open('direct', direct.host, direct.exportPath, direct.nfsPort, direct.mountPort, direct.proc().pid),
      await open('proxy', '127.0.0.1', mainG.exportPath, proxy.port, proxy.port, proxy.proc.pid),
    ];
    if (OTHER) {
      const otherShadow = join(scratch.path, 'other-shadow');
      mkdirSync(otherShadow);
      const other = await withEnv(OTHER_ENV, () => startProxy(mainG, { dir: otherShadow }, join(scratch.path, 'other-state'), 64 * 1024, '127.0.0.1', join(OTHER, 'bin', 'overlay.js')));
      cleanups.push(() => other.stop());
      sides.push(await open('other', '127.0.0.1', mainG.exportPath, other.port, other.port, other.proc.pid));
    }
    if (EMBEDDED) {
      const embeddedDir = join(scratch.path, 'embedded');
      mkdirSync(join(embeddedDir, 'work'), { recursive: true });
      const nodeFlags = process.env.ROWFS_BENCH_NODE_FLAGS ? process.env.ROWFS_BENCH_NODE_FLAGS.split(' ') : [];
      const e = await startEmbeddedProcess(embeddedDir, nodeFlags);
      cleanups.push(() => e.stop());
      sides.push(await open('embedded', '127.0.0.1', e.exportPath, e.nfsPort, e.mountPort, e.proc.pid));
    }
    console.log(`(${FILES} files a round, ${ROUNDS} rounds a side after one warm-up; load ${readFileSync('/proc/loadavg', 'utf8').trim()})`);
    const results = new Map<string, RoundResult[]>(sides.map((s) => [s.tag, []]));
    for (const s of sides) await round(s, -1); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      // Each side first, middle and last in turn.
      for (const s of [...sides.slice(r % sides.length), ...sides.slice(0, r % sides.length)]) {
        const traceCmd = r === TRACE_ROUND ? process.env.ROWFS_BENCH_REPLAY_TRACE : undefined;
        const trace = traceCmd ? startTracer(traceCmd, { pid: s.pid, side: s.tag }) : undefined;
        if (trace) await new Promise((resolve) => setTimeout(resolve, 500)); // attached before the round starts
        const res = await round(s, r);
        if (trace) console.log((await trace.stop()).slice(-20000));
        results.get(s.tag)!.push(res);
        const p50s = PROCS.map((p) => `${p} ${res.p50Us[p].toFixed(0)}`).join(', ');
        const rss = rssKindsMb(s.pid);
        console.log(`${s.tag.padEnd(6)} round ${r}: create ${res.createUs.toFixed(0)} us/file (server CPU ${res.createCpuUs.toFixed(0)}, system ${res.createSysUs.toFixed(0)}), remove ${res.removeUs.toFixed(0)} us/file (server CPU ${res.removeCpuUs.toFixed(0)}, system ${res.removeSysUs.toFixed(0)}), ${res.faults.toFixed(1)} page faults/file, resident ${rss.anon.toFixed(1)} MB anonymous + ${rss.file.toFixed(1)} MB file; median round trips ${p50s} us`);
      }
    }
    const med = (tag: string, k: Exclude<keyof RoundResult, 'p50Us'>) => median(results.get(tag)!.map((x) => x[k]));
    /** One summary line: direct's value, then each proxy's and how it compares with direct's. */
    const line = (label: string, f: (tag: string) => number, sign: string, vs: (a: number, b: number) => string) =>
      console.log(`${label.padEnd(12)} direct ${f('direct').toFixed(0)}${sides.slice(1).map((s) => `  ${s.tag} ${f(s.tag).toFixed(0)}  ${s.tag}${sign}direct ${vs(f(s.tag), f('direct'))}`).join('')}`);
    for (const k of ['createUs', 'createCpuUs', 'createSysUs', 'removeUs', 'removeCpuUs', 'removeSysUs', 'faults'] as const) {
      line(k, (tag) => med(tag, k), '/', (a, b) => (a / b).toFixed(2));
    }
    for (const p of PROCS) {
      line(`${p} p50`, (tag) => median(results.get(tag)!.map((x) => x.p50Us[p])), '-', (a, b) => `${(a - b).toFixed(0)} us`);
    }
    console.log(`(load ${readFileSync('/proc/loadavg', 'utf8').trim()})`);
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    workDir.remove();
  }
}

runMain(main);
