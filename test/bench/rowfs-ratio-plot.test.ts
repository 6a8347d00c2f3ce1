// bench:rowfs's chart of the issue-15 comparisons: rates as multiples of direct, peer phases as
// the peer's time over ours, each beside its target; figures a partial run lacks are left out.
import test from 'ava';
import { rowfsRatioPlot } from '../../bench/rowfs/ratio-plot.js';

test('ratios and targets from the figures present; none present: no plot', (t) => {
  const f = (value: number) => ({ value });
  const plot = rowfsRatioPlot({
    vm_create_ops_proxy: f(400), vm_create_ops_direct: f(1000),
    vm_read_mbps_proxy: f(90), vm_read_mbps_direct: f(100),
    proxy_small_files_s: f(2), peer_proxy_small_files_s: f(1),
  })!;
  t.deepEqual(plot.categories, ['create', 'read', 'small files (peer)']);
  t.deepEqual(plot.series, [
    { label: 'proxy', values: [0.4, 0.9, 0.5] },
    { label: 'target', values: [0.7, 0.8, 1] },
  ]);
  t.is(rowfsRatioPlot({ proxy_read_mbps: f(1) }), undefined);
});
