// Runs the `overlay` command as a user would (bin/overlay.js with its launcher's node flags) and collects exit code and output.
import { execFile } from 'node:child_process';
import { OVERLAY_BIN, overlayCommand } from '../../simulations/harness/overlay-command.js';

export const BIN = OVERLAY_BIN;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `overlay ARGS` (optionally under `prefix`, e.g. `ip netns exec NS`); a process killed at `timeoutMs` has code -1. */
export function cli(args: string[], timeoutMs = 30_000, prefix: string[] = []): Promise<CliResult> {
  const [node, nodeArgs] = overlayCommand(args);
  const [cmd, ...rest] = [...prefix, node, ...nodeArgs];
  return new Promise((resolve) => {
    execFile(cmd!, rest, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
