// `npm run appliance:build` without building 900 MB: the recipe digest (the cache key) follows the
// recipe, --dry-run says what it would run and touches nothing, a complete build in the cache is
// reused without running debootstrap, and bad arguments are one usage line.
import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { APPLIANCE_RECIPE, debootstrapArgs, recipeDigest } from '../../bench/appliance/recipe.js';
import { startProc } from '../../simulations/harness/proc.js';

const BUILD = fileURLToPath(new URL('../../bench/appliance/build.js', import.meta.url));

async function cli(args: string[]): Promise<{ code: number | null; out: string }> {
  const p = startProc(process.execPath, [BUILD, ...args]);
  const timer = setTimeout(() => void p.kill(1000), 20_000);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, out: p.output() };
}

test('the recipe digest is stable and changes with the packages, the suite and the configure script', (t) => {
  const d = recipeDigest(APPLIANCE_RECIPE);
  t.regex(d, /^[0-9a-f]{16}$/);
  t.is(recipeDigest({ ...APPLIANCE_RECIPE, packages: [...APPLIANCE_RECIPE.packages] }), d);
  t.not(recipeDigest({ ...APPLIANCE_RECIPE, packages: [...APPLIANCE_RECIPE.packages, 'stress-ng'] }), d);
  t.not(recipeDigest({ ...APPLIANCE_RECIPE, suite: 'trixie' }), d);
  t.not(recipeDigest({ ...APPLIANCE_RECIPE, configure: `${APPLIANCE_RECIPE.configure}\necho more` }), d);
  const args = debootstrapArgs(APPLIANCE_RECIPE, '/x/root.partial');
  t.deepEqual(args.slice(-3), ['bookworm', '/x/root.partial', 'http://deb.debian.org/debian']);
  t.true(args.includes('--variant=minbase'));
  t.true(args.some((a) => a.startsWith('--include=') && a.includes('systemd') && a.includes('linux-image-amd64') && a.includes('bc')));
});

test('--dry-run names the debootstrap run and creates nothing; a complete build is reused; bad arguments get the usage', async (t) => {
  const cache = mkdtempSync(join(tmpdir(), 'appliance-cache-'));
  t.teardown(() => rmSync(cache, { recursive: true, force: true }));
  const digest = recipeDigest(APPLIANCE_RECIPE);
  const dry = await cli(['--cache', cache, '--dry-run']);
  t.is(dry.code, 0, dry.out);
  t.regex(dry.out, new RegExp(`appliance ${digest} is not built yet; would run: debootstrap --variant=minbase`));
  t.deepEqual(readdirSync(cache), []);

  // A complete build of this recipe (its build.json) is reused: no debootstrap, nothing rebuilt.
  mkdirSync(join(cache, digest));
  writeFileSync(join(cache, digest, 'build.json'), JSON.stringify({ digest, root: join(cache, digest, 'root'), bytes: 934e6, files: 30_000, seconds: 600 }));
  const cached = await cli(['--cache', cache]);
  t.is(cached.code, 0, cached.out);
  t.regex(cached.out, new RegExp(`appliance ${digest} is cached .*\\(934 MB, 30000 files\\); nothing to do`));
  t.false(existsSync(join(cache, digest, 'root.partial')));

  for (const bad of [['--bogus'], ['--cache']]) {
    const r = await cli(bad);
    t.is(r.code, 2, r.out);
    t.regex(r.out, /^usage: npm run appliance:build/m);
    t.notRegex(r.out, /\n\s+at /);
  }
});
