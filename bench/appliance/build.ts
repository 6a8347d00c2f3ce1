// `npm run appliance:build [-- --cache DIR] [--dry-run] [--force]`: builds the real appliance image
// (bench/appliance/recipe.ts) with debootstrap from Debian's mirror, once. Output under
// CACHE/<recipe digest>/: root/ (the image tree to publish), boot/{vmlinuz,initrd.img} (for TFTP),
// build.json (recipe digest, bytes, files, seconds; written last, so it marks a complete build).
// A build with the same recipe digest is reused; a changed recipe builds into a new directory.
// Needs root and debootstrap (scripts/setup.sh); progress (debootstrap's lines, the tree's size
// every 10 s) goes to stdout. An interrupted build leaves only root.partial, removed at the next run.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../simulations/harness/proc.js';
import { APPLIANCE_RECIPE, debootstrapArgs, recipeDigest } from './recipe.js';

export const DEFAULT_CACHE = '/var/cache/overlay-appliance';
const DEBOOTSTRAP_TIMEOUT_MS = 60 * 60_000;
const CONFIGURE_TIMEOUT_MS = 20 * 60_000;
const PROGRESS_EVERY_MS = 10_000;

export interface ApplianceBuild {
  digest: string;
  root: string;
  kernel: string;
  initrd: string;
  bytes: number;
  files: number;
  seconds: number;
}

const started = Date.now();
const elapsed = () => {
  const s = Math.round((Date.now() - started) / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
};
const say = (line: string) => console.log(`[${elapsed()}] ${line}`);

/** Runs a command, echoing its output lines with the elapsed time; rejects on failure or after timeoutMs. */
function stream(cmd: string, args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    for (const s of [child.stdout, child.stderr]) {
      let rest = '';
      s.on('data', (d: Buffer) => {
        const lines = (rest + d.toString()).split('\n');
        rest = lines.pop()!;
        for (const l of lines) if (l.trim()) say(`  ${l}`);
      });
    }
    child.on('error', (e) => reject(new Error(`${cmd}: ${e.message}`)));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${cmd} failed (${signal ?? `exit ${code}`})`));
    });
  });
}

/** Bytes and regular files of a tree (du and find, so the numbers match what a user would see). */
async function treeSize(dir: string): Promise<{ bytes: number; files: number }> {
  const bytes = Number((await run('du', ['-sb', dir], 120_000)).stdout.split(/\s/)[0]);
  const files = (await run('find', [dir, '-xdev', '-type', 'f'], 120_000)).stdout.split('\n').filter(Boolean).length;
  return { bytes, files };
}

/** The newest file in `dir` whose name starts with `prefix` (the kernel and initrd in /boot). */
function newest(dir: string, prefix: string): string {
  const names = readdirSync(dir).filter((n) => n.startsWith(prefix)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  if (names.length === 0) throw new Error(`no ${prefix}* in ${dir}`);
  return join(dir, names[names.length - 1]!);
}

export async function buildAppliance(o: { cache: string; force?: boolean; dryRun?: boolean }): Promise<ApplianceBuild | undefined> {
  const digest = recipeDigest(APPLIANCE_RECIPE);
  const dir = join(o.cache, digest);
  const marker = join(dir, 'build.json');
  if (existsSync(marker) && !o.force) {
    const b = JSON.parse(readFileSync(marker, 'utf8')) as ApplianceBuild;
    say(`appliance ${digest} is cached in ${dir} (${(b.bytes / 1e6).toFixed(0)} MB, ${b.files} files); nothing to do`);
    return b;
  }
  const partial = join(dir, 'root.partial');
  const args = debootstrapArgs(APPLIANCE_RECIPE, partial);
  if (o.dryRun) {
    say(`appliance ${digest} is not built yet; would run: debootstrap ${args.join(' ')}`);
    say(`then configure it in a chroot and write ${join(dir, 'root')}, ${join(dir, 'boot')} and ${marker}`);
    return undefined;
  }
  if (process.getuid?.() !== 0) throw new Error('building the appliance needs root (debootstrap, chroot)');
  await run('which', ['debootstrap']).catch(() => {
    throw new Error('debootstrap is not installed (scripts/setup.sh installs it)');
  });
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  say(`building appliance ${digest} in ${dir}: debootstrap ${args.join(' ')}`);
  const progress = setInterval(() => {
    void run('du', ['-sb', partial], 60_000).then((r) => say(`  ... ${(Number(r.stdout.split(/\s/)[0]) / 1e6).toFixed(0)} MB so far`), () => undefined);
  }, PROGRESS_EVERY_MS);
  try {
    await stream('debootstrap', args, DEBOOTSTRAP_TIMEOUT_MS);
    say('configuring (initramfs for an NFS root, console report of multi-user, workload)');
    await run('mount', ['-t', 'proc', 'proc', join(partial, 'proc')]);
    try {
      await stream('chroot', [partial, '/bin/sh', '-c', APPLIANCE_RECIPE.configure], CONFIGURE_TIMEOUT_MS);
    } finally {
      await run('umount', [join(partial, 'proc')]);
    }
  } finally {
    clearInterval(progress);
  }
  const boot = join(dir, 'boot');
  mkdirSync(boot);
  copyFileSync(newest(join(partial, 'boot'), 'vmlinuz-'), join(boot, 'vmlinuz'));
  copyFileSync(newest(join(partial, 'boot'), 'initrd.img-'), join(boot, 'initrd.img'));
  const root = join(dir, 'root');
  renameSync(partial, root);
  const size = await treeSize(root);
  const build: ApplianceBuild = { digest, root, kernel: join(boot, 'vmlinuz'), initrd: join(boot, 'initrd.img'), ...size, seconds: Math.round((Date.now() - started) / 1000) };
  writeFileSync(marker, `${JSON.stringify(build, null, 2)}\n`);
  say(`appliance ${digest} built: ${(size.bytes / 1e6).toFixed(0)} MB, ${size.files} files, in ${build.seconds} s`);
  return build;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  const cacheAt = argv.indexOf('--cache');
  const unknown = argv.filter((a, i) => !['--cache', '--dry-run', '--force'].includes(a) && (cacheAt < 0 || i !== cacheAt + 1));
  if (unknown.length > 0 || (cacheAt >= 0 && !argv[cacheAt + 1])) {
    console.error('usage: npm run appliance:build [-- --cache DIR] [--dry-run] [--force]');
    process.exit(2);
  }
  buildAppliance({ cache: cacheAt >= 0 ? argv[cacheAt + 1]! : DEFAULT_CACHE, dryRun: argv.includes('--dry-run'), force: argv.includes('--force') }).then(
    () => process.exit(0),
    (e: Error) => {
      console.error(`appliance:build: ${e.message}`);
      process.exit(1);
    },
  );
}
