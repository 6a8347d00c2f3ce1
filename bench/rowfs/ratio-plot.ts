// The issue-15 comparisons of bench:rowfs as one bar chart (drawn by `npm run plot`): the proxy's
// rate as a multiple of nfs-ganesha's direct rate under the kernel client, and its speed as a
// multiple of the peer proxy's (nfs-ganesha PROXY_V4) in the peer phases, each beside its target.
import type { BarsPlot } from '../plot-spec.js';

type Figures = Record<string, { value: number }>;

const VM: Array<[string, string, number]> = [
  ['create', 'vm_create_ops', 0.7],
  ['stat', 'vm_stat_ops', 0.7],
  ['delete', 'vm_delete_ops', 0.7],
  ['read', 'vm_read_mbps', 0.8],
  ['write', 'vm_write_mbps', 0.8],
];
const PEER: Array<[string, string]> = [
  ['cold read (peer)', 'cold_read_s'],
  ['listing (peer)', 'list_s'],
  ['small files (peer)', 'small_files_s'],
];

/** The chart, from whichever of its figures `figures` holds (none: undefined). */
export function rowfsRatioPlot(figures: Figures): BarsPlot | undefined {
  const categories: string[] = [];
  const ours: number[] = [];
  const target: number[] = [];
  const round2 = (x: number) => Math.round(x * 100) / 100;
  for (const [label, name, t] of VM) {
    const proxy = figures[`${name}_proxy`]?.value;
    const direct = figures[`${name}_direct`]?.value;
    if (proxy === undefined || !direct) continue;
    categories.push(label);
    ours.push(round2(proxy / direct));
    target.push(t);
  }
  for (const [label, name] of PEER) {
    const mine = figures[`proxy_${name}`]?.value;
    const peer = figures[`peer_proxy_${name}`]?.value;
    if (!mine || peer === undefined) continue;
    categories.push(label);
    ours.push(round2(peer / mine)); // a speed: the peer's time over ours
    target.push(1);
  }
  if (categories.length === 0) return undefined;
  return {
    file: 'docs/figures/rowfs-ratios.png',
    kind: 'bars',
    title: 'ROW-FS proxy: rate vs ganesha direct (kernel client) and speed vs the PROXY_V4 peer',
    categories,
    ylabel: 'multiple (higher is better)',
    series: [
      { label: 'proxy', values: ours },
      { label: 'target', values: target },
    ],
  };
}
