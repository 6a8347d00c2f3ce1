// Where a serial client's round trips wait: per-thread CPU time, time spent runnable but not running
// ("sch delay": from a wake-up to the first instruction) and how often each thread ran, over a
// window of a scheduler trace. The trace is `perf sched timehist -w` output of a `perf sched record -a`
// taken beside a bench's workload, for instance
//   ROWFS_BENCH_VM_META_ONLY=1 ROWFS_BENCH_VM_TRACE='perf sched record -a -o /tmp/ps.data' \
//     node dist/bench/rowfs/kernel-alone.js
//   perf sched timehist -w -i /tmp/ps.data > /tmp/ps.txt
//   node dist/bench/rowfs/sched-summary.js /tmp/ps.txt 0.3 1
// (ROWFS_BENCH_VM_TRACE_SIDE=direct traces ganesha's rounds the same way). Used in docs/rowfs.md,
// "Why the VM multiplies the proxy's service time".
import { readFileSync } from 'node:fs';

export interface ThreadTimes {
  /** perf's task name with its thread id, e.g. `node[7225]`; `<idle>` for a CPU's idle time. */
  thread: string;
  runMs: number;
  schDelayMs: number;
  /** Times the thread was switched out (each a stretch it ran). */
  runs: number;
}

/** One timehist switch-out line: time (s), task, sch delay (ms), run time (ms); wake-up lines give none. */
function parseLine(line: string): { t: number; task: string; schMs: number; runMs: number } | undefined {
  if (line.includes('awakened:')) return undefined;
  const f = line.trim().split(/\s+/);
  if (f.length < 6 || !/^\[\d+\]$/.test(f[1]!)) return undefined;
  const [t, schMs, runMs] = [Number(f[0]), Number(f[f.length - 2]), Number(f[f.length - 1])];
  if (![t, schMs, runMs].every(Number.isFinite)) return undefined;
  return { t, task: f.slice(2, f.length - 3).join(' '), schMs, runMs };
}

/** `perf`'s `name[tid/pid]` as `name[tid]`: threads of one process stay apart. */
function threadOf(task: string): string {
  return task.replace(/\[(\d+)\/\d+\]$/, '[$1]');
}

/**
 * Per-thread totals over the switch-outs from `fromS` to `fromS + lengthS` seconds after the trace's
 * first one, most CPU first.
 */
export function schedSummary(timehist: string, fromS: number, lengthS: number): ThreadTimes[] {
  const rows = timehist.split('\n').map(parseLine).filter((r) => r !== undefined);
  if (rows.length === 0) return [];
  const start = rows[0]!.t + fromS;
  const byThread = new Map<string, ThreadTimes>();
  for (const r of rows) {
    if (r.t < start || r.t >= start + lengthS) continue;
    const thread = threadOf(r.task);
    const s = byThread.get(thread) ?? { thread, runMs: 0, schDelayMs: 0, runs: 0 };
    s.runMs += r.runMs;
    s.schDelayMs += r.schMs;
    s.runs++;
    byThread.set(thread, s);
  }
  return [...byThread.values()].sort((a, b) => b.runMs - a.runMs);
}

function main(argv: string[]): number {
  const [file, from = '0', length = '1'] = argv;
  const [fromS, lengthS] = [Number(from), Number(length)];
  if (!file || !(fromS >= 0) || !(lengthS > 0)) {
    console.error('usage: sched-summary TIMEHIST_FILE [FROM_S] [LENGTH_S]  (perf sched timehist -w output; window default 0 1)');
    return 2;
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    console.error(`sched-summary: cannot read ${file}: ${(e as Error).message}`);
    return 1;
  }
  const rows = schedSummary(text, fromS, lengthS);
  if (rows.length === 0) {
    console.error(`sched-summary: no switch-out lines of perf sched timehist in ${file}`);
    return 1;
  }
  console.log(`${'thread'.padEnd(32)} ${'run ms'.padStart(9)} ${'sch delay ms'.padStart(13)} ${'runs'.padStart(7)}   (window ${fromS}-${fromS + lengthS} s)`);
  for (const r of rows.slice(0, 12)) {
    console.log(`${r.thread.padEnd(32)} ${r.runMs.toFixed(1).padStart(9)} ${r.schDelayMs.toFixed(1).padStart(13)} ${String(r.runs).padStart(7)}`);
  }
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = main(process.argv.slice(2));
