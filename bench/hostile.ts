// `npm run bench:hostile` (issue 11): each attack of the issue against its real service while a
// legitimate client keeps working; prints a table and writes bench/results/hostile.json.
//  - NFS: nfs-ganesha (which itself follows "/etc/shadow" in a LOOKUP) as the main server, an
//    `overlay rowfs` proxy process in front of it. Escapes: LOOKUPs of absolute and climbing names
//    from the root and a subdirectory, then READ/READDIRPLUS of every handle obtained
//    (nfs_escape_reads: reads or listings of something outside the export that succeeded).
//    Pipelining: 8 connections x 2,000 1 MiB READs never read; the proxy's peak RSS
//    (nfs_rss_under_pipeline_mb) and a legitimate 1 MiB READ's latency, worst of 3
//    (nfs_legit_read_ms_under_pipeline). Stalls: 2,000 connections that send half a record and stop;
//    a legitimate client mounts and READs 1 MiB ten times (nfs_lockout_s: longest run of failures).
//  - DHCP: `overlay boot` on a bridge in a namespace; an attacker sends 100 DECLINEs under made-up
//    client identifiers for every address of a 10-address range (dhcp_spoofed_declines_honoured),
//    then a new udhcpc client must get a lease.
//  - TFTP: 300 read requests with timeout=255 from 300 addresses, never acknowledged, then a flood
//    of more while tftp-hpa fetches a file ten times (tftp_lockout_s: longest run of failures).
//  - CLI: the bad command lines of bench/hostile/bad-command-lines.ts against bin/overlay.js
//    (cli_stack_traces: runs whose output holds a stack trace).
// Targets (issue 11): escapes 0, lockouts 0 s, RSS <= 200 MB, READ <= 500 ms, declines 0, traces 0.
import net from 'node:net';
import type { Socket } from 'node:dgram';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openExport, type OpenedExport } from '../rowfs/mount/open-export.js';
import { expectOk } from '../rowfs/nfs3/errors.js';
import { Ftype3, Nfs3Status, type FileHandle } from '../rowfs/nfs3/types.js';
import { TftpServer } from '../dhcp/tftp/tftp-server.js';
import { startGanesha } from '../simulations/harness/ganesha.js';
import { run, startProc, type Proc } from '../simulations/harness/proc.js';
import { BootLink, lastStats, until } from '../simulations/harness/boot-link.js';
import { badCommandLines, prepareFixture, runAll } from './hostile/bad-command-lines.js';
import { spoofedDeclineScript } from './hostile/spoofed-declines.js';
import { attackerAddress, silentReader } from './hostile/silent-tftp-readers.js';
import { legitimateRead, pipelinedReads, type NfsTarget } from './hostile/nfs-clients.js';
import { runMain } from './run-main.js';
import { writeBenchResults, type Figures } from './results-file.js';

const MiB = 1024 * 1024;
const BIN = fileURLToPath(new URL('../../bin/overlay.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

const figures: Figures = {};
const cleanups: Array<() => unknown> = [];

function figure(name: string, value: number, unit: string): void {
  figures[name] = { value: Math.round(value * 100) / 100, unit };
  console.log(`${name.padEnd(34)} ${String(figures[name]!.value).padStart(10)} ${unit}`);
}

/** Longest run of failures in a series of timed attempts, in seconds (0 when none failed). */
function longestLockout(attempts: Array<{ ok: boolean; at: number }>): number {
  let longest = 0;
  let since: number | undefined;
  for (const a of attempts) {
    if (!a.ok) since ??= a.at;
    else if (since !== undefined) {
      longest = Math.max(longest, a.at - since);
      since = undefined;
    }
  }
  if (since !== undefined) longest = Math.max(longest, attempts[attempts.length - 1]!.at - since);
  return longest / 1000;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

// ---- NFS ----

async function listNames(ex: OpenedExport, dir: FileHandle): Promise<string[] | undefined> {
  const res = await ex.nfs.readdirplus({ dir, cookie: 0n, cookieverf: new Uint8Array(8), dircount: 8192, maxcount: 65536 });
  return res.status === Nfs3Status.OK ? res.entries.map((e) => e.name) : undefined;
}

/** Reads and listings of something outside the export that succeeded through `target`. */
async function escapeReads(target: NfsTarget, base: string, secret: string): Promise<number> {
  const ex = await openExport({ host: '127.0.0.1', ...target, timeoutMs: 10_000 });
  try {
    const d = expectOk(await ex.nfs.lookup({ what: { dir: ex.root, name: 'd' } }), 'LOOKUP d').object;
    const names = [`${base}/secret.txt`, '/etc/shadow', '/etc/passwd', '/etc', '/', '../secret.txt', '../../etc/passwd', 'd/../../secret.txt', '..', '../..', '../../..'];
    const outside = [secret, readFileSync('/etc/passwd', 'utf8').slice(0, 64)];
    let escapes = 0;
    for (const dir of [ex.root, d]) {
      for (const name of names) {
        let fh = ex.root;
        let res = await ex.nfs.lookup({ what: { dir, name } });
        // Climb further with ".." from whatever came back: it must stop at the root.
        for (let i = 0; res.status === Nfs3Status.OK && i < 3; i++) {
          fh = res.object;
          const attrs = await ex.nfs.getattr({ object: fh });
          if (attrs.status !== Nfs3Status.OK) break;
          if (attrs.objAttributes.type === Ftype3.REG) {
            const r = await ex.nfs.read({ file: fh, offset: 0n, count: 65536 });
            if (r.status === Nfs3Status.OK && outside.some((o) => Buffer.from(r.data).toString().includes(o))) escapes++;
            break;
          }
          const listed = (await listNames(ex, fh)) ?? [];
          if (listed.some((n) => ['secret.txt', 'passwd', 'shadow', 'export'].includes(n))) escapes++;
          res = await ex.nfs.lookup({ what: { dir: fh, name: '..' } });
        }
      }
    }
    return escapes;
  } finally {
    await ex.close();
  }
}

function connectFrom(port: number, localAddress: string, first: Buffer, pause: boolean): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress });
    s.on('error', () => undefined);
    s.once('connect', () => {
      if (pause) s.pause();
      s.write(first);
      resolve(s);
    });
    s.once('error', reject);
  });
}

async function pipelineAttack(target: NfsTarget, proxyPid: number): Promise<void> {
  const ex = await openExport({ host: '127.0.0.1', ...target, timeoutMs: 10_000 });
  const fh = expectOk(await ex.nfs.lookup({ what: { dir: ex.root, name: 'f' } }), 'LOOKUP').object;
  await ex.close();
  const calls = pipelinedReads(fh, 2_000);
  const socks = await Promise.all(Array.from({ length: 8 }, (_, i) => connectFrom(target.nfsPort, `127.0.0.${2 + i}`, calls, true)));
  let peak = rssMb(proxyPid);
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, rssMb(proxyPid));
      await sleep(20);
    }
  })();
  await sleep(1_000);
  const reads: number[] = [];
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    // A failed READ counts as the time it took to fail (at least the 10 s client timeout).
    reads.push(await legitimateRead(target).catch((err: Error) => {
      console.log(`  (legitimate READ failed: ${err.message})`);
      return performance.now() - started;
    }));
  }
  await sleep(1_000);
  sampling = false;
  await sampler;
  for (const s of socks) s.destroy();
  figure('nfs_rss_under_pipeline_mb', peak, 'MB');
  figure('nfs_legit_read_ms_under_pipeline', Math.max(...reads), 'ms');
}

async function stallAttack(target: NfsTarget): Promise<void> {
  const half = Buffer.alloc(104);
  half.writeUInt32BE((0x80000000 | 200) >>> 0, 0);
  const socks: net.Socket[] = [];
  for (let i = 0; i < 2_000; i += 100) {
    const batch = [];
    for (let j = i; j < i + 100; j++) batch.push(connectFrom(target.nfsPort, `127.0.1.${2 + Math.floor(j / 40)}`, half, false).catch(() => undefined));
    for (const s of await Promise.all(batch)) if (s) socks.push(s);
  }
  const attempts: Array<{ ok: boolean; at: number }> = [];
  for (let i = 0; i < 10; i++) {
    const ok = await legitimateRead(target).then(() => true, (err: Error) => {
      console.log(`  (legitimate mount + READ failed: ${err.message})`);
      return false;
    });
    attempts.push({ ok, at: performance.now() });
    await sleep(200);
  }
  for (const s of socks) s.destroy();
  console.log(`  (${socks.length} stalled connections opened; ${attempts.filter((a) => a.ok).length}/10 legitimate mounts + READs succeeded)`);
  figure('nfs_lockout_s', longestLockout(attempts), 's');
}

async function nfs(work: string): Promise<void> {
  const base = join(work, 'nfs');
  const exportDir = join(base, 'export');
  mkdirSync(join(exportDir, 'd'), { recursive: true });
  writeFileSync(join(exportDir, 'f'), randomBytes(2 * MiB));
  writeFileSync(join(exportDir, 'd', 'inside.txt'), 'inside');
  const secret = `secret-${randomBytes(8).toString('hex')}`;
  writeFileSync(join(base, 'secret.txt'), secret);
  const main = await startGanesha({ exportDir });
  cleanups.push(() => main.stop());
  const proxy: Proc = startProc(process.execPath, [
    BIN, 'rowfs', '--main', `${main.host}:${main.exportPath}`, '--main-nfs-port', String(main.nfsPort), '--main-mount-port', String(main.mountPort),
    '--shadow', join(base, 'shadow'), '--state', join(base, 'state'), '--listen', '0', '--host', '127.0.0.1',
  ]);
  cleanups.push(() => proxy.kill(5_000));
  const [, nfsPort, mountPort] = await proxy.waitFor(/NFS port (\d+), MOUNT port (\d+)/, 60_000);
  const target = { exportPath: main.exportPath, nfsPort: Number(nfsPort), mountPort: Number(mountPort) };
  await legitimateRead(target); // warm the proxy's block cache
  figure('nfs_escape_reads', await escapeReads(target, base, secret), 'reads');
  await pipelineAttack(target, proxy.pid);
  await sleep(1_000);
  await stallAttack(target);
}

// ---- DHCP ----

async function dhcp(): Promise<void> {
  const subnet = '10.77.91';
  const link = await BootLink.create('bhd', subnet);
  cleanups.push(() => link.destroy());
  const intruder = await link.addClient();
  const newcomer = await link.addClient();
  await intruder.ns.exec('ip', ['addr', 'add', `${subnet}.9/24`, 'dev', intruder.ifname]);
  const server = await link.startServer(['--range', `${subnet}.50-${subnet}.59`, '--stats-interval', '1', '--no-ra', '--quiet']);
  const count = 100;
  const a = link.start(intruder.ns, 'node', ['--input-type=module', '-e', spoofedDeclineScript({ subnet, rangeFirst: 50, rangeAddresses: 10, count })]);
  if ((await a.exited) !== 0) throw new Error(`attacker failed: ${a.output()}`);
  const stats = await until('DECLINEs counted', 15_000, () => {
    const s = lastStats(server.output());
    return s?.dhcp.received.DECLINE === count ? s : undefined;
  });
  const n = link.start(newcomer.ns, 'udhcpc', ['-f', '-n', '-q', '-i', newcomer.ifname, '-t', '5', '-T', '1', '-s', '/bin/true']);
  const leased = (await n.exited) === 0;
  console.log(`  (${count} spoofed DECLINEs; a new client ${leased ? 'got' : 'did NOT get'} a lease afterwards)`);
  figure('dhcp_spoofed_declines_honoured', stats.dhcp.declinesHonoured ?? count, 'declines');
}

// ---- TFTP ----

async function tftp(work: string): Promise<void> {
  const root = join(work, 'tftp');
  mkdirSync(root);
  const data = randomBytes(200_000);
  writeFileSync(join(root, 'f'), data);
  const server = new TftpServer({ root, address: '127.0.0.1', port: 0 });
  await server.start();
  cleanups.push(() => server.close());
  const socks: Socket[] = [];
  for (let i = 0; i < 300; i++) socks.push(await silentReader(server.port, attackerAddress(i), 'f'));
  cleanups.push(() => socks.forEach((s) => s.close()));
  let flooding = true;
  const flood = (async () => {
    for (let i = 300; flooding && i < 3_000; i++) {
      socks.push(await silentReader(server.port, attackerAddress(i), 'f'));
      await sleep(2);
    }
  })();
  const attempts: Array<{ ok: boolean; at: number }> = [];
  for (let i = 0; i < 10; i++) {
    const out = join(work, `tftp-got-${i}`);
    await run('tftp', ['-m', 'binary', '127.0.0.1', String(server.port), '-c', 'get', 'f', out], 15_000).catch(() => undefined);
    attempts.push({ ok: existsSync(out) && sha(readFileSync(out)) === sha(data), at: performance.now() });
  }
  flooding = false;
  await flood;
  const c = server.counters;
  console.log(`  (${socks.length} unacknowledged RRQs; ${attempts.filter((a) => a.ok).length}/10 tftp-hpa gets succeeded; reclaimed ${c.reclaimed}, busy ${c.refusedBusy})`);
  figure('tftp_lockout_s', longestLockout(attempts), 's');
}

// ---- CLI ----

async function cli(work: string): Promise<void> {
  const dir = join(work, 'cli');
  mkdirSync(dir);
  prepareFixture(dir);
  const lines = badCommandLines(dir);
  const results = await runAll(BIN, lines, 30_000, 2);
  const other = results.filter((r) => !r.stackTrace && (r.code === 'timeout' || r.code === 0 || r.lines !== 1));
  console.log(`  (${lines.length} bad command lines; ${other.length} without a trace but not one line and a non-zero exit)`);
  for (const [i, r] of results.entries()) if (r.stackTrace || other.includes(r)) console.log(`    ${lines[i]!.name}: ${r.output.split('\n')[0]}`);
  figure('cli_stack_traces', results.filter((r) => r.stackTrace).length, 'runs');
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'bench-hostile-'));
  cleanups.push(() => rmSync(work, { recursive: true, force: true }));
  // `node dist/bench/hostile.js nfs tftp` runs only those parts (and writes no results).
  const only = process.argv.slice(2);
  const parts: Array<[string, () => Promise<void>]> = [['nfs', () => nfs(work)], ['dhcp', dhcp], ['tftp', () => tftp(work)], ['cli', () => cli(work)]];
  try {
    for (const [name, part] of parts) if (only.length === 0 || only.includes(name)) await part();
  } finally {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  }
  if (only.length > 0) return;
  console.log(`\nwritten to ${writeBenchResults('hostile', figures)}`);
}

runMain(main);
