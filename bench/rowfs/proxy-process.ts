// The proxy under test as its own process (`overlay rowfs`), so its CPU and peak RSS are its own;
// and the CPU and peak RSS of any process by PID, from /proc.
import { readdirSync, readFileSync } from 'node:fs';
import { startProc, type Proc } from '../../simulations/harness/proc.js';
import { overlayCommand } from '../../simulations/harness/overlay-command.js';
import type { Ganesha } from '../../simulations/harness/ganesha.js';

/** User and system CPU seconds a process has used so far. */
export function cpuTimes(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) / 100, system: Number(f[12]) / 100 }; // utime, stime in clock ticks (USER_HZ = 100)
}

/** Minor page faults of a process so far (pages it touched first, or that the kernel had to map again). */
export function minorFaults(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]); // minflt
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.system;
}

/**
 * CPU seconds so far of a process's threads, summed by thread name, the main thread as `main`
 * (for a Node process: `V8 Worker` is TurboFan and GC helpers, `libuv-worker` the pool). Threads
 * that have exited are not counted.
 */
export function threadCpuSeconds(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return byName;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = tid === String(pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      byName.set(name, (byName.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      /* the thread exited meanwhile */
    }
  }
  return byName;
}

/** `after` minus `before` per thread name, as "main 1.20 s, V8 Worker 0.31 s, ...", largest first. */
export function threadCpuDelta(before: Map<string, number>, after: Map<string, number>): string {
  return [...after]
    .map(([name, s]) => [name, s - (before.get(name) ?? 0)] as const)
    .filter(([, s]) => s > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([name, s]) => `${name} ${s.toFixed(2)} s`)
    .join(', ');
}

/** A process's peak resident set so far (VmHWM), in MB; 0 once it has exited. */
export function peakRssMb(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** A process's resident set now, by kind (anonymous, file-backed such as LMDB maps, shared), in MB. */
export function rssKindsMb(pid: number): { anon: number; file: number; shmem: number; hwm: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
    return { anon: kb('RssAnon'), file: kb('RssFile'), shmem: kb('RssShmem'), hwm: kb('VmHWM') };
  } catch {
    return { anon: 0, file: 0, shmem: 0, hwm: 0 };
  }
}

/** The part of the proxy's counters (GET /stats) the bench reads. */
export interface ProxyStats {
  client: Record<string, number>;
  main: Record<string, number>;
  shadow: Record<string, number>;
  bytes: { fromMain: number };
  cache: { missBlocks: number; waitedReads: number };
}

export interface ProxyProc {
  proc: Proc;
  port: number;
  control: number;
  stats(): Promise<ProxyStats>;
  peakRssMb(): number;
  stop(): Promise<void>;
}

/** Where the proxy's writes go: a shadow ganesha, or a local directory (called in-process). */
export type ShadowSpec = Ganesha | { dir: string };

export async function startProxy(main: Ganesha, shadow: ShadowSpec, stateDir: string, blockBytes: number, listenHost = '127.0.0.1', bin?: string): Promise<ProxyProc> {
  const prof = process.env.ROWFS_BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.ROWFS_BENCH_PROF}`] : [];
  if (process.env.ROWFS_BENCH_NODE_FLAGS) prof.push(...process.env.ROWFS_BENCH_NODE_FLAGS.split(' '));
  const shadowArgs = 'dir' in shadow
    ? ['--shadow', shadow.dir]
    : ['--shadow', `${shadow.host}:${shadow.exportPath}`, '--shadow-nfs-port', String(shadow.nfsPort), '--shadow-mount-port', String(shadow.mountPort)];
  const proc = startProc(...overlayCommand([
    'rowfs', '--main', `${main.host}:${main.exportPath}`, '--main-nfs-port', String(main.nfsPort), '--main-mount-port', String(main.mountPort),
    ...shadowArgs,
    '--listen', '0', '--host', listenHost, '--state', stateDir, '--control', '0', '--block-size', String(blockBytes),
    ...(process.env.ROWFS_BENCH_PROXY_ARGS ? process.env.ROWFS_BENCH_PROXY_ARGS.split(' ') : []),
  ], prof, bin));
  const m = await proc.waitFor(/NFS port (\d+), MOUNT port \d+[\s\S]*control http:\/\/127\.0\.0\.1:(\d+)/, 20_000);
  const control = Number(m[2]);
  let peak = 0;
  const sample = () => (peak = Math.max(peak, peakRssMb(proc.pid)));
  const timer = setInterval(sample, 200);
  return {
    proc,
    port: Number(m[1]),
    control,
    async stats() {
      return (await (await fetch(`http://127.0.0.1:${control}/stats`)).json()) as ProxyStats;
    },
    peakRssMb: () => (sample(), peak),
    async stop() {
      sample();
      clearInterval(timer);
      await proc.kill(5000);
    },
  };
}
