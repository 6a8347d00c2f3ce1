// The scheduler-trace summary behind docs/rowfs.md's account of the VM's wake-up chain: totals per
// thread over a window of `perf sched timehist -w` output (lines as perf 6.1 prints them).
import test from 'ava';
import { schedSummary } from '../../bench/rowfs/sched-summary.js';

const TRACE = `           time    cpu  task name                       wait time  sch delay   run time
                        [tid/pid]                          (msec)     (msec)     (msec)
--------------- ------  ------------------------------  ---------  ---------  ---------
   22009.830000 [0000]  <idle>                              0.000      0.000      0.100
   22009.830598 [0001]  qemu-system-x86[7250]                                            awakened: node[7225]
   22009.830632 [0001]  qemu-system-x86[7250]               0.380      0.063      0.073
   22009.830722 [0001]  node[7225]                          0.417      0.034      0.089
   22009.830759 [0001]  qemu-system-x86[7250]               0.084      0.003      0.037
   22009.830779 [0001]  node[7225]                          0.037      0.000      0.019
   22009.830800 [0000]  qemu-system-x86[7252/7250]          0.095      0.050      0.030
   22009.832802 [0001]  node[7225]                          0.498      0.025      0.223
`;

test('totals per thread, threads of one process apart, wake-up lines and headers left out', (t) => {
  const rows = schedSummary(TRACE, 0, 1);
  const byThread = Object.fromEntries(rows.map((r) => [r.thread, r]));
  t.deepEqual(Object.keys(byThread).sort(), ['<idle>', 'node[7225]', 'qemu-system-x86[7250]', 'qemu-system-x86[7252]']);
  t.is(rows[0]!.thread, 'node[7225]'); // most CPU first
  t.is(byThread['node[7225]']!.runs, 3);
  t.is(Number(byThread['node[7225]']!.runMs.toFixed(3)), 0.331);
  t.is(Number(byThread['node[7225]']!.schDelayMs.toFixed(3)), 0.059);
  t.is(Number(byThread['qemu-system-x86[7250]']!.runMs.toFixed(3)), 0.11);
});

test('only switch-outs inside the window, counted from the first one', (t) => {
  // From 0.7 ms after the first line for 1 ms: the node and qemu lines at .830722-.830800.
  const rows = schedSummary(TRACE, 0.0007, 0.001);
  t.deepEqual(rows.map((r) => r.thread).sort(), ['node[7225]', 'qemu-system-x86[7250]', 'qemu-system-x86[7252]']);
  t.is(rows.find((r) => r.thread === 'node[7225]')!.runs, 2);
  t.deepEqual(schedSummary('no trace here\n', 0, 1), []);
});
