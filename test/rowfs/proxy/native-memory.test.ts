// The rowfsmemory addon (rowfs/native/rowfs-memory.c) as the proxy uses it: its arguments are
// checked, and a trim gives memory that glibc kept after a burst of native allocations back to the
// kernel (this process's resident set drops). NativeMemory trims only when the activity count moved.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadNativeAddon } from '../../../lib/native-addon.js';
import { NativeMemory } from '../../../rowfs/proxy/native-memory.js';

interface MemoryAddon {
  limitArenas(n: number): void;
  fixThresholds(bytes: number): void;
  trim(): number;
}

test('the addon checks its arguments', (t) => {
  const addon = loadNativeAddon<MemoryAddon>('rowfsmemory');
  t.truthy(addon, 'rowfsmemory is built (npm run install)');
  for (const bad of [0, 65, -1, 'two'] as unknown[]) t.throws(() => addon!.limitArenas(bad as number), { code: 'MEMORY_EINVAL' });
  t.notThrows(() => addon!.limitArenas(2));
  for (const bad of [0, 4095, 64 * 1024 * 1024, 'x'] as unknown[]) t.throws(() => addon!.fixThresholds(bad as number), { code: 'MEMORY_EINVAL' });
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
const released = memory.trim();
console.log(JSON.stringify({ before, after: rss(), released, intact: kept.every((b, i) => b[4095] === ((i * 16) & 0xff)) }));
`;

test('a trim returns memory freed after a burst of native allocations', (t) => {
  const module = fileURLToPath(new URL('../../../rowfs/proxy/native-memory.js', import.meta.url));
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', BURST_SCRIPT, module], { encoding: 'utf8', timeout: 30_000 });
  t.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { before: number; after: number; released: boolean; intact: boolean };
  t.true(out.released, 'some memory released');
  t.true(out.before - out.after >= 24 * 1024, `RssAnon ${out.before} -> ${out.after} KiB`);
  t.true(out.intact, 'live buffers untouched');
});

test('NativeMemory trims on a tick only when the activity count moved', (t) => {
  const memory = NativeMemory.open()!;
  const trims = () => memory.stats.trims;
  const t0 = trims();
  memory.tick(5);
  memory.tick(5);
  memory.tick(5);
  t.is(trims() - t0, 1);
  memory.tick(6);
  t.is(trims() - t0, 2);
});
