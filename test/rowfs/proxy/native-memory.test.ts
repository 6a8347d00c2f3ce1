// The rowfsmemory addon (rowfs/native/rowfs-memory.c) as the proxy uses it: its arguments are
// checked, and a trim gives memory that glibc kept after a burst of native allocations back to the
// kernel (this process's resident set drops). NativeMemory trims only when the activity count moved
// and the anonymous resident set grew by TRIM_GROWTH_BYTES since its last trim.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadNativeAddon } from '../../../lib/native-addon.js';
import { NativeMemory, TRIM_GROWTH_BYTES } from '../../../rowfs/proxy/native-memory.js';

interface MemoryAddon {
  limitArenas(n: number): void;
  fixThresholds(bytes: number): void;
  trim(): number;
}

test('the addon checks its arguments', (t) => {
  const addon = loadNativeAddon<MemoryAddon>('rowfsmemory');
  t.truthy(addon, 'rowfsmemory is built (npm run install)');
  for (const bad of [0, 65, -1, 2.7, 2 ** 32 + 2, NaN, Infinity, 'two'] as unknown[]) t.throws(() => addon!.limitArenas(bad as number), { code: 'MEMORY_EINVAL' }, String(bad));
  t.notThrows(() => addon!.limitArenas(2));
  for (const bad of [0, 4095, 64 * 1024 * 1024, 2 ** 32 + 131072, 131072.5, 'x'] as unknown[]) t.throws(() => addon!.fixThresholds(bad as number), { code: 'MEMORY_EINVAL' }, String(bad));
  t.notThrows(() => addon!.fixThresholds(128 * 1024));
});

/**
 * In a process of its own (ava's worker threads allocate from a per-thread malloc heap, which
 * free() shrinks by itself): 64 MiB of 4 KiB Buffers (malloc'd, below the mmap threshold), written,
 * every 16th kept so the freed ones lie between live ones where free() cannot give them back;
 * prints RssAnon in KiB after the burst was freed and after a trim, and whether the kept ones are intact.
 */
const BURST_SCRIPT = `
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
const { NativeMemory } = await import(process.argv[1]);
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
const rss = () => Number(/RssAnon:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
const memory = NativeMemory.open();
let burst = [];
const kept = [];
for (let i = 0; i < 16384; i++) {
  const b = Buffer.allocUnsafeSlow(4096).fill(i & 0xff);
  if (i % 16 === 0) kept.push(b); else burst.push(b);
}
burst = [];
gc();
await new Promise((r) => setTimeout(r, 200));
gc();
const before = rss();
memory.trim();
console.log(JSON.stringify({ before, after: rss(), intact: kept.every((b, i) => b[4095] === ((i * 16) & 0xff)) }));
`;

test('a trim returns memory freed after a burst of native allocations', (t) => {
  const module = fileURLToPath(new URL('../../../rowfs/proxy/native-memory.js', import.meta.url));
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', BURST_SCRIPT, module], { encoding: 'utf8', timeout: 30_000 });
  t.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { before: number; after: number; intact: boolean };
  t.true(out.before - out.after >= 24 * 1024, `RssAnon ${out.before} -> ${out.after} KiB`);
  t.true(out.intact, 'live buffers untouched');
});

test('NativeMemory trims on a tick only when the activity count moved and the resident set grew', (t) => {
  let anon = 100 << 20;
  const memory = NativeMemory.open(undefined, () => anon)!;
  const trims = () => memory.stats.trims;
  memory.tick(1);
  t.is(trims(), 0, 'active, but no growth');
  anon += TRIM_GROWTH_BYTES;
  memory.tick(1);
  t.is(trims(), 0, 'grown, but idle (the count did not move)');
  memory.tick(2);
  t.is(trims(), 1);
  memory.tick(3);
  t.is(trims(), 1, 'the trim set a new baseline');
  anon += TRIM_GROWTH_BYTES - 1;
  memory.tick(4);
  t.is(trims(), 1, 'just under the growth');
  anon += 1;
  memory.tick(5);
  t.is(trims(), 2);
});

test('open: an addon that fails is reported once and leaves the proxy without tuning', (t) => {
  const lines: string[] = [];
  const memory = NativeMemory.open((l) => lines.push(l), () => {
    throw new Error('statm unreadable');
  });
  t.is(memory, undefined);
  t.deepEqual(lines, ['native memory tuning off: statm unreadable']);
});
