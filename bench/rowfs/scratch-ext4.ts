// A fresh journaled ext4 file system on a loop device, for the kernel-client phase's server-side
// directories (the direct ganesha's tree, the proxy's shadow and state). Why: ext4 without a
// journal (this machine's root) skips every inode freed in the last 60-360 s when it allocates one
// (ialloc.c recently_deleted), scanning past each; after other jobs' or the other side's deletes, a
// create cost up to 0.4 ms more, so a create figure depended on what the host had deleted lately and
// on which side ran second. A new file system per run makes both sides start from the same state.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onInterrupt } from '../../simulations/harness/interrupt-cleanup.js';
import { run } from '../../simulations/harness/proc.js';

export interface ScratchFs {
  /** Where the file system is mounted. */
  path: string;
  /** Unmounts it and deletes its image (best effort: also on a failed run). */
  release(): Promise<void>;
}

/** Makes a sparse `bytes` image under `work`, formats it ext4 (with its journal) and mounts it. */
export async function mountScratchExt4(work: string, bytes: number): Promise<ScratchFs> {
  const image = join(work, 'scratch-ext4.img');
  const path = join(work, 'scratch');
  writeFileSync(image, '');
  truncateSync(image, bytes);
  mkdirSync(path);
  await run('mkfs.ext4', ['-q', '-F', image], 60_000);
  await run('mount', ['-o', 'loop', image, path], 30_000);
  const forget = onInterrupt(() => {
    execFileSync('umount', ['-l', path], { stdio: 'ignore', timeout: 30_000 });
    rmSync(image, { force: true });
  });
  return {
    path,
    async release() {
      forget();
      await run('umount', [path], 60_000).catch(() => run('umount', ['-l', path], 30_000)).catch(() => undefined);
      rmSync(image, { force: true });
    },
  };
}
