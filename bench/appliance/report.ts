// The benchmark's table: each figure beside the paper's number (Table 1, section 4.3) and the
// issue's target, with whether the target is met. Pure: figures in, text out.

export type Figures = Record<string, { value: number; unit: string }>;

/** The paper's numbers where it gives one (Table 1 and section 4.3). */
const PAPER: Record<string, string> = {
  image_bytes: '934 MB',
  lan_boot_s: '~120 s',
  wan23_boot_s: '291 s',
  wan23_second_boot_s: '116 s',
  wan68_boot_s: '351 s',
  wan68_second_boot_s: '162 s',
  wan23_main_bytes_cold: '16 MB',
  wan23_main_bytes_second: '',
  shadow_bytes: '646 KB',
  proxy_peak_rss_mb: '1-2 MB',
};

interface Target {
  text: string;
  met: (f: (name: string) => number) => boolean;
}

const TARGETS: Record<string, Target> = {
  wan23_boot_s: { text: '<= 2 x lan_boot_s', met: (f) => f('wan23_boot_s') <= 2 * f('lan_boot_s') },
  wan23_second_boot_s: { text: '<= 1.2 x lan_boot_s', met: (f) => f('wan23_second_boot_s') <= 1.2 * f('lan_boot_s') },
  wan23_main_bytes_cold: { text: '<= 0.02 x image_bytes', met: (f) => f('wan23_main_bytes_cold') <= 0.02 * f('image_bytes') },
  wan23_main_bytes_second: { text: '= 0', met: (f) => f('wan23_main_bytes_second') === 0 },
  workload_s_nfs: { text: '<= 1.05 x workload_s_local', met: (f) => f('workload_s_nfs') <= 1.05 * f('workload_s_local') },
  proxy_peak_rss_mb: { text: '<= 100', met: (f) => f('proxy_peak_rss_mb') <= 100 },
};

export const FIGURE_NAMES = [
  'image_bytes', 'lan_boot_s', 'wan23_boot_s', 'wan23_second_boot_s', 'wan68_boot_s', 'wan68_second_boot_s',
  'wan23_main_bytes_cold', 'wan23_main_bytes_cold_run', 'wan23_main_bytes_second', 'shadow_bytes', 'workload_s_ram', 'workload_s_local', 'workload_s_nfs', 'proxy_peak_rss_mb',
] as const;

/** The table: figure, ours, the paper's, the target and met / MISSED / not measured. */
export function applianceTable(figures: Figures): string {
  const f = (name: string) => figures[name]?.value ?? NaN;
  const rows = [['figure', 'ours', 'paper', 'target', '']];
  for (const name of FIGURE_NAMES) {
    const fig = figures[name];
    const target = TARGETS[name];
    const inputs = target ? [name, ...(target.text.match(/[a-z_0-9]+_[a-z0-9_]+/g) ?? [])] : [name];
    const measured = inputs.every((n) => figures[n] !== undefined);
    rows.push([
      name,
      fig ? `${fig.value.toLocaleString('en-US')} ${fig.unit}` : 'not measured',
      PAPER[name] ?? '',
      target?.text ?? '',
      !target ? '' : !measured ? '(not measured)' : target.met(f) ? 'met' : 'MISSED',
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** One boot's timeline: each console stage, when it came (s after power-on), and what the proxy fetched from the image server and sent the VM since the stage before (1 s samples). */
export function timelineTable(stages: Record<string, number>, onS: number, samples: ReadonlyArray<{ t: number; wanKBps: number; lanKBps: number }>): string {
  const rows = [['stage', 'at (s)', 'took (s)', 'WAN KB', 'to VM KB']];
  let prev = 0;
  for (const [name, ms] of Object.entries(stages).sort(([, a], [, b]) => a - b)) {
    const [from, to] = [onS + prev / 1000, onS + ms / 1000];
    const within = samples.filter((x) => x.t > from && x.t <= to);
    const sum = (k: 'wanKBps' | 'lanKBps') => Math.round(within.reduce((n, x) => n + x[k], 0));
    rows.push([name, (ms / 1000).toFixed(1), ((ms - prev) / 1000).toFixed(1), String(sum('wanKBps')), String(sum('lanKBps'))]);
    prev = ms;
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}
