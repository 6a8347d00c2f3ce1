// The kernel-client phase of bench:rowfs (issue 15): the Linux kernel NFS client in a qemu VM (TCG,
// 1 vCPU, VM_MEMORY_MB) mounts nfs-ganesha directly (a read-write copy of the tree) and the proxy
// (`overlay rowfs` over the read-only main ganesha, with a local shadow directory, called
// in-process), both NFSv3/TCP through qemu's user-mode network, and runs the same workloads on
// each, direct first (bench/guest/fsbench.c, a static program, so no shell forks per file):
//   meta   create VM_META_FILES empty files, then (caches dropped) stat and delete them in a
//          shuffled order: vm_{create,stat,delete}_ops_{direct,proxy} (median of META_ROUNDS)
//   write  VM_FILE_MIB MiB in 1 MiB writes + fsync into a new file: vm_write_mbps_*
//   read   (caches dropped) a VM_FILE_MIB MiB file of the tree, larger than the VM's memory; through
//          the proxy a cold read from main into the block cache: vm_read_mbps_* (median of
//          READ_ROUNDS, each round its own file)
// Before its measured workloads each side runs the metadata workload once, unmeasured, in another
// directory (WARMUP_FILES files): the proxy is a fresh process, and V8 compiling its code took
// 12-17 % of its CPU over the first 12,000 calls; a long-running proxy has long compiled it. The
// direct ganesha gets the same warm-up (its caches). The servers' directories (the direct tree,
// the shadow, the proxy's state) live on a new journaled ext4 per run (scratch-ext4.ts).
// The host reads the guest's markers from the serial console and samples the server's CPU at the
// start and end of its workloads: vm_proxy_cpu_s (the proxy during its run) against
// vm_ganesha_cpu_s (the direct ganesha during its run); vm_proxy_peak_rss_mb is the proxy's VmHWM.
import { execFileSync } from 'node:child_process';
import { copyFileSync, closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGanesha, type Ganesha } from '../../simulations/harness/ganesha.js';
import { buildInitramfs, installedKernel, moduleChain } from '../../simulations/harness/initramfs.js';
import { run, startProc, type Proc } from '../../simulations/harness/proc.js';
import { kernelVmArgs, serialText } from '../../simulations/harness/vm.js';
import { cpuSeconds, startProxy, threadCpuDelta, threadCpuSeconds } from './proxy-process.js';
import { mountScratchExt4 } from './scratch-ext4.js';
import { startEmbeddedServer } from '../../rowfs/server/embedded-server.js';
import { median } from '../median.js';
import { jitSummary, TRACE_JIT } from './jit-summary.js';
import { startTracer } from './tracer.js';

const VM_DIR = 'vm';
/** The large file a read round reads (a different one each round, so each is cold for the proxy). */
const vmFile = (round: number) => `big${round}.bin`;
export const VM_MEMORY_MB = 256;
/** Larger than the VM's memory, so the read cannot come from the guest's page cache. */
export const VM_FILE_MIB = 384;
export const VM_META_FILES = 2000;
/** Files of the unmeasured warm-up run per side (ROWFS_BENCH_VM_WARMUP=0 leaves it out, for diagnostics). */
const WARMUP_FILES = Number(process.env.ROWFS_BENCH_VM_WARMUP ?? VM_META_FILES);
/** Diagnostics: ROWFS_BENCH_VM_WARMUP_ROUNDS=N runs N unmeasured warm-up rounds per side (default 1), each in a directory of its own. */
const WARMUP_ROUNDS = Number(process.env.ROWFS_BENCH_VM_WARMUP_ROUNDS ?? 1);
/** The scratch file system: the direct copies and write, the shadow's write, the proxy's block cache. */
const SCRATCH_BYTES = 8 * 1024 ** 3;
const VM_TIMEOUT_MS = 20 * 60_000;
/** Metadata rounds per side (figures: their medians). One round's spread between runs was 0.47-0.72x. */
const META_ROUNDS = 3;
/** Read rounds per side, each of its own file (one round's ratio ranged 0.63-0.84x between runs). */
const READ_ROUNDS = 3;
/** The guest's address for the host's loopback (qemu user-mode network). */
const HOST_FROM_GUEST = '10.0.2.2';
const SOURCE = fileURLToPath(new URL('../../../bench/guest/fsbench.c', import.meta.url));

/** Calls per procedure made between two counter snapshots, largest first. */
function callDelta(before: Record<string, number>, after: Record<string, number>): string {
  return Object.entries(after)
    .map(([proc, n]) => [proc, n - (before[proc] ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([proc, n]) => `${proc} ${n}`)
    .join(', ');
}

/** The VM's part of main's tree (before main's ganesha starts): the large files and a work directory. */
export function prepareKernelTree(mainDir: string): void {
  mkdirSync(join(mainDir, VM_DIR, 'work'), { recursive: true });
  const chunk = Buffer.alloc(1024 * 1024);
  for (let r = 0; r < READ_ROUNDS; r++) {
    const fd = openSync(join(mainDir, VM_DIR, vmFile(r)), 'w');
    for (let i = 0; i < VM_FILE_MIB; i++) writeSync(fd, chunk.fill((i * 7 + 3 + r) & 0xff));
    closeSync(fd);
  }
}

export interface KernelPhaseFigures {
  [name: string]: { value: number; unit: string };
}

interface Side {
  tag: 'direct' | 'proxy' | 'embedded';
  mountSpec: string;
  options: string;
  /** The server whose CPU this side is charged (ganesha direct, or the proxy). */
  pid: number;
}

/** Diagnostics: ROWFS_BENCH_VM_META_ONLY=1 runs only the metadata workload (no read/write figures). */
const META_ONLY = process.env.ROWFS_BENCH_VM_META_ONLY === '1';
/**
 * Diagnostics: ROWFS_BENCH_VM_TRACE='CMD ARGS' runs CMD with `{pid}` replaced by the proxy's PID for
 * the proxy's first workload of TRACE_KIND (e.g. `strace -f -T -tt -o /tmp/s -p {pid}`), stopped by SIGINT after it.
 */
const TRACE_CMD = process.env.ROWFS_BENCH_VM_TRACE;
/** Diagnostics: which kind of the proxy's workloads ROWFS_BENCH_VM_TRACE traces (its first one; default meta). */
const TRACE_KIND = process.env.ROWFS_BENCH_VM_TRACE_KIND ?? 'meta';
/** Diagnostics: which side ROWFS_BENCH_VM_TRACE traces (default proxy; `direct` traces ganesha the same way). */
const TRACE_SIDE = process.env.ROWFS_BENCH_VM_TRACE_SIDE ?? 'proxy';
/**
 * Diagnostics: ROWFS_BENCH_VM_EMBEDDED=1 adds a third side to the metadata rounds, our embedded NFSv3
 * server (the shadow's own code, in the bench's process) serving a directory directly: what our
 * RPC stack and local export cost without the proxy's layer. Logged, not a figure.
 */
const EMBEDDED = process.env.ROWFS_BENCH_VM_EMBEDDED === '1';
/**
 * Diagnostics: with ROWFS_BENCH_NODE_FLAGS='--trace-opt --trace-deopt' each proxy workload logs what
 * V8 compiled and deoptimized meanwhile (jit-summary.ts); ROWFS_BENCH_VM_JIT_DUMP=PREFIX also writes
 * the proxy's output of each workload to PREFIX-STEP.txt (add --trace-gc to the flags for GCs).
 */
const JIT_DUMP = process.env.ROWFS_BENCH_VM_JIT_DUMP;
/** Diagnostics: ROWFS_BENCH_VM_PROXY_FIRST=1 starts each kind of workload with the proxy. */
const PROXY_FIRST = process.env.ROWFS_BENCH_VM_PROXY_FIRST === '1';

/**
 * Diagnostics: ROWFS_BENCH_VM_MOUNTSTATS=1 logs, per side, the guest's /proc/self/mountstats over
 * all its workloads: calls per procedure, mean round trip and mean execute time (ms). Round trip
 * minus the server's own time per call is the network and scheduling between them.
 */
const MOUNTSTATS = process.env.ROWFS_BENCH_VM_MOUNTSTATS === '1';

/**
 * Diagnostics: ROWFS_BENCH_VM_PIN=1 puts every qemu thread on CPU 0 and every server (both
 * sides' and main's) on CPU 1 once the guest has mounted, for both sides alike. Unpinned, the
 * proxy's single busy thread shared CPUs with qemu's vCPU and network threads and each step of a
 * call took about twice its time in create-replay; pinned, the same as there (docs/rowfs.md).
 */
const PIN = process.env.ROWFS_BENCH_VM_PIN === '1';

/** All threads of `pid` on the CPUs of `mask` (taskset's hexadecimal mask). */
function pinProcess(pid: number, mask: string): void {
  execFileSync('taskset', ['-a', '-p', mask, String(pid)], { stdio: 'ignore' });
}

/** Per side (mount point tag) and procedure: calls, mean round trip and execute ms (mountstats "per-op statistics"). */
export function mountstatsSummary(text: string): string[] {
  const out: string[] = [];
  let tag: string | undefined;
  for (const line of text.split('\n')) {
    const dev = /^device .* mounted on \/mnt\/(\S+) with fstype nfs/.exec(line);
    if (dev) {
      tag = dev[1];
      continue;
    }
    if (/^device /.test(line)) tag = undefined;
    const op = /^\s+([A-Z_]+): (\d+) \d+ \d+ \d+ \d+ \d+ (\d+) (\d+)/.exec(line);
    if (!tag || !op || op[2] === '0') continue;
    const ops = Number(op[2]);
    out.push(`${tag} ${op[1]}: ${ops} calls, round trip ${(Number(op[3]) / ops).toFixed(3)} ms, execute ${(Number(op[4]) / ops).toFixed(3)} ms`);
  }
  return out;
}

/** One workload of one side, between two markers on the serial console. */
interface Step {
  id: string;
  side: Side;
  kind: 'meta' | 'write' | 'read';
  command: string;
}

/**
 * The workloads in the order the guest runs them: META_ROUNDS metadata rounds alternating which
 * side goes first (so neither always follows the other's deletes), then each side's write and read.
 */
function stepsOf(sides: Side[]): Step[] {
  const steps: Step[] = [];
  for (let r = 0; r < META_ROUNDS; r++) {
    for (const side of r % 2 === 0 ? sides : [...sides].reverse()) {
      const dir = `/mnt/${side.tag}/${VM_DIR}/work/meta${r}`;
      steps.push({ id: `meta ${side.tag} ${r}`, side, kind: 'meta', command: `mkdir ${dir} && fsbench meta ${dir} ${VM_META_FILES}` });
    }
  }
  if (META_ONLY) return steps;
  for (const side of sides.filter((x) => x.tag !== 'embedded')) {
    steps.push({ id: `write ${side.tag}`, side, kind: 'write', command: `fsbench write /mnt/${side.tag}/${VM_DIR}/work/written ${VM_FILE_MIB}` });
  }
  for (let r = 0; r < READ_ROUNDS; r++) {
    for (const side of (r % 2 === 0 ? sides : [...sides].reverse()).filter((x) => x.tag !== 'embedded')) {
      steps.push({ id: `read ${side.tag} ${r}`, side, kind: 'read', command: `fsbench read /mnt/${side.tag}/${VM_DIR}/${vmFile(r)}` });
    }
  }
  return steps;
}

function initScript(modules: string[], sides: Side[], steps: Step[]): string {
  const lines = [
    'fail() { echo "VMB FAIL $*"; poweroff -f; }',
    'mount -t proc proc /proc', 'mount -t sysfs sysfs /sys', 'mount -t devtmpfs devtmpfs /dev',
    `for m in ${modules.join(' ')}; do insmod /lib/modules/$m || fail "insmod $m"; done`,
    'ip link set lo up', 'ip link set eth0 up || fail "no eth0"', 'ip addr add 10.0.2.15/24 dev eth0', `ip route add default via ${HOST_FROM_GUEST}`,
  ];
  for (const s of sides) {
    lines.push(`mkdir -p /mnt/${s.tag}`, `mount -t nfs -o ${s.options} ${s.mountSpec} /mnt/${s.tag} || fail "mount ${s.tag}"`);
  }
  for (const s of sides) {
    for (let r = 0; WARMUP_FILES > 0 && r < WARMUP_ROUNDS; r++) {
      const warm = `/mnt/${s.tag}/${VM_DIR}/work/warm${r}`;
      lines.push(`mkdir ${warm} && fsbench meta ${warm} ${WARMUP_FILES} > /dev/null || fail "warm-up ${s.tag}"`);
    }
  }
  lines.push('echo "VMB mounted"');
  for (const step of steps) {
    lines.push(
      `echo "VMB begin ${step.id}"`,
      'sleep 1', // the host samples the server's CPU and counters before the workload starts
      `${step.command} || fail "${step.id}"`,
      `echo "VMB end ${step.id}"`,
    );
  }
  // The kernel client's own view of each side: calls per procedure with their round trips.
  if (MOUNTSTATS) lines.push('echo "VMB mountstats"', 'cat /proc/self/mountstats', 'echo "VMB mountstats end"');
  lines.push('for s in /mnt/*; do umount $s; done', 'echo "VMB done"', 'poweroff -f');
  return lines.join('\n');
}

/**
 * Runs the phase: `main` is the read-only main ganesha (its export holds prepareKernelTree's files),
 * `mainDir` its directory (copied for the direct ganesha), `work` a scratch directory.
 */
export async function kernelClientPhase(main: Ganesha, mainDir: string, work: string, blockBytes: number, log: (s: string) => void): Promise<KernelPhaseFigures> {
  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    const scratch = await mountScratchExt4(work, SCRATCH_BYTES);
    cleanups.push(() => scratch.release());
    // The direct side: ganesha on a read-write copy of the VM's part of the tree.
    const rwDir = join(scratch.path, 'vm-direct');
    mkdirSync(join(rwDir, VM_DIR, 'work'), { recursive: true });
    for (let r = 0; r < READ_ROUNDS; r++) copyFileSync(join(mainDir, VM_DIR, vmFile(r)), join(rwDir, VM_DIR, vmFile(r)));
    const direct = await startGanesha({ exportDir: rwDir, nfsPort: 20490, mountPort: 20048 });
    cleanups.push(() => direct.stop());
    const shadowDir = join(scratch.path, 'vm-shadow');
    mkdirSync(shadowDir);
    const proxy = await startProxy(main, { dir: shadowDir }, join(scratch.path, 'vm-state'), blockBytes);
    cleanups.push(() => proxy.stop());

    const fsbench = join(work, 'fsbench');
    await run('gcc', ['-static', '-O2', '-o', fsbench, SOURCE], 120_000);
    const kernel = installedKernel();
    const modules = await moduleChain(kernel.version, ['virtio_pci', 'virtio_net', 'nfsv3']);
    const nfsOptions = 'vers=3,tcp,nolock,mountproto=tcp';
    const sides: Side[] = [
      { tag: 'direct', mountSpec: `${direct.host}:${direct.exportPath}`, options: `${nfsOptions},port=${direct.nfsPort},mountport=${direct.mountPort}`, pid: direct.proc().pid },
      { tag: 'proxy', mountSpec: `${HOST_FROM_GUEST}:${main.exportPath}`, options: `${nfsOptions},port=${proxy.port},mountport=${proxy.port}`, pid: proxy.proc.pid },
    ];
    if (PROXY_FIRST) sides.reverse();
    if (EMBEDDED) {
      const dir = join(scratch.path, 'vm-embedded');
      mkdirSync(join(dir, VM_DIR, 'work'), { recursive: true });
      const e = await startEmbeddedServer({ exportDir: dir, host: '127.0.0.1' });
      cleanups.push(() => e.stop());
      sides.push({ tag: 'embedded', mountSpec: `${HOST_FROM_GUEST}:${e.exportPath}`, options: `${nfsOptions},port=${e.nfsPort},mountport=${e.mountPort}`, pid: process.pid });
    }
    const steps = stepsOf(sides);
    const initrd = join(work, 'vm-initrd.img');
    await buildInitramfs({
      out: initrd,
      init: initScript(modules.map((m) => m.split('/').pop()!), sides, steps),
      modules,
      files: { '/bin/fsbench': readFileSync(fsbench) },
    });
    const vm: Proc = startProc('qemu-system-x86_64', kernelVmArgs({ kernel: kernel.image, initrd, append: 'quiet', memoryMb: VM_MEMORY_MB }));
    cleanups.push(() => vm.kill(2000));
    const started = Date.now();
    await vm.waitFor(/VMB (mounted|FAIL.*)/, VM_TIMEOUT_MS);
    const mainPid = main.proc().pid;
    if (PIN) {
      pinProcess(vm.pid, '1');
      for (const pid of new Set([mainPid, ...sides.map((x) => x.pid)])) pinProcess(pid, '2');
      log('(pinned: qemu on CPU 0, the servers on CPU 1)');
    }
    /** Server CPU seconds per step id. */
    const cpuOf = new Map<string, number>();
    let traced = false;
    for (const step of steps) {
      const begin = await vm.waitFor(new RegExp(`VMB (begin ${step.id}|FAIL.*)`), VM_TIMEOUT_MS);
      if (begin[1]!.startsWith('FAIL')) break;
      const cpu0 = cpuSeconds(step.side.pid);
      const threads0 = threadCpuSeconds(step.side.pid);
      const mainCpu0 = cpuSeconds(mainPid);
      const calls = step.side.tag === 'proxy' ? await proxy.stats() : undefined;
      const outputAt = proxy.proc.output().length;
      const traceIt = !traced && TRACE_CMD !== undefined && step.side.tag === TRACE_SIDE && step.kind === TRACE_KIND;
      const trace = traceIt ? startTracer(TRACE_CMD!, { pid: step.side.pid }) : undefined;
      if (trace) {
        traced = true;
        log(`(tracing ${step.side.tag}, pid ${step.side.pid}, in ${step.id}: ${TRACE_CMD})`);
      }
      const end = await vm.waitFor(new RegExp(`VMB (end ${step.id}|FAIL.*)`), VM_TIMEOUT_MS);
      if (trace) await trace.stop();
      if (end[1]!.startsWith('FAIL')) break;
      cpuOf.set(step.id, cpuSeconds(step.side.pid) - cpu0);
      const threadLine = threadCpuDelta(threads0, threadCpuSeconds(step.side.pid));
      // What the kernel client asked of the proxy, and what the proxy asked of its servers.
      const callLine = calls
        ? `; ${await proxy.stats().then((now) => [...(['client', 'shadow', 'main'] as const).map((side) => `${side} ${callDelta(calls[side], now[side])}`), `reads that waited for main ${now.cache.waitedReads - calls.cache.waitedReads}`].join('; '))}`
        : '';
      log(`(${step.id}: server CPU ${cpuOf.get(step.id)!.toFixed(2)} s, main ganesha ${(cpuSeconds(mainPid) - mainCpu0).toFixed(2)} s, ` +
        `VM up ${((Date.now() - started) / 1000).toFixed(0)} s, load ${readFileSync('/proc/loadavg', 'utf8').trim()}; by thread: ${threadLine}${callLine})`);
      if (TRACE_JIT && step.side.tag === 'proxy') log(`(${step.id}: ${jitSummary(proxy.proc.output().slice(outputAt))})`);
      if (TRACE_JIT && step.side.tag === 'proxy' && JIT_DUMP) writeFileSync(`${JIT_DUMP}-${step.id.replaceAll(' ', '_')}.txt`, proxy.proc.output().slice(outputAt));
    }
    await vm.waitFor(/VMB (done|FAIL.*)/, VM_TIMEOUT_MS);
    const serial = serialText(vm.output());
    if (MOUNTSTATS) for (const l of mountstatsSummary(serial.slice(serial.indexOf('VMB mountstats'), serial.indexOf('VMB mountstats end')))) log(`(${l})`);
    const failed = /VMB FAIL.*/.exec(serial);
    if (failed) throw new Error(`kernel-client phase: ${failed[0]}\n${serial.slice(-3000)}`);
    const valueIn = (step: Step, name: string) => {
      const part = serial.slice(serial.indexOf(`VMB begin ${step.id}`), serial.indexOf(`VMB end ${step.id}`));
      const m = new RegExp(`FSBENCH ${name} ([0-9.]+)`).exec(part);
      if (!m) throw new Error(`kernel-client phase: no ${name} in ${step.id}\n${part.slice(-2000)}`);
      return Number(m[1]);
    };
    const figures: KernelPhaseFigures = {};
    const cpu: Record<string, number> = {};
    for (const side of sides) {
      const metas = steps.filter((st) => st.side === side && st.kind === 'meta');
      if (side.tag === 'embedded') {
        for (const w of ['create', 'stat', 'delete']) log(`(embedded server ${w} ops/s rounds: ${metas.map((st) => valueIn(st, `${w}_ops`)).join(', ')})`);
        log(`(embedded server CPU per round: ${metas.map((st) => cpuOf.get(st.id)!.toFixed(2)).join(', ')} s)`);
        continue;
      }
      for (const w of ['create', 'stat', 'delete']) {
        const rounds = metas.map((st) => valueIn(st, `${w}_ops`));
        figures[`vm_${w}_ops_${side.tag}`] = { value: median(rounds), unit: 'ops/s' };
        log(`(vm_${w}_ops_${side.tag} rounds: ${rounds.join(', ')})`);
      }
      // One metadata round and one read round (the medians' CPU) plus the write, as before the rounds.
      const reads = steps.filter((st) => st.side === side && st.kind === 'read');
      const cpuMedian = (of: Step[]) => (of.length ? median(of.map((st) => cpuOf.get(st.id)!)) : 0);
      cpu[side.tag] = cpuMedian(metas) + (cpuOf.get(`write ${side.tag}`) ?? 0) + cpuMedian(reads);
      if (META_ONLY) continue;
      const rates = reads.map((st) => {
        if (valueIn(st, 'read_bytes') !== VM_FILE_MIB * 1024 * 1024) throw new Error(`kernel-client phase: ${st.id} read ${valueIn(st, 'read_bytes')} bytes`);
        return valueIn(st, 'read_mbps');
      });
      log(`(vm_read_mbps_${side.tag} rounds: ${rates.join(', ')})`);
      figures[`vm_read_mbps_${side.tag}`] = { value: median(rates), unit: 'MB/s' };
      figures[`vm_write_mbps_${side.tag}`] = { value: valueIn(steps.find((st) => st.id === `write ${side.tag}`)!, 'write_mbps'), unit: 'MB/s' };
    }
    figures['vm_proxy_cpu_s'] = { value: cpu['proxy']!, unit: 's' };
    figures['vm_ganesha_cpu_s'] = { value: cpu['direct']!, unit: 's' };
    figures['vm_proxy_peak_rss_mb'] = { value: proxy.peakRssMb(), unit: 'MB' };
    return figures;
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }
}
