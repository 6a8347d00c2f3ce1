// The workload's local disk: an ext4 image holding the appliance's own workload script and exactly
// the programs and libraries it runs (sh, cut, bc, md5sum and their ldd closure, copied from the
// appliance tree), made at bench time with `mke2fs -d`. The VM mounts it read-only and runs the
// workload in a chroot on it, so "local" means loaded from a local disk, as in the paper.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What the workload script execs (its shebang and commands), as paths in the appliance tree. */
const PROGRAMS = ['bin/sh', 'usr/bin/cut', 'usr/bin/bc', 'usr/bin/md5sum', 'usr/local/bin/appliance-workload'];

/** Writes the image to `file` (root: the appliance tree); returns the files it holds. */
export function makeWorkloadDisk(root: string, file: string): string[] {
  const elfs = PROGRAMS.filter((p) => !p.startsWith('usr/local/'));
  // ldd inside the tree: the libraries as the appliance's own loader resolves them.
  const ldd = execFileSync('chroot', [root, '/usr/bin/ldd', ...elfs.map((p) => `/${p}`)]).toString();
  const libs = [...ldd.matchAll(/(?:=> )?(\/\S+) \(0x/g)].map((m) => m[1]!.slice(1));
  const files = [...new Set([...PROGRAMS, ...libs, 'etc/ld.so.cache'])].sort();
  const stage = mkdtempSync(join(tmpdir(), 'workload-disk-'));
  try {
    // --parents keeps the paths; -L copies what symlinks (bin, lib64, sh -> dash) point to.
    execFileSync('cp', ['-L', '--parents', ...files, stage], { cwd: root });
    mkdirSync(join(stage, 'proc'));
    rmSync(file, { force: true });
    execFileSync('mke2fs', ['-q', '-t', 'ext4', '-O', '^has_journal', '-L', 'workload', '-d', stage, file, '16M']);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  return files;
}
