// bench:appliance's pure parts: the boot timeline read from a serial console, the table beside
// the paper with targets met or missed, Figure 5's calls per procedure; and the plot entry point
// (bench/plot.py with matplotlib) drawing a bench JSON's plots into PNG files.
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { consoleTimeline } from '../../bench/appliance/console-timeline.js';
import { applianceTable, timelineTable } from '../../bench/appliance/report.js';
import { figure4, figure5 } from '../../bench/appliance/figures.js';
import { run } from '../../simulations/harness/proc.js';
import type { CountersSnapshot } from '../../rowfs/counters.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

const CONSOLE = [
  [500, 'iPXE initialising devices...ok'],
  [9000, '[    0.000000] Linux version 6.1.0-50-amd64 (debian-kernel@lists.debian.org)'],
  [15000, 'Loading, please wait...'],
  [21000, 'IP-Config: ens3 complete (dhcp from 10.97.0.1):'],
  [23000, 'Begin: Running /scripts/nfs-bottom ... done.'],
  [30000, 'Welcome to Debian GNU/Linux 12 (bookworm)!'],
  [90000, 'appliance login: APPLIANCE multi-user 80.25'],
  [150000, 'APPLIANCE workload ee745a612a610026cf71ec16345d0a3d 81.00 131.50'],
  [199000, 'APPLIANCE workload ee745a612a610026cf71ec16345d0a3d 131.60 180.10'],
  [205000, '[  189.251638] reboot: Power down'],
] as const;

test('the console gives each boot stage, multi-user and the workload runs', (t) => {
  const tl = consoleTimeline(CONSOLE.map(([ms, text]) => ({ t: ms, text })));
  t.deepEqual(tl.stages, { ipxe: 500, kernel: 9000, initramfs: 15000, ipconfig: 21000, rootMounted: 23000, systemd: 30000, multiUser: 90000, powerDown: 205000 });
  t.is(tl.multiUserUptime, 80.25);
  t.deepEqual(tl.workloads.map((w) => w.checksum), ['ee745a612a610026cf71ec16345d0a3d', 'ee745a612a610026cf71ec16345d0a3d']);
  t.deepEqual(tl.workloads.map((w) => Math.round(w.seconds * 10) / 10), [50.5, 48.5]);
  const none = consoleTimeline([{ t: 1, text: 'Kernel panic - not syncing' }]);
  t.deepEqual(none, { stages: {}, workloads: [] });
});

test('each workload run takes where it loaded from from the line announcing it, once', (t) => {
  const tl = consoleTimeline([
    { t: 1, text: 'APPLIANCE workload-from local' },
    { t: 2, text: 'APPLIANCE workload ee745a612a610026cf71ec16345d0a3d 81.00 97.50' },
    { t: 3, text: 'APPLIANCE workload ee745a612a610026cf71ec16345d0a3d 97.60 114.10' },
    { t: 4, text: 'APPLIANCE workload-from nfs' },
    { t: 5, text: 'APPLIANCE workload ee745a612a610026cf71ec16345d0a3d 114.20 132.70' },
  ]);
  t.deepEqual(tl.workloads.map((w) => w.from), ['local', undefined, 'nfs']);
  t.deepEqual(tl.workloads.map((w) => Math.round(w.seconds * 10) / 10), [16.5, 16.5, 18.5]);
});

test('the timeline table adds up what the proxy moved between stages', (t) => {
  const samples = [1, 2, 3, 4].map((s) => ({ t: 100 + s, wanKBps: 10 * s, lanKBps: s }));
  const table = timelineTable({ kernel: 2000, multiUser: 4000 }, 100, samples).split('\n');
  t.is(table.length, 3);
  t.regex(table[1]!, /^kernel\s+2\.0\s+2\.0\s+30\s+3$/);
  t.regex(table[2]!, /^multiUser\s+4\.0\s+2\.0\s+70\s+7$/);
});

test('the table puts the paper beside ours and says which targets are met, missed or not measured', (t) => {
  const f = (value: number, unit = 's') => ({ value, unit });
  const table = applianceTable({
    image_bytes: f(974_000_000, 'B'),
    lan_boot_s: f(100),
    wan23_boot_s: f(250),
    wan23_second_boot_s: f(110),
    wan23_main_bytes_cold: f(15_000_000, 'B'),
    wan23_main_bytes_second: f(0, 'B'),
    proxy_peak_rss_mb: f(120, 'MB'),
  });
  const row = (name: string) => table.split('\n').find((l) => l.startsWith(`${name} `)) ?? '';
  t.regex(row('wan23_boot_s'), /250 s\s+291 s\s+<= 2 x lan_boot_s\s+MISSED$/);
  t.regex(row('wan23_second_boot_s'), /110 s\s+116 s\s+<= 1.2 x lan_boot_s\s+met$/);
  t.regex(row('wan23_main_bytes_cold'), /15,000,000 B\s+16 MB\s+<= 0.02 x image_bytes\s+met$/);
  t.regex(row('wan23_main_bytes_second'), /= 0\s+met$/);
  t.regex(row('proxy_peak_rss_mb'), /MISSED$/);
  t.regex(row('workload_s_nfs'), /not measured .*\(not measured\)$/);
  t.regex(row('wan68_boot_s'), /not measured\s+351 s$/);
});

const counters = (client: Record<string, number>, main: Record<string, number>, shadow: Record<string, number>): CountersSnapshot => ({
  client, main, shadow,
  cache: { hitBlocks: 0, missBlocks: 0, hitBytes: 0, waitedReads: 0 },
  bytes: { fromMain: 0, fromShadow: 0, toShadow: 0, toClient: 0 },
  totals: { client: 0, main: 0, shadow: 0 },
});

test('Figure 5 counts calls per procedure to the server, to the shadow and answered by the proxy; Figure 4 marks the phases', (t) => {
  const atMultiUser = counters({ GETATTR: 100, READ: 50, WRITE: 7 }, { READ: 30 }, { GETATTR: 20, WRITE: 7 });
  const records = [
    { phase: 'wan23', boot: 'cold' as const, marks: { on: 10, multiUser: 100, off: 160 }, atMultiUser, atEnd: atMultiUser },
    { phase: 'wan23', boot: 'second' as const, marks: { on: 170, multiUser: 230, off: 250 }, atEnd: atMultiUser },
  ];
  const f5 = figure5('appliance', records);
  if (!f5 || f5.kind !== 'bars') return t.fail('no bars');
  t.deepEqual(f5.categories, ['GETATTR', 'READ', 'WRITE']);
  t.is(f5.file, 'docs/figures/appliance-fig5-calls.png');
  t.deepEqual(f5.series.map((s) => s.values), [[100, 50, 7], [0, 30, 0], [20, 0, 7], [80, 20, 0]]);
  const samples = [5, 20, 200, 300].map((s) => ({ t: s, cpuPct: 1, diskReadKBps: 2, diskWriteKBps: 3, wanKBps: 4, lanKBps: 5, rssMb: 60, anonMb: 20 }));
  const f4 = figure4('appliance', records, samples);
  if (!f4 || f4.kind !== 'timeseries') return t.fail('no time series');
  t.deepEqual(f4.x.values, [10, 190], 'samples from power-on of the cold boot to power-off of the second');
  t.deepEqual(f4.spans?.map((s) => [s.from, s.to, s.label]), [[0, 90, 'wan23 cold boot'], [90, 150, 'workload, shutdown'], [160, 220, 'wan23 second boot'], [220, 240, 'shutdown']]);
});

test('npm run plot draws every plot a bench JSON lists with matplotlib', async (t) => {
  const dir = mkdtempSync(join(REPO, 'docs', '.plot-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const rel = relative(REPO, dir);
  const json = join(dir, 'bench.json');
  writeFileSync(json, JSON.stringify({
    bench: 'x',
    plots: [
      { file: `${rel}/bars.png`, kind: 'bars', title: 'bars', categories: ['A', 'B'], ylabel: 'n', log: true, series: [{ label: 's', values: [1, 1000] }] },
      { file: `${rel}/series.png`, kind: 'timeseries', title: 'ts', x: { label: 's', values: [0, 1, 2] }, panels: [{ ylabel: 'y', series: [{ label: 'a', values: [1, 3, 2] }] }], spans: [{ from: 0, to: 1, label: 'boot' }] },
    ],
  }));
  const { stdout } = await run('/usr/bin/python3', [join(REPO, 'bench', 'plot.py'), json], 120_000);
  t.regex(stdout, /wrote .*bars\.png/);
  for (const f of ['bars.png', 'series.png']) {
    t.true(existsSync(join(dir, f)), f);
    t.deepEqual([...readFileSync(join(dir, f)).subarray(1, 4)], [...Buffer.from('PNG')], `${f} is a PNG`);
  }
  const empty = join(dir, 'none.json');
  writeFileSync(empty, '{"bench":"y"}');
  await t.throwsAsync(run('/usr/bin/python3', [join(REPO, 'bench', 'plot.py'), empty], 60_000), { message: /no plots/ });
});
