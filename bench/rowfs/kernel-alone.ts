// The kernel-client phase of bench:rowfs on its own (diagnostics, not a figure source): a fresh main
// ganesha over prepareKernelTree's files, then kernelClientPhase; prints the phase's figures and the
// proxy/direct ratios. Knobs as in bench/rowfs/kernel-client.ts (ROWFS_BENCH_VM_META_ONLY=1,
// ROWFS_BENCH_VM_TRACE, ROWFS_BENCH_VM_MOUNTSTATS=1) and bench/rowfs.ts (ROWFS_BENCH_PROF, ROWFS_BENCH_NODE_FLAGS, ...).
// Run: node dist/bench/rowfs/kernel-alone.js (under flock /work/notes/bench.lock).
import { tempWorkDir } from '../../simulations/harness/interrupt-cleanup.js';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startGanesha } from '../../simulations/harness/ganesha.js';
import { kernelClientPhase, prepareKernelTree } from './kernel-client.js';
import { runMain } from '../run-main.js';

const BLOCK_BYTES = 64 * 1024;

async function main(): Promise<void> {
  const workDir = tempWorkDir('rowfs-kernel-'); // removed also if the bench is told to stop
  const work = workDir.path;
  try {
    const mainDir = join(work, 'main');
    mkdirSync(mainDir);
    prepareKernelTree(mainDir);
    const mainG = await startGanesha({ exportDir: mainDir, readOnly: true });
    try {
      console.log(`(load ${readFileSync('/proc/loadavg', 'utf8').trim()})`);
      const f = await kernelClientPhase(mainG, mainDir, work, BLOCK_BYTES, (line) => console.log(line));
      for (const [name, v] of Object.entries(f)) console.log(`${name.padEnd(28)} ${v.value} ${v.unit}`);
      for (const w of ['create_ops', 'stat_ops', 'delete_ops', 'read_mbps', 'write_mbps']) {
        const p = f[`vm_${w}_proxy`];
        const d = f[`vm_${w}_direct`];
        if (p && d) console.log(`${w} proxy/direct ${(p.value / d.value).toFixed(2)}x`);
      }
      console.log(`(load ${readFileSync('/proc/loadavg', 'utf8').trim()})`);
    } finally {
      await mainG.stop();
    }
  } finally {
    workDir.remove();
  }
}

runMain(main);
