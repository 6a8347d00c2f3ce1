// Two processes on one state directory (issue 11, item 7): a second `overlay up` or `overlay rowfs`
// on the same --state refuses with one line naming the holder (exit 1) instead of sharing the state;
// after the holder is SIGKILLed its lock is stale and the next start takes it; a clean stop removes
// it. The lock itself (lib/state-lock.ts) against a real second process: held while it lives,
// taken once it is dead, and a pid reused by another process does not keep it.
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProc, type Proc } from '../../simulations/harness/proc.js';
import { STATE_LOCK_FILE } from '../../src/commands/command.js';
import { StateLockError, takeStateLock } from '../../lib/state-lock.js';
import { startEmbeddedServer } from '../../rowfs/server/embedded-server.js';

const test = anyTest as TestFn<unknown>;
const BIN = fileURLToPath(new URL('../../../bin/overlay.js', import.meta.url));

function tmp(t: ExecutionContext): string {
  const d = mkdtempSync(join(tmpdir(), 'overlay-lock-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function overlay(t: ExecutionContext, args: string[]): Proc {
  const p = startProc(process.execPath, [BIN, ...args]);
  t.teardown(() => p.kill(500));
  return p;
}

/** Runs `overlay ARGS` to its end (bounded); its exit code and output. */
async function refused(t: ExecutionContext, args: string[]): Promise<{ code: number | null; out: string }> {
  const p = overlay(t, args);
  const code = await Promise.race([p.exited, new Promise<null>((r) => setTimeout(() => r(null), 20_000))]);
  return { code, out: p.output().trim() };
}

function oneClearLine(t: ExecutionContext, out: string, holder: number): void {
  t.is(out.split('\n').length, 1, out);
  t.regex(out, new RegExp(`in use by process ${holder}\\b`));
  t.notRegex(out, /\n\s+at |Error:/);
}

test('overlay up: a second node on the same --state refuses; after SIGKILL the next one starts; a clean stop removes the lock', async (t) => {
  const state = join(tmp(t), 'state');
  const args = ['up', '--network', 'locktest', '--state', state, '--no-vnet'];
  const first = overlay(t, args);
  await first.waitFor(/founded network locktest/, 20_000);
  const second = await refused(t, args);
  t.is(second.code, 1);
  oneClearLine(t, second.out, first.pid);
  process.kill(first.pid, 'SIGKILL');
  await first.exited;
  t.true(existsSync(join(state, STATE_LOCK_FILE)), 'a SIGKILLed holder leaves its lock behind');
  const third = overlay(t, args);
  await third.waitFor(/founded network locktest/, 20_000);
  await third.kill(5_000);
  t.false(existsSync(join(state, STATE_LOCK_FILE)), 'a clean stop removes the lock');
});

test('overlay rowfs: a second proxy on the same --state (another --shadow) refuses with one line', async (t) => {
  const dir = tmp(t);
  const mainDir = join(dir, 'main');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(mainDir);
  writeFileSync(join(mainDir, 'f'), 'main file\n');
  const main = await startEmbeddedServer({ exportDir: mainDir, readOnly: true, host: '127.0.0.1' });
  t.teardown(() => main.stop());
  const proxyArgs = (shadow: string) => [
    'rowfs', '--main', `127.0.0.1:${main.exportPath}`, '--main-nfs-port', String(main.nfsPort), '--main-mount-port', String(main.mountPort),
    '--shadow', join(dir, shadow), '--listen', '0', '--host', '127.0.0.1', '--state', join(dir, 'state'),
  ];
  const first = overlay(t, proxyArgs('shadow1'));
  await first.waitFor(/rowfs: NFS port \d+/, 20_000);
  const second = await refused(t, proxyArgs('shadow2'));
  t.is(second.code, 1);
  oneClearLine(t, second.out, first.pid);
  t.false(existsSync(join(dir, 'shadow2')), 'the refused proxy touched nothing');
  // A state path that is a file: one line, usage exit code.
  writeFileSync(join(dir, 'file'), '');
  const onFile = await refused(t, [...proxyArgs('shadow3').slice(0, -1), join(dir, 'file')]);
  t.is(onFile.code, 2);
  t.regex(onFile.out, /^overlay rowfs: --state \S+ not a directory$/);
});

test('overlay rowfs: a second proxy on the same --shadow (another --state) refuses with one line; a clean stop frees it', async (t) => {
  const dir = tmp(t);
  const mainDir = join(dir, 'main');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(mainDir);
  const main = await startEmbeddedServer({ exportDir: mainDir, readOnly: true, host: '127.0.0.1' });
  t.teardown(() => main.stop());
  const proxyArgs = (state: string) => [
    'rowfs', '--main', `127.0.0.1:${main.exportPath}`, '--main-nfs-port', String(main.nfsPort), '--main-mount-port', String(main.mountPort),
    '--shadow', join(dir, 'shadow'), '--listen', '0', '--host', '127.0.0.1', '--state', join(dir, state),
  ];
  const first = overlay(t, proxyArgs('state1'));
  await first.waitFor(/rowfs: NFS port \d+/, 20_000);
  const second = await refused(t, proxyArgs('state2'));
  t.is(second.code, 1);
  oneClearLine(t, second.out, first.pid);
  t.regex(second.out, /--shadow \S+\/shadow is in use/);
  const { readdirSync } = await import('node:fs');
  t.deepEqual(readdirSync(join(dir, 'shadow')), [], 'no lock file inside the shadow, where clients would see it');
  const { statSync } = await import('node:fs');
  const st = statSync(join(dir, 'shadow'));
  const lock = `/run/overlay/locks/dir-${st.dev}-${st.ino}.lock`; // the tests run as root
  t.true(existsSync(lock), 'the host-wide lock names the shadow by device and inode');
  await first.kill(5_000);
  t.false(existsSync(lock), 'a clean stop removes it');
  const third = overlay(t, proxyArgs('state2'));
  await third.waitFor(/rowfs: NFS port \d+/, 20_000);
});

test('the lock against a real second process: held while it lives, stale once it is gone or its pid is reused', async (t) => {
  const lockPath = join(tmp(t), 'x.lock');
  const holderSrc = `import('${new URL('../../lib/state-lock.js', import.meta.url).href}').then((m) => { m.takeStateLock(${JSON.stringify(lockPath)}); console.log('held'); setInterval(() => {}, 1000); });`;
  const holder = startProc(process.execPath, ['--input-type=module', '-e', holderSrc]);
  t.teardown(() => holder.kill(0));
  await holder.waitFor(/held/, 10_000);
  const err = t.throws(() => takeStateLock(lockPath), { instanceOf: StateLockError });
  t.is(err?.holderPid, holder.pid);
  process.kill(holder.pid, 'SIGKILL');
  await holder.exited;
  const mine = takeStateLock(lockPath);
  t.true(existsSync(lockPath));
  mine.release();
  t.false(existsSync(lockPath));
  // A lock naming a live pid with another start time (pid reused after a crash) is stale.
  writeFileSync(lockPath, `${process.pid} 1\n`);
  takeStateLock(lockPath).release();
  // A live holder in this very process: a second take is refused.
  const held = takeStateLock(lockPath);
  t.throws(() => takeStateLock(lockPath), { instanceOf: StateLockError });
  held.release();
});
