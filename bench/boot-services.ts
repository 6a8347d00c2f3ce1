// `npm run bench:boot-services`: boot services measured on a bridge in a namespace.
//  - A qemu VM (TCG, iPXE ROM) PXE-boots from `overlay boot`: seconds from qemu start to our DHCP
//    ACK, and to the last TFTP block of a 30 MB kernel+initrd fetched by its boot script
//    (vm_to_ack_s, vm_to_last_block_s; median of VM_RUNS); and once without router advertisements
//    (vm_to_ack_no_ra_s, vm_to_script_no_ra_s vs vm_to_script_s), which shows what they save.
//  - TFTP throughput of our server and of tftpd-hpa (in.tftpd in the foreground, same namespace,
//    same files, same client: atftp with blksize 1468), alternating, median of ROUNDS
//    (tftp_mbps, tftpd_hpa_mbps). Plus, reported apart, ours with the RFC 7440 windowsize option,
//    which tftpd-hpa does not implement (tftp_window16_mbps).
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BootLink } from '../simulations/harness/boot-link.js';
import { startProc, run, type Proc } from '../simulations/harness/proc.js';
import { runMain } from './run-main.js';
import { median } from './median.js';

const SUBNET = '10.79.0';
const KERNEL_BYTES = 10 * 1024 * 1024;
const INITRD_BYTES = 20 * 1024 * 1024;
const BLKSIZE = 1468;
const VM_RUNS = 3;
/** Many short rounds, alternating servers: the machine is shared, so single runs are noisy. */
const ROUNDS = 11;
const HPA_PORT = 6969;

interface Figure { value: number; unit: string }

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

/** Wall-clock ms of the first server log line matching `re` (lines start with an ISO timestamp). */
function logTime(output: string, re: RegExp): number | undefined {
  for (const line of output.split('\n')) {
    if (re.test(line)) return Date.parse(line.slice(0, 24));
  }
  return undefined;
}

async function waitFor(p: Proc, re: RegExp, ms: number, clean = false): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const text = clean ? p.output().replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '') : p.output();
    if (re.test(text)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timeout waiting for ${re}; output:\n${p.output().slice(-2000)}`);
}

async function bootVm(link: BootLink, server: Proc, run: number): Promise<{ ack: number; script: number; last: number }> {
  const mac = `52:54:00:79:00:${String(run + 1).padStart(2, '0')}`;
  const id = `id:01${mac.replace(/:/g, '')}`;
  const started = Date.now();
  const vm = link.start(link.srv, 'qemu-system-x86_64', [
    '-accel', 'tcg', '-m', '256', '-nographic', '-device', 'sga', '-boot', 'n', '-no-reboot',
    '-netdev', 'tap,id=n0,ifname=tap0,script=no,downscript=no', '-device', `virtio-net-pci,netdev=n0,mac=${mac}`,
  ]);
  try {
    await waitFor(vm, /overlay-boot: fetched kernel and initrd/, 180_000, true);
  } finally {
    await vm.kill();
  }
  const out = server.output();
  const ack = logTime(out, new RegExp(`REQUEST from ${id} -> ACK`));
  const ip = new RegExp(`REQUEST from ${id} -> ACK (\\S+)`).exec(out)?.[1];
  const doneLine = out.split('\n').find((l) => ip && l.includes(`sent 'initrd.img' to ${ip}:`));
  if (ack === undefined || !doneLine) throw new Error(`server log lacks the ACK or the initrd transfer:\n${out.slice(-3000)}`);
  const before = Number(/last block (\d+) ms before/.exec(doneLine)?.[1] ?? 0);
  const script = logTime(out, new RegExp(`RRQ 'boot\\.ipxe' from ${ip!.replace(/\./g, '\\.')}:`)) ?? Number.NaN;
  return { ack: (ack - started) / 1000, script: (script - started) / 1000, last: (Date.parse(doneLine.slice(0, 24)) - before - started) / 1000 };
}

async function fetchMbps(link: BootLink, client: { ns: { exec: (c: string, a: string[], t?: number) => Promise<unknown> } }, port: number, work: string, extra: string[] = []): Promise<number> {
  let bytes = 0;
  const t0 = process.hrtime.bigint();
  for (const f of ['kernel.bin', 'initrd.img']) {
    const out = join(work, `got-${f}`);
    await client.ns.exec('atftp', ['--option', `blksize ${BLKSIZE}`, ...extra, '-g', '-r', f, '-l', out, `${SUBNET}.1`, String(port)], 120_000);
    bytes += statSync(out).size;
    rmSync(out);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (bytes !== KERNEL_BYTES + INITRD_BYTES) throw new Error(`fetched ${bytes} bytes, expected ${KERNEL_BYTES + INITRD_BYTES}`);
  return (bytes * 8) / seconds / 1e6;
}

async function main(): Promise<void> {
  const link = await BootLink.create('bench', SUBNET);
  const work = mkdtempSync(join(tmpdir(), 'bootbench-'));
  let hpa: Proc | undefined;
  try {
    await link.addTap('tap0');
    const client = await link.addClient();
    writeFileSync(join(link.dir, 'kernel.bin'), randomBytes(KERNEL_BYTES));
    writeFileSync(join(link.dir, 'initrd.img'), randomBytes(INITRD_BYTES));
    writeFileSync(join(link.dir, 'boot.ipxe'), [
      '#!ipxe',
      'imgfetch kernel.bin',
      'imgfetch initrd.img',
      'imgstat',
      'echo overlay-boot: fetched kernel and initrd',
      '',
    ].join('\n'));
    const server = await link.startServer(['--range', `${SUBNET}.100-${SUBNET}.150`]);

    const scripts: number[] = [];
    const acks: number[] = [];
    const lasts: number[] = [];
    for (let i = 0; i < VM_RUNS; i++) {
      const r = await bootVm(link, server, i);
      acks.push(r.ack);
      scripts.push(r.script);
      lasts.push(r.last);
      console.log(`vm run ${i + 1}: ACK after ${r.ack.toFixed(2)} s, boot script requested after ${r.script.toFixed(2)} s, last TFTP block after ${r.last.toFixed(2)} s`);
    }

    // The same boot without router advertisements, to show what they save (iPXE waits for IPv6 autoconfiguration).
    await server.kill();
    const noRaServer = await link.startServer(['--range', `${SUBNET}.100-${SUBNET}.150`, '--no-ra']);
    const noRa = await bootVm(link, noRaServer, VM_RUNS);
    console.log(`vm run without router advertisements: ACK after ${noRa.ack.toFixed(2)} s, boot script requested after ${noRa.script.toFixed(2)} s`);

    await client.ns.exec('ip', ['addr', 'add', `${SUBNET}.9/24`, 'dev', client.ifname]);
    mkdirSync(join(work, 'hpa'), { recursive: true });
    const [cmd, argv] = link.srv.wrap('in.tftpd', ['--foreground', '--address', `${SUBNET}.1:${HPA_PORT}`, '--secure', link.dir]);
    hpa = startProc(cmd, argv);
    await new Promise((r) => setTimeout(r, 300));
    const ours: number[] = [];
    const theirs: number[] = [];
    const windowed: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Alternate who goes first, so neither profits from the other warming the page cache or the CPU.
      if (i % 2 === 0) {
        ours.push(await fetchMbps(link, client, 69, work));
        theirs.push(await fetchMbps(link, client, HPA_PORT, work));
      } else {
        theirs.push(await fetchMbps(link, client, HPA_PORT, work));
        ours.push(await fetchMbps(link, client, 69, work));
      }
      windowed.push(await fetchMbps(link, client, 69, work, ['--option', 'windowsize 16']));
      console.log(`round ${i + 1}: ours ${ours[i]!.toFixed(0)} Mbit/s, tftpd-hpa ${theirs[i]!.toFixed(0)} Mbit/s, ours windowsize 16 ${windowed[i]!.toFixed(0)} Mbit/s`);
    }

    const figures: Record<string, Figure> = {
      vm_to_ack_s: { value: round(median(acks)), unit: 's' },
      vm_to_last_block_s: { value: round(median(lasts)), unit: 's' },
      vm_to_script_s: { value: round(median(scripts)), unit: 's' },
      vm_to_ack_no_ra_s: { value: round(noRa.ack), unit: 's' },
      vm_to_script_no_ra_s: { value: round(noRa.script), unit: 's' },
      tftp_mbps: { value: round(median(ours), 1), unit: 'Mbit/s' },
      tftpd_hpa_mbps: { value: round(median(theirs), 1), unit: 'Mbit/s' },
      // Best round of each: the least disturbed by other load on the machine.
      tftp_best_mbps: { value: round(Math.max(...ours), 1), unit: 'Mbit/s' },
      tftpd_hpa_best_mbps: { value: round(Math.max(...theirs), 1), unit: 'Mbit/s' },
      tftp_window16_mbps: { value: round(median(windowed), 1), unit: 'Mbit/s' },
    };
    console.log('\nfigure                 value   unit');
    for (const [k, f] of Object.entries(figures)) console.log(`${k.padEnd(22)} ${String(f.value).padStart(7)}   ${f.unit}`);
    console.log(`\n(${VM_RUNS} VM boots, ${ROUNDS} alternating throughput rounds of ${(KERNEL_BYTES + INITRD_BYTES) / 2 ** 20} MiB each; medians; atftp blksize ${BLKSIZE})`);
    const resultsDir = new URL('../../bench/results/', import.meta.url).pathname;
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(join(resultsDir, 'boot-services.json'), JSON.stringify({ bench: 'boot-services', date: new Date().toISOString(), figures }, null, 2) + '\n');
  } finally {
    await hpa?.kill();
    await link.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}

runMain(main);
