// A harness user told to stop (SIGTERM, SIGINT) leaves nothing behind: a child script makes a work
// directory with tempWorkDir, starts a process with startProc and creates a namespace with
// Netns.create, then gets the signal; its directory, child process and namespace must be gone, and it exits with 128 + the signal number. (Before, a
// benchmark stopped this way left ganesha, qemu, the proxy, two namespaces and a loop mount.)
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pidAlive, startProc } from '../../simulations/harness/proc.js';

const HARNESS = fileURLToPath(new URL('../../simulations/harness/', import.meta.url));
const WAIT_MS = 15_000;

const namespaces = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });

async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + WAIT_MS;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
  test(`${signal}: the harness's work directory, child process and namespace are gone, exit code ${code}`, async (t) => {
    const script = `
      import { startProc } from '${HARNESS}proc.js';
      import { Netns } from '${HARNESS}netns.js';
      import { tempWorkDir } from '${HARNESS}interrupt-cleanup.js';
      import { writeFileSync } from 'node:fs';
      const work = tempWorkDir('intr-test-');
      writeFileSync(work.path + '/file', 'x');
      const p = startProc('sleep', ['300']);
      const ns = await Netns.create('intr');
      console.log(JSON.stringify({ pid: p.pid, ns: ns.name, dir: work.path }));
      setInterval(() => undefined, 1000);
    `;
    const child = startProc(process.execPath, ['--input-type=module', '-e', script]);
    let made: { pid: number; ns: string; dir: string } | undefined;
    try {
      const m = await child.waitFor(/\{"pid":(\d+),"ns":"([^"]+)","dir":"([^"]+)"\}/, WAIT_MS);
      made = { pid: Number(m[1]), ns: m[2]!, dir: m[3]! };
      t.true(existsSync(made.dir), 'the work directory exists');
      t.true(pidAlive(made.pid), 'the grandchild runs');
      t.true(namespaces().includes(made.ns), 'the namespace exists');
      child.child.kill(signal);
      const exitCode = await Promise.race([child.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), WAIT_MS).unref())]);
      t.is(exitCode, code);
      await until(() => !pidAlive(made!.pid), 'the grandchild gone');
      t.false(namespaces().includes(made.ns), 'the namespace is gone');
      t.false(existsSync(made.dir), 'the work directory is gone');
    } finally {
      await child.kill(0);
      if (made) {
        if (pidAlive(made.pid)) process.kill(made.pid, 'SIGKILL');
        if (namespaces().includes(made.ns)) execFileSync('ip', ['netns', 'del', made.ns]);
        rmSync(made.dir, { recursive: true, force: true });
      }
    }
  });
}
