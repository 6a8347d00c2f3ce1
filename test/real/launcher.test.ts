// The launcher as a shell or systemd runs it: bin/overlay.js executed directly, its
// `#!/usr/bin/env -S node FLAGS` line starting node with the flags the benchmarks measured.
import test from 'ava';
import { execFile } from 'node:child_process';
import { launcherNodeFlags, OVERLAY_BIN } from '../../simulations/harness/overlay-command.js';

test('bin/overlay.js runs as an executable through its #! line', async (t) => {
  const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(OVERLAY_BIN, ['--help'], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? -1) : 0, stdout, stderr });
    });
  });
  t.is(out.code, 0, out.stderr);
  t.regex(out.stdout, /^usage: overlay <command>/m);
});

test('the launcher line names node flags the harness can read back', (t) => {
  const flags = launcherNodeFlags();
  t.true(flags.includes('--no-parallel-scavenge'));
  for (const f of flags) t.regex(f, /^--[a-z0-9-]+(=\S+)?$/);
});
