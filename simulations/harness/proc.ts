// Child processes owned by a test: spawned with captured output, killed by PID (never by name),
// every wait bounded.
import { spawn, execFile, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { promisify } from 'node:util';
import { onInterrupt } from './interrupt-cleanup.js';

const execFileP = promisify(execFile);

export interface Proc {
  child: ChildProcess;
  pid: number;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves when `pattern` appears in the output; rejects after `timeoutMs` or if the process exits. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  kill(graceMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

export function startProc(cmd: string, args: string[], opts: SpawnOptions = {}): Proc {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  const pid = child.pid;
  const forget = pid === undefined ? () => undefined : onInterrupt(() => process.kill(pid, 'SIGKILL'));
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    if (out.length > 4_000_000) out = out.slice(-2_000_000);
    for (const l of listeners) l();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  let done = false;
  const exited = new Promise<number | null>((resolve) => {
    // 'exit' can come before the pipes have given up what the child wrote last (CI once saw a
    // fixture's final lines missing), so wait for 'close' too; but a grandchild that inherited the
    // pipes could hold them open, so for at most 2 s.
    child.on('exit', (code) => {
      forget();
      const settle = () => {
        clearTimeout(grace);
        if (done) return; // 'close' after the grace period already settled
        done = true;
        for (const l of listeners) l();
        resolve(code);
      };
      const grace = setTimeout(settle, 2_000);
      if (child.stdout?.readableEnded !== false && child.stderr?.readableEnded !== false) settle();
      else child.once('close', settle);
    });
    child.on('error', (err) => {
      out += `\n[spawn error] ${err.message}\n`;
      done = true;
      for (const l of listeners) l();
      resolve(null);
    });
  });
  return {
    child,
    pid: child.pid ?? -1,
    output: () => out,
    exited,
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = out.match(pattern);
          if (m) return finish(() => resolve(m));
          if (done) return finish(() => reject(new Error(`${cmd} exited before ${pattern}; output:\n${out.slice(-3000)}`)));
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`timeout ${timeoutMs} ms waiting for ${pattern} from ${cmd}; output:\n${out.slice(-3000)}`))),
          timeoutMs,
        );
        const finish = (f: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          f();
        };
        listeners.add(check);
        check();
      });
    },
    async kill(graceMs = 3000) {
      if (done || !child.pid) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Runs a command to completion (bounded by `timeoutMs`); rejects with its output on failure. */
export async function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<{ stdout: string; stderr: string }> {
  try {
    return await execFileP(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** Waits for `p` to exit, at most `timeoutMs`; the timer is cleared either way (a pending one would hold the test process open). */
export async function exitWithin(p: Proc, timeoutMs: number): Promise<'exited' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
  try {
    return await Promise.race([p.exited.then(() => 'exited' as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** True while a process with this PID exists (signal 0 checks without sending anything). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
