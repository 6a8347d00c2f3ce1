// The wan-delay helper (wan-delay.c: NFQUEUE packets held for a one-way delay, since tc netem does
// not exist on these machines), compiled on first use into build/wan-delay/ and reused while its
// source is unchanged. Needs cc and libnetfilter-queue-dev (scripts/setup.sh installs both).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { run } from '../harness/proc.js';

/** Source (in the repository, beside this file's TypeScript) and output directory. */
const SOURCE = fileURLToPath(new URL('../../../simulations/netns/wan-delay.c', import.meta.url));
const OUT_DIR = fileURLToPath(new URL('../../../build/wan-delay/', import.meta.url));

/** The compiled helper's path, building it if its source changed. Concurrent callers may both build: the rename is atomic. */
export async function wanDelayBinary(): Promise<string> {
  const hash = createHash('sha256').update(readFileSync(SOURCE)).digest('hex').slice(0, 16);
  const bin = join(OUT_DIR, `wan-delay-${hash}`);
  if (existsSync(bin)) return bin;
  mkdirSync(OUT_DIR, { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  await run('cc', ['-O2', '-Wall', '-Wextra', '-o', tmp, SOURCE, '-lnetfilter_queue', '-lnfnetlink'], 60_000).catch((e: Error) => {
    throw new Error(`cannot build wan-delay (needs cc and libnetfilter-queue-dev: scripts/setup.sh): ${e.message.split('\n').slice(0, 4).join(' ')}`);
  });
  renameSync(tmp, bin);
  return bin;
}
