// What a harness made that must not outlive a run told to stop: child processes, namespaces,
// mounts. Normal paths undo them in finally blocks and drop the registration; SIGTERM, SIGINT or
// SIGHUP skip every finally block, so the first registration installs handlers that run whatever
// is still registered (newest first: processes before the namespace or mount they use), then exit
// with 128 + the signal's number. The undo functions are synchronous: the process is about to exit.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const pending = new Set<() => void>();
let installed = false;

const SIGNALS: ReadonlyArray<readonly [NodeJS.Signals, number]> = [
  ['SIGTERM', 15],
  ['SIGINT', 2],
  ['SIGHUP', 1],
];

/** Registers `undo` to run if the process is told to stop; returns the function that drops it. */
export function onInterrupt(undo: () => void): () => void {
  install();
  pending.add(undo);
  return () => void pending.delete(undo);
}

function install(): void {
  if (installed) return;
  installed = true;
  for (const [signal, number] of SIGNALS) {
    process.once(signal, () => {
      for (const undo of [...pending].reverse()) {
        try {
          undo();
        } catch {
          /* the rest still run */
        }
      }
      pending.clear();
      process.exit(128 + number);
    });
  }
}

/**
 * A fresh temporary directory (under the system's, named `prefix` + random) that goes with the
 * rest if the process is told to stop; `remove` deletes it on the normal path.
 */
export function tempWorkDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  const forget = onInterrupt(() => rmSync(path, { recursive: true, force: true }));
  return {
    path,
    remove() {
      forget();
      rmSync(path, { recursive: true, force: true });
    },
  };
}
