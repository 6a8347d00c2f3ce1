// What V8 compiled and threw away in a stretch of a proxy's output, when the proxy runs with
// `--trace-opt --trace-deopt` (ROWFS_BENCH_NODE_FLAGS): a diagnostic for benches that find V8's
// compiler threads busy long after a warm-up.

/** One line: functions optimized (those more than once), deoptimizations by function and reason. */
export function jitSummary(out: string): string {
  const optimizedBy = new Map<string, number>();
  for (const m of out.matchAll(/completed (?:optimizing|compiling)[^<]*<JSFunction ([^ >]*)/g)) optimizedBy.set(m[1]!, (optimizedBy.get(m[1]!) ?? 0) + 1);
  const optimized = [...optimizedBy.values()].reduce((a, b) => a + b, 0);
  const again = [...optimizedBy].filter(([, n]) => n > 1).sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, n]) => `${n} ${k}`);
  const deopts = new Map<string, number>();
  for (const m of out.matchAll(/bailout \(kind: ([^,]+), reason: ([^)]*)\): begin\. deoptimizing[^<]*<JSFunction ([^ >]*)/g)) {
    const k = `${m[3]} (${m[2]})`;
    deopts.set(k, (deopts.get(k) ?? 0) + 1);
  }
  const top = [...deopts].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, n]) => `${n} ${k}`);
  return `JIT: ${optimized} optimized (more than once: ${again.join(', ') || 'none'}), ${[...deopts.values()].reduce((a, b) => a + b, 0)} deoptimized: ${top.join('; ')}`;
}

/** True when the bench's proxies run with V8's optimization traces on. */
export const TRACE_JIT = (process.env.ROWFS_BENCH_NODE_FLAGS ?? '').includes('--trace-deopt');
