// Our embedded NFSv3 server as its own process, configured as the proxy's in-process shadow is
// (held directory descriptors, the proxy's V8 heap settings and launcher flags): beside ganesha and
// the proxy in create-replay (ROWFS_BENCH_REPLAY_EMBEDDED=1), what our RPC layer and local export
// cost without the proxy's layer above them. Run as a script it serves DIR on 127.0.0.1 and prints
// "embedded NFS port N, MOUNT port N, export PATH" until SIGTERM.
import { fileURLToPath } from 'node:url';
import { startEmbeddedServer } from '../../rowfs/server/embedded-server.js';
import { DEFAULT_HELD_DIRS } from '../../rowfs/server/held-dirs.js';
import { tuneProxyV8 } from '../../src/proxy-v8.js';
import { startProc, type Proc } from '../../simulations/harness/proc.js';
import { launcherNodeFlags } from '../../simulations/harness/overlay-command.js';

export interface EmbeddedProc {
  proc: Proc;
  nfsPort: number;
  mountPort: number;
  exportPath: string;
  stop(): Promise<void>;
}

const SCRIPT = fileURLToPath(import.meta.url);

/** Starts the embedded server on `dir` in a child process, with the proxy's node flags (and `extraNodeFlags`). */
export async function startEmbeddedProcess(dir: string, extraNodeFlags: readonly string[] = []): Promise<EmbeddedProc> {
  const proc = startProc(process.execPath, [...launcherNodeFlags(), ...extraNodeFlags, SCRIPT, dir]);
  const m = await proc.waitFor(/embedded NFS port (\d+), MOUNT port (\d+), export (\S+)/, 20_000);
  return { proc, nfsPort: Number(m[1]), mountPort: Number(m[2]), exportPath: m[3]!, stop: () => proc.kill(5000) };
}

async function serve(dir: string | undefined): Promise<void> {
  if (!dir) {
    console.error('usage: embedded-process DIR');
    process.exit(2);
  }
  tuneProxyV8();
  const s = await startEmbeddedServer({ exportDir: dir, host: '127.0.0.1', heldDirs: DEFAULT_HELD_DIRS });
  console.log(`embedded NFS port ${s.nfsPort}, MOUNT port ${s.mountPort}, export ${s.exportPath}`);
  process.on('SIGTERM', () => void s.stop().then(() => process.exit(0)));
}

if (process.argv[1] === SCRIPT) {
  serve(process.argv[2]).catch((e: unknown) => {
    console.error(`embedded-process: ${(e as Error).message}`);
    process.exit(1);
  });
}
