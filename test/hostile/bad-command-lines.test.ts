// Bad command lines against the real `bin/overlay.js` (issue 11, items 9-11): the whole list of
// bench/hostile/bad-command-lines.ts, one test each. Every line must end within the deadline with
// exactly one line of output, no stack trace and a non-zero exit code (2 for usage mistakes, 1 for
// "no node running" and the like). Before: `--listen 1e3` and `--bind-address 999.0.0.1` were
// accepted, a repeated `--network` silently took the last, `rowfs --host 999.0.0.1` died with a
// stack trace, and an unknown command printed the whole usage.
import anyTest, { type TestFn } from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { badCommandLines, prepareFixture, runBadCommandLine } from '../../bench/hostile/bad-command-lines.js';

const test = anyTest as TestFn<unknown>;
const BIN = fileURLToPath(new URL('../../../bin/overlay.js', import.meta.url));
/** Generous: a refusal takes ~0.3 s of CPU, but the 2-core CI machine is shared. A hang is still caught. */
const DEADLINE_MS = 30_000;
/** Processes at once (2 cores). */
const PARALLEL = 2;

const dir = mkdtempSync(join(tmpdir(), 'overlay-badcli-'));
prepareFixture(dir);
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

let running = 0;
const waiting: Array<() => void> = [];
async function slot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= PARALLEL) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

const lines = badCommandLines(dir);

test('the list is the one bench:hostile counts: over 108 lines, every subcommand, names unique', (t) => {
  t.true(lines.length >= 108, `${lines.length} lines`);
  t.is(new Set(lines.map((l) => l.name)).size, lines.length);
  for (const sub of ['up', 'status', 'down', 'dht', 'ping', 'image', 'rowfs', 'boot']) {
    t.true(lines.filter((l) => l.args[0] === sub).length >= 3, sub);
  }
});

for (const line of lines) {
  test(`${line.name}: one line, no stack trace, non-zero exit`, async (t) => {
    const r = await slot(() => runBadCommandLine(BIN, line, DEADLINE_MS));
    t.not(r.code, 'timeout', `still running after ${DEADLINE_MS} ms: ${r.output}`);
    t.not(r.code, 0, r.output);
    t.false(r.stackTrace, r.output);
    t.is(r.lines, 1, r.output);
    t.regex(r.output, /^overlay( [a-z]+)?: \S/, r.output.slice(0, 300));
  });
}
