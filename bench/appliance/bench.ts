// `npm run bench:appliance [-- --cache DIR] [--phases wan23,lan,wan68] [--boots cold,second,restart]
//  [--console-dir DIR] [--max-io BYTES] [--block-size BYTES] [--name NAME]`: the paper's experiment
// (Table 1, section 4.3, Figures 4 and 5) over the overlay with the real appliance
// (`npm run appliance:build` first). For each round trip (23 ms, 0 ms "LAN", 68 ms: the paper's
// Table 1) the proxy starts on an empty store (a cold cache), a VM PXE-boots the appliance to
// systemd's multi-user target and powers off (at 23 ms it first runs the workload 6 times: over
// NFS, from the page cache, and from a local disk attached to that VM), then (not at 0 ms: no
// figure needs it) a second VM boots from the same proxy (a reboot); at 23 ms a
// third boots after the proxy restarted with its block cache removed and its shadow kept (--boots
// keeps only the named ones, e.g. `--phases wan23 --boots cold` for one cold boot). Boot time =
// power-on to the appliance's `APPLIANCE multi-user` line on the serial console.
//
// Prints progress and a table beside the paper's numbers and the issue's targets; writes
// bench/results/appliance.json (the figures) and bench/results/appliance-detail.json (console
// timelines, proxy counters, 1-second proxy samples, load averages, and the plots to draw from
// them: `npm run plot -- bench/results/appliance-detail.json`); --name NAME writes NAME.json and
// NAME-detail.json instead (a variant, e.g. with the proxy's --image-max-io BYTES set by --max-io),
// and its plots as docs/figures/NAME-*.png. Needs root, qemu, and the
// built appliance. Every wait is bounded; the namespaces and processes go, also on failure.
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CountersSnapshot } from '../../rowfs/counters.js';
import { buildAppliance, DEFAULT_CACHE, type ApplianceBuild } from './build.js';
import { ApplianceChain, type VmRun } from './chain.js';
import { ProxySampler } from './proxy-sampler.js';
import { applianceTable, timelineTable, type Figures } from './report.js';
import { figure4, figure5 } from './figures.js';
import { fileReads, fileTable, imagePaths, type FileReads } from './file-reads.js';
import type { WorkloadRun } from './console-timeline.js';
import { makeWorkloadDisk } from './workload-disk.js';
import { applianceKernelArgs, initramfsRootMode } from './kernel-args.js';

/** The paper's Table 1 round trips, as one-way delays on the image server's router. */
const PHASES: Record<string, number> = { wan23: 11.5, lan: 0, wan68: 34 };
/**
 * Boots per phase: no figure needs the LAN's second boot, and a TCG boot takes minutes. At 23 ms a
 * third boot follows the proxy's restart on an empty block cache with its state and shadow kept.
 */
const BOOTS: Record<string, ReadonlyArray<Boot>> = { wan23: ['cold', 'second', 'restart'], lan: ['cold'], wan68: ['cold', 'second'] };
type Boot = 'cold' | 'second' | 'restart';
const VM_TIMEOUT_MS = 20 * 60_000;
const started = Date.now();
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const say = (line: string) => {
  const s = Math.round((Date.now() - started) / 1000);
  console.log(`[${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s] ${line}`);
};

function readCounters(file: string): CountersSnapshot | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as CountersSnapshot;
  } catch {
    return undefined;
  }
}

/** Counters once the 1-second counters file has caught up (written after `since` + 1.5 s), at most 10 s. */
async function settledCounters(file: string, since: number): Promise<CountersSnapshot> {
  const end = Date.now() + 10_000;
  for (;;) {
    const c = readCounters(file);
    let mtime = 0;
    try {
      mtime = Number(execFileSync('stat', ['-c', '%Y', file]).toString()) * 1000;
    } catch {
      mtime = 0;
    }
    if (c && mtime >= since + 1500) return c;
    if (Date.now() > end) {
      if (c) return c;
      throw new Error(`no counters in ${file}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

interface Output {
  name: string;
  figures: string;
  detail: string;
}

interface BootRecord {
  phase: string;
  boot: Boot;
  loadBefore: string;
  loadAfter: string;
  rttMs: number;
  bootS?: number;
  exit: string;
  timeline: VmRun['timeline'];
  /** Sampler seconds of power-on, multi-user and power-off (to mark phases in Figure 4). */
  marks: { on: number; multiUser?: number; off: number };
  /** Counters when multi-user was reached and after the VM powered off. */
  atMultiUser?: CountersSnapshot;
  atEnd: CountersSnapshot;
  shadowBytes: number;
  /** Cold boots: what the VM read of the image and what the proxy fetched, per file. */
  files?: FileReads;
  consoleTail: string[];
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const name = opt('--name') ?? 'appliance';
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`--name ${name}: letters, digits and dashes only`);
  const out: Output = { name, figures: `bench/results/${name}.json`, detail: `bench/results/${name}-detail.json` };
  const maxIo = opt('--max-io');
  const maxIoBytes = maxIo === undefined ? undefined : Number(maxIo);
  if (maxIoBytes !== undefined && !(Number.isInteger(maxIoBytes) && maxIoBytes >= 4096 && maxIoBytes <= 1048576)) throw new Error(`--max-io ${maxIo}: 4096..1048576 bytes`);
  const blockSize = opt('--block-size') === undefined ? undefined : Number(opt('--block-size'));
  if (blockSize !== undefined && !(Number.isInteger(blockSize) && blockSize >= 4096 && blockSize <= 1048576 && (blockSize & (blockSize - 1)) === 0)) throw new Error(`--block-size ${opt('--block-size')}: a power of two, 4096..1048576 bytes`);
  const phases = (opt('--phases') ?? Object.keys(PHASES).join(',')).split(',');
  for (const p of phases) if (!(p in PHASES)) throw new Error(`unknown phase ${p} (lan, wan23, wan68)`);
  const boots = (opt('--boots') ?? 'cold,second,restart').split(',');
  for (const b of boots) if (!['cold', 'second', 'restart'].includes(b)) throw new Error(`unknown boot ${b} (cold, second, restart)`);
  const build = await buildAppliance({ cache: opt('--cache') ?? DEFAULT_CACHE, dryRun: true });
  if (!build) throw new Error('the appliance is not built: npm run appliance:build first');
  say(`appliance ${build.digest}: ${(build.bytes / 1e6).toFixed(0)} MB, ${build.files} files; load ${load()} (2 shared cores: TCG boots are slow and noisy)`);

  const consoleDir = opt('--console-dir') ?? join(tmpdir(), 'appliance-bench');
  mkdirSync(consoleDir, { recursive: true });
  const chain = await ApplianceChain.create(build, say, blockSize);
  let paths: Map<string, string> | undefined;
  const filePaths = () => (paths ??= imagePaths(build.root));
  let disk: string | undefined;
  const workloadDisk = () => {
    if (disk) return disk;
    disk = join(consoleDir, 'workload-disk.img');
    const files = makeWorkloadDisk(build.root, disk);
    say(`workload disk ${disk}: ${files.join(' ')}`);
    return disk;
  };
  const sampler = new ProxySampler();
  const records: BootRecord[] = [];
  const stop = async () => {
    sampler.stop();
    await chain.destroy();
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    sampler.start(() => chain.proxyOrUndefined());
    for (const phase of phases) {
      await chain.setDelay(PHASES[phase]!);
      const rttMs = await chain.rttMs();
      await chain.startProxy({ maxIoBytes });
      say(`${phase}: overlay RTT proxy -> image server ${rttMs} ms; proxy started on an empty store`);
      for (const boot of BOOTS[phase]!.filter((b) => boots.includes(b))) {
        const workload = phase === 'wan23' && boot === 'cold';
        const kernelArgs = applianceKernelArgs(workload);
        if (initramfsRootMode(kernelArgs) !== 'rw') throw new Error(`${phase} ${boot}: the initramfs would mount the root read-only (a word "ro" on the kernel command line)`);
        if (boot === 'restart') {
          await chain.startProxy({ keepStore: true, dropCache: true, maxIoBytes });
          say(`${phase}: proxy restarted on the same store with its block cache removed (state and shadow kept)`);
        }
        const loadBefore = load();
        const { countersFile, shadowDir } = chain.proxy;
        let atMultiUser: CountersSnapshot | undefined;
        let multiUserAt: number | undefined;
        const on = sampler.now();
        const poweredOnAt = Date.now();
        const consoleFile = join(consoleDir, `${phase}-${boot}.console`);
        writeFileSync(consoleFile, '');
        say(`${phase} ${boot} boot: power on (load ${loadBefore}; console in ${consoleFile})${workload ? ', workload 6 times after multi-user' : ''}`);
        let lastStage = '';
        const run = await chain.runVm(`${phase} ${boot}`, kernelArgs, VM_TIMEOUT_MS, (line) => {
          appendFileSync(consoleFile, `${((Date.now() - poweredOnAt) / 1000).toFixed(1)} ${line}\n`);
          const stage = stageOf(line);
          if (stage && stage !== lastStage) {
            lastStage = stage;
            say(`  ${phase} ${boot}: ${stage} (${line.trim().slice(0, 90)})`);
          }
          if (/APPLIANCE multi-user/.test(line) && multiUserAt === undefined) {
            multiUserAt = sampler.now();
            atMultiUser = readCounters(countersFile);
          }
          if (/APPLIANCE workload/.test(line)) say(`  ${phase} ${boot}: ${line.trim()}`);
        }, workload ? [workloadDisk()] : undefined);
        const end = Date.now();
        const atEnd = await settledCounters(countersFile, end);
        const bootMs = run.timeline.stages.multiUser;
        const files = boot === 'cold' ? fileReads(atEnd, filePaths()) : undefined;
        const rec: BootRecord = {
          phase,
          boot,
          loadBefore,
          loadAfter: load(),
          rttMs,
          ...(bootMs === undefined ? {} : { bootS: Math.round(bootMs / 100) / 10 }),
          exit: run.exit,
          timeline: run.timeline,
          marks: { on, ...(multiUserAt === undefined ? {} : { multiUser: multiUserAt }), off: sampler.now() },
          ...(atMultiUser ? { atMultiUser } : {}),
          atEnd,
          shadowBytes: duBytes(shadowDir),
          ...(files ? { files } : {}),
          consoleTail: run.lines.slice(-40).map((l) => `${(l.t / 1000).toFixed(1)} ${l.text}`),
        };
        records.push(rec);
        if (rec.files) say(`${phase} ${boot}: the VM read ${rec.files.read} B of the image, the proxy fetched ${rec.files.fetched} B; most fetched:\n${fileTable(rec.files)}`);
        say(`${phase} ${boot} boot: ${rec.bootS === undefined ? 'did NOT reach multi-user' : `multi-user after ${rec.bootS} s`}; ` +
          `stages ${JSON.stringify(run.timeline.stages)}; from the image server ${atEnd.bytes.fromMain} B so far, shadow ${rec.shadowBytes} B; load ${rec.loadAfter}`);
        writeResults(out, build, records, sampler, { maxIoBytes, blockSize });
        if (rec.bootS === undefined) {
          say(`console tail:\n${rec.consoleTail.join('\n')}`);
          break;
        }
      }
      await chain.stopProxy();
    }
  } finally {
    await stop();
  }

  const figures = writeResults(out, build, records, sampler, { maxIoBytes, blockSize });
  for (const r of records) console.log(`\n${r.phase} ${r.boot} boot (load ${r.loadBefore} -> ${r.loadAfter}):\n${timelineTable(r.timeline.stages, r.marks.on, sampler.samples)}`);
  console.log(`proxy peak RSS ${sampler.peakRssMb.toFixed(1)} MB, of which private (anonymous) at most ${sampler.peakAnonMb.toFixed(1)} MB`);
  console.log(`\n${applianceTable(figures)}\n(load averages per boot are in ${out.detail})`);
  say(`wrote ${out.figures} and ${out.detail}`);
  try {
    execFileSync('/usr/bin/python3', ['bench/plot.py', out.detail], { stdio: 'inherit', timeout: 120_000 });
  } catch (e) {
    say(`plots not drawn (${(e as Error).message.split('\n')[0]}): python3-matplotlib from scripts/setup.sh, then npm run plot -- ${out.detail}`);
  }
}

/** Writes both result files (after every boot, so a run cut short keeps what it measured); returns the figures. */
function writeResults(out: Output, build: ApplianceBuild, records: BootRecord[], sampler: ProxySampler, variant: { maxIoBytes?: number | undefined; blockSize?: number | undefined }): Figures {
  const figures = computeFigures(build.bytes, records, sampler.peakRssMb);
  mkdirSync('bench/results', { recursive: true });
  const date = new Date().toISOString();
  writeFileSync(out.figures, `${JSON.stringify({ bench: out.name, date, figures }, null, 2)}\n`);
  const detail = {
    bench: out.name,
    date,
    ...(variant.maxIoBytes === undefined ? {} : { maxIoBytes: variant.maxIoBytes }),
    ...(variant.blockSize === undefined ? {} : { blockSize: variant.blockSize }),
    image: build,
    records,
    proxyPeakRssMb: sampler.peakRssMb,
    proxyPeakAnonMb: sampler.peakAnonMb,
    samples: sampler.samples,
    plots: [figure4(out.name, records, sampler.samples), figure5(out.name, records)].filter((p) => p !== undefined),
  };
  writeFileSync(out.detail, `${JSON.stringify(detail)}\n`);
  return figures;
}

/** A short name for the boot stage a console line starts, for the progress lines. */
function stageOf(line: string): string | undefined {
  if (/iPXE initialising|iPXE \d/.test(line)) return 'firmware: iPXE';
  if (/Linux version \d/.test(line)) return 'kernel started';
  if (/Loading, please wait/.test(line)) return 'initramfs';
  if (/IP-Config: \S+ complete|IP-Config: .* bound/.test(line)) return 'DHCP done (initramfs)';
  if (/nfs-bottom|init-bottom/.test(line)) return 'NFS root mounted';
  if (/Welcome to /.test(line)) return 'systemd';
  if (/APPLIANCE multi-user/.test(line)) return 'multi-user';
  if (/Power down/.test(line)) return 'power down';
  return undefined;
}

function duBytes(dir: string): number {
  try {
    return Number(execFileSync('du', ['-sb', dir]).toString().split(/\s/)[0]);
  } catch {
    return 0;
  }
}

function computeFigures(imageBytes: number, records: BootRecord[], peakRssMb: number): Figures {
  const figures: Figures = {};
  const put = (name: string, value: number | undefined, unit: string) => {
    if (value !== undefined && Number.isFinite(value)) figures[name] = { value: Math.round(value * 1000) / 1000, unit };
  };
  const rec = (phase: string, boot: string) => records.find((r) => r.phase === phase && r.boot === boot);
  put('image_bytes', imageBytes, 'B');
  put('lan_boot_s', rec('lan', 'cold')?.bootS, 's');
  put('wan23_boot_s', rec('wan23', 'cold')?.bootS, 's');
  put('wan23_second_boot_s', rec('wan23', 'second')?.bootS, 's');
  put('wan68_boot_s', rec('wan68', 'cold')?.bootS, 's');
  put('wan68_second_boot_s', rec('wan68', 'second')?.bootS, 's');
  const cold = rec('wan23', 'cold');
  const second = rec('wan23', 'second');
  // The cold boot (paper section 4.3: bytes fetched during the boot) ends at multi-user; the whole
  // run adds the workload (and its local disk's ext4 module), the login prompt and the shutdown.
  put('wan23_main_bytes_cold', cold?.atMultiUser?.bytes.fromMain, 'B');
  put('wan23_main_bytes_cold_run', cold?.atEnd.bytes.fromMain, 'B');
  if (cold && second) put('wan23_main_bytes_second', second.atEnd.bytes.fromMain - cold.atEnd.bytes.fromMain, 'B');
  put('shadow_bytes', cold?.atEnd.bytes.toShadow, 'B');
  // Each run says where it loaded its programs from (nfs, local disk, ram: the VM's page cache);
  // consoles without that (before the local disk) ran nfs, ram, nfs, ram.
  const runs = cold?.timeline.workloads ?? [];
  const from = (w: WorkloadRun, i: number) => w.from ?? (i % 2 === 0 ? 'nfs' : 'ram');
  const meanOf = (kind: string) => {
    const xs = runs.filter((w, i) => from(w, i) === kind).map((w) => w.seconds);
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined;
  };
  put('workload_s_nfs', meanOf('nfs'), 's');
  put('workload_s_local', meanOf('local'), 's');
  put('workload_s_ram', meanOf('ram'), 's');
  if (peakRssMb > 0) put('proxy_peak_rss_mb', peakRssMb, 'MB');
  return figures;
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(`bench:appliance: ${e.message}`);
    process.exit(1);
  },
);
