// Hostile or mistaken command lines (issue 11, items 9 and 10): state, shadow, cache, lease-file and
// secret paths that are files, under /proc, special files (/dev/zero, a FIFO) or too large. Each
// run must end within seconds with exactly one line, no stack trace, exit code 2 (usage); before,
// some printed stack traces, `--secret /dev/zero` read without end, `rowfs --cache /proc/self`
// hung silently and `boot --lease-file /proc/self/nope/x` spun in a recursive mkdir.
import anyTest, { type TestFn } from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProc } from '../../simulations/harness/proc.js';

const test = anyTest as TestFn<unknown>;
const BIN = fileURLToPath(new URL('../../../bin/overlay.js', import.meta.url));
const DEADLINE_MS = 10_000;

const dir = mkdtempSync(join(tmpdir(), 'overlay-badpaths-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'file');
writeFileSync(file, 'x');
mkdirSync(join(dir, 'boot'));
writeFileSync(join(dir, 'big'), Buffer.alloc(100_000, 0x41));
execFileSync('mkfifo', [join(dir, 'fifo')]);

const rowfs = (extra: string[]) => ['rowfs', '--main', '127.0.0.1:/x', '--listen', '0', ...extra];
const cases: Array<[string, string[]]> = [
  ['up --state FILE', ['up', '--network', 'bad1', '--no-vnet', '--state', file]],
  ['up --state /proc/self', ['up', '--network', 'bad2', '--no-vnet', '--state', '/proc/self']],
  ['up --state /proc/self/nope/x', ['up', '--network', 'bad3', '--no-vnet', '--state', '/proc/self/nope/x']],
  ['up --secret /dev/zero', ['up', '--network', 'bad4', '--no-vnet', '--state', join(dir, 's4'), '--secret', '/dev/zero']],
  ['up --secret /dev/urandom', ['up', '--network', 'bad5', '--no-vnet', '--state', join(dir, 's5'), '--secret', '/dev/urandom']],
  ['up --secret FIFO', ['up', '--network', 'bad6', '--no-vnet', '--state', join(dir, 's6'), '--secret', join(dir, 'fifo')]],
  ['up --secret 100 kB', ['up', '--network', 'bad7', '--no-vnet', '--state', join(dir, 's7'), '--secret', join(dir, 'big')]],
  ['up --secret DIR', ['up', '--network', 'bad8', '--no-vnet', '--state', join(dir, 's8'), '--secret', dir]],
  ['rowfs --shadow FILE', rowfs(['--shadow', file, '--state', join(dir, 'r1')])],
  ['rowfs --state FILE', rowfs(['--shadow', join(dir, 'sh2'), '--state', file])],
  ['rowfs --cache /proc/self', rowfs(['--shadow', join(dir, 'sh3'), '--state', join(dir, 'r3'), '--cache', '/proc/self'])],
  ['rowfs --shadow /proc/self/nope', rowfs(['--shadow', '/proc/self/nope', '--state', join(dir, 'r4')])],
  ['boot --lease-file FILE/x', ['boot', '--interface', 'lo', '--dir', join(dir, 'boot'), '--lease-file', join(file, 'x')]],
  ['boot --lease-file /proc/self/nope/x', ['boot', '--interface', 'lo', '--dir', join(dir, 'boot'), '--lease-file', '/proc/self/nope/x']],
];

for (const [name, args] of cases) {
  test.serial(`${name}: one line, exit 2, within seconds`, async (t) => {
    const p = startProc(process.execPath, [BIN, ...args]);
    t.teardown(() => p.kill(0));
    const started = performance.now();
    const code = await Promise.race([p.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), DEADLINE_MS))]);
    const out = p.output().trim();
    t.not(code, 'timeout', `still running after ${DEADLINE_MS} ms: ${out}`);
    t.is(code, 2, out);
    t.is(out.split('\n').length, 1, out);
    t.notRegex(out, /\n\s+at |^\s+at |Error:/m);
    t.regex(out, /^overlay (up|rowfs|boot): /);
    t.log(`${(performance.now() - started).toFixed(0)} ms: ${out}`);
  });
}

test('makeDirectory under /proc/self fails at once (mkdirSync recursive spins there)', async (t) => {
  const src = `import('${new URL('../../lib/make-directory.js', import.meta.url).href}').then((m) => { try { m.makeDirectory('/proc/self/nope/x'); console.log('made'); } catch (e) { console.log(e.code); } });`;
  const p = startProc(process.execPath, ['--input-type=module', '-e', src]);
  t.teardown(() => p.kill(0));
  const code = await Promise.race([p.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5_000))]);
  t.is(code, 0);
  t.is(p.output().trim(), 'ENOENT');
});
