// A diagnostic tracer run beside a bench's workload (perf, strace, a sampler script): started from
// a command line whose {name} placeholders are filled in, stopped with SIGINT so it can write its
// report, and killed if it has not exited 30 s later.
import { startProc, type Proc } from '../../simulations/harness/proc.js';

export interface Tracer {
  /** Stops the tracer; resolves with everything it printed. */
  stop(): Promise<string>;
}

/** Starts `template` (space-separated) with each `{key}` replaced by `vars[key]`. */
export function startTracer(template: string, vars: Record<string, string | number>): Tracer {
  let line = template;
  for (const [k, v] of Object.entries(vars)) line = line.replaceAll(`{${k}}`, String(v));
  const [cmd, ...args] = line.split(' ');
  const proc: Proc = startProc(cmd!, args);
  return {
    async stop() {
      proc.child.kill('SIGINT');
      await Promise.race([proc.exited, new Promise((resolve) => setTimeout(resolve, 30_000))]);
      const out = proc.output();
      await proc.kill(2000);
      return out;
    },
  };
}
