// The README's commands work as written (issue 14 item 2): the set-up's install step puts an
// `overlay` command on PATH that runs this checkout, and every `overlay ...` command line in the
// README names a real command whose --help knows each option the line uses.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN, cli } from './cli-process.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: unknown }).code ?? -1) : 0, stdout, stderr }));
  });
}

test('scripts/install-command.sh puts `overlay` on PATH, running this checkout; a link to another checkout is left alone', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'overlay-path-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const install = await sh('bash', [join(ROOT, 'scripts/install-command.sh'), dir]);
  t.is(install.code, 0, install.stderr);
  t.is(readlinkSync(join(dir, 'overlay')), BIN);
  const r = await sh('overlay', ['--help'], { ...process.env, PATH: `${dir}:${process.env.PATH}` });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^usage: overlay <command>/);
  // Idempotent, and polite to another checkout's link.
  t.is((await sh('bash', [join(ROOT, 'scripts/install-command.sh'), dir])).code, 0);
  const other = mkdtempSync(join(tmpdir(), 'overlay-other-'));
  t.teardown(() => rmSync(other, { recursive: true, force: true }));
  rmSync(join(dir, 'overlay'));
  symlinkSync(join(other), join(dir, 'overlay'));
  const polite = await sh('bash', [join(ROOT, 'scripts/install-command.sh'), dir]);
  t.regex(polite.stdout, /another checkout; leaving it/);
  t.is(readlinkSync(join(dir, 'overlay')), other);
});

test("every `overlay ...` line of the README is a real command, and each option it uses is in that command's --help", async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  // Indented code lines; several commands may share a line, comments after '#'.
  const commands = readme
    .split('\n')
    .filter((l) => /^ {4}overlay /.test(l))
    .flatMap((l) => l.replace(/#.*$/, '').trim().split(/\s{2,}(?=overlay )/));
  t.true(commands.length >= 10, `${commands.length} commands`);
  const helps = new Map<string, string>();
  for (const c of commands) {
    const name = c.split(/\s+/)[1]!;
    if (!helps.has(name)) {
      const h = await cli([name, '--help']);
      t.is(h.code, 0, `${c}: ${h.stderr}`);
      helps.set(name, h.stdout);
    }
    for (const opt of c.match(/--[a-z][a-z-]*/g) ?? []) t.true(new RegExp(`${opt}\\b`).test(helps.get(name)!), `${c}: ${opt} not in overlay ${name} --help`);
  }
});
