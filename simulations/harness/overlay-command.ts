// The `overlay` command as its launcher runs it (bin/overlay.js's `#!/usr/bin/env -S node FLAGS`
// line), with this process's node binary: benchmarks measure the process users get, and may add
// diagnostic node flags (profiling) in front of the script.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const OVERLAY_BIN = fileURLToPath(new URL('../../../bin/overlay.js', import.meta.url));

/** The node flags on the launcher's first line. */
export function launcherNodeFlags(bin = OVERLAY_BIN): string[] {
  const first = readFileSync(bin, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\S*env -S node((?:\s+--\S+)*)\s*$/.exec(first);
  if (!m) throw new Error(`${bin}: first line is not "#!/usr/bin/env -S node [--flags]": ${first}`);
  return m[1]!.trim().split(/\s+/).filter((f) => f.length > 0);
}

/** Command and arguments that run `overlay ARGS` as the launcher would, `extraNodeFlags` added (`bin`: another checkout's launcher). */
export function overlayCommand(args: readonly string[], extraNodeFlags: readonly string[] = [], bin = OVERLAY_BIN): [string, string[]] {
  return [process.execPath, [...launcherNodeFlags(bin), ...extraNodeFlags, bin, ...args]];
}
