// Figures 4 and 5 of the paper as plot specifications for bench/plot.py (`npm run plot`), made
// from the benchmark's own records. Pure: records in, specs out.
import type { CountersSnapshot } from '../../rowfs/counters.js';
import type { ProxySample } from './proxy-sampler.js';
import type { PlotSpec } from '../plot-spec.js';

interface BootRecord {
  phase: string;
  boot: 'cold' | 'second' | 'restart';
  marks: { on: number; multiUser?: number; off: number };
  atMultiUser?: CountersSnapshot;
  atEnd: CountersSnapshot;
}

const BOOT_NAMES = { cold: 'cold boot', second: 'second boot', restart: 'boot after proxy restart' } as const;

/** The records Figure 4 spans: the 23 ms phase (cold boot, workload, reboot) if it ran, else every record. */
function figure4Records(records: readonly BootRecord[]): readonly BootRecord[] {
  const wan23 = records.filter((r) => r.phase === 'wan23');
  return wan23.length > 0 ? wan23 : records;
}

/** Figure 4: the proxy's CPU, disk and network rates, 1 s samples, with boot, workload and reboot marked. */
export function figure4(name: string, records: readonly BootRecord[], samples: readonly ProxySample[]): PlotSpec | undefined {
  const shown = figure4Records(records);
  if (shown.length === 0) return undefined;
  const from = shown[0]!.marks.on;
  const to = shown[shown.length - 1]!.marks.off;
  const s = samples.filter((x) => x.t >= from && x.t <= to);
  const spans = shown.flatMap((r) => {
    const name = `${r.phase} ${BOOT_NAMES[r.boot]}`;
    if (r.marks.multiUser === undefined) return [{ from: r.marks.on - from, to: r.marks.off - from, label: `${name} (no multi-user)` }];
    return [
      { from: r.marks.on - from, to: r.marks.multiUser - from, label: name },
      { from: r.marks.multiUser - from, to: r.marks.off - from, label: r.boot === 'cold' && r.phase === 'wan23' ? 'workload, shutdown' : 'shutdown' },
    ];
  });
  return {
    file: `docs/figures/${name}-fig4-proxy-rates.png`,
    kind: 'timeseries',
    title: `Figure 4: the proxy's resource use, 1 s samples (${shown[0]!.phase})`,
    x: { label: 'seconds since power-on of the cold boot', values: s.map((x) => Math.round((x.t - from) * 10) / 10) },
    panels: [
      { ylabel: 'CPU (% of a core)', series: [{ label: 'proxy CPU', values: s.map((x) => x.cpuPct) }] },
      { ylabel: 'disk (KB/s)', series: [{ label: 'read', values: s.map((x) => x.diskReadKBps) }, { label: 'write', values: s.map((x) => x.diskWriteKBps) }] },
      { ylabel: 'network (KB/s)', series: [{ label: 'from the image server (WAN)', values: s.map((x) => x.wanKBps) }, { label: 'to the VM (LAN)', values: s.map((x) => x.lanKBps) }] },
    ],
    spans,
  };
}

/** Figure 5: NFS calls per procedure during the 23 ms cold boot (to multi-user): from the VM, to the image server, to the shadow, answered by the proxy alone. */
export function figure5(name: string, records: readonly BootRecord[]): PlotSpec | undefined {
  const r = records.find((x) => x.phase === 'wan23' && x.boot === 'cold') ?? records.find((x) => x.boot === 'cold');
  const c = r && (r.atMultiUser ?? r.atEnd);
  if (!r || !c) return undefined;
  const procs = Object.keys(c.client).sort((a, b) => (c.client[b] ?? 0) - (c.client[a] ?? 0));
  const of = (m: { [proc: string]: number }, p: string) => m[p] ?? 0;
  return {
    file: `docs/figures/${name}-fig5-calls.png`,
    kind: 'bars',
    title: `Figure 5: NFS calls per procedure during the cold boot (${r.phase}, to multi-user)`,
    categories: procs,
    ylabel: 'calls (log scale)',
    log: true,
    series: [
      { label: 'from the VM', values: procs.map((p) => of(c.client, p)) },
      { label: 'to the image server', values: procs.map((p) => of(c.main, p)) },
      { label: 'to the shadow', values: procs.map((p) => of(c.shadow, p)) },
      { label: 'answered by the proxy (cache, state, manifest)', values: procs.map((p) => Math.max(0, of(c.client, p) - of(c.main, p) - of(c.shadow, p))) },
    ],
  };
}
