// A benchmark's results file: bench/results/NAME.json, {"bench", "date", "figures", ...}, which the
// plots (`npm run plot`) and the issues' figure names read.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type Figures = Record<string, { value: number; unit: string }>;

/** Writes bench/results/`name`.json with `figures` (and `extra` top-level fields); returns its path. */
export function writeBenchResults(name: string, figures: Figures, extra: Record<string, unknown> = {}): string {
  const dir = new URL('../../bench/results/', import.meta.url).pathname;
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.json`);
  writeFileSync(path, `${JSON.stringify({ bench: name, date: new Date().toISOString(), figures, ...extra }, null, 2)}\n`);
  return path;
}
