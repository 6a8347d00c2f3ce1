// `overlay boot` argument and configuration errors: one clear line and exit code 2, before any
// socket is opened (so these need no namespace).
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OVERLAY_BIN } from '../../simulations/harness/boot-link.js';

function overlay(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('node', [OVERLAY_BIN, 'boot', ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
  });
}

test('--help explains the command', async (t) => {
  const r = await overlay(['--help']);
  t.is(r.code, 0);
  t.regex(r.out, /usage: overlay boot --interface IF --dir BOOTDIR/);
  t.regex(r.out, /router advertisements/);
});

test('usage and configuration errors are one line with exit code 2', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bootcmd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cases: Array<[string[], RegExp]> = [
    [['--dir', dir], /--interface IF is required/],
    [['--interface', 'lo'], /--dir BOOTDIR is required/],
    [['--interface', 'lo', '--dir', dir, '--bogus'], /unknown option --bogus/],
    [['--interface', 'nosuchif0', '--dir', dir], /no interface 'nosuchif0'/],
    [['--interface', 'lo', '--dir', join(dir, 'missing')], /boot directory .* does not exist/],
    [['--interface', 'lo', '--dir', dir, '--range', '10.0.0.1-10.0.0.9'], /not inside the interface's subnet/],
    [['--interface', 'lo', '--dir', dir, '--range', '127.0.0.9-127.0.0.2'], /is empty/],
    [['--interface', 'lo', '--dir', dir, '--range', 'banana'], /--range must look like/],
    [['--interface', 'lo', '--dir', dir, '--lease-time', '5'], /--lease-time must be an integer/],
    [['--interface', 'lo', '--dir', dir, '--dns', '1.2.3.999'], /octet out of range/],
  ];
  for (const [args, expected] of cases) {
    const r = await overlay(args);
    t.is(r.code, 2, args.join(' '));
    t.regex(r.out, expected, args.join(' '));
    t.is(r.out.trim().split('\n').length, 1, `one line for ${args.join(' ')}`);
  }
});
