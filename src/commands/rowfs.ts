// `overlay rowfs`: runs the ROW-FS redirect-on-write proxy between unmodified NFSv3 clients, a
// read-only main server and a shadow (a local directory served by the embedded server, or any NFS
// server), or prints the counters of a running one (`--stats`).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { tuneProxyV8 } from '../proxy-v8.js';
import { CliError, addressOption, checkWritableDirectory, intOption, lockShadowDir, lockStateDir, parseArgs, stringOption, type Command, type ParsedArgs } from './command.js';

const HELP = `usage: overlay rowfs --main HOST:PATH --shadow DIR|HOST:PATH --listen PORT [options]
       overlay rowfs --stats [--state DIR | --main HOST:PATH | --control PORT] [--json]

Serves NFSv3 + MOUNT v3 on PORT. Clients mount PATH (the main export's path) from this host; reads
come from the read-only main server (through a local block cache), every change goes to the shadow.
The main export is never written. State (handles, block bitmaps, whiteouts) survives restarts.

options:
  --main HOST:PATH        read-only main NFSv3 export (ports from HOST's portmapper unless given)
  --main-nfs-port N       main server's NFS port      --main-mount-port N   its MOUNT port
  --shadow DIR|HOST:PATH  where writes go: a local directory (embedded server) or an NFSv3 export
  --shadow-nfs-port N     shadow server's NFS port    --shadow-mount-port N its MOUNT port
  --listen PORT           NFS port to serve (MOUNT on the same port unless --mount-port)
  --mount-port PORT       separate MOUNT port
  --host ADDR             address to listen on (default 0.0.0.0)
  --state DIR             state directory (default ~/.local/state/overlay/rowfs/<main id>)
  --cache DIR             block cache root (default <state>/cache); --no-cache disables it
  --block-size BYTES      block size of a new state (power of two, 4096..1048576; default 65536)
  --control PORT          also serve GET /stats (JSON counters) on 127.0.0.1:PORT
  --stats                 print the counters of a proxy (from <state>/counters.json, or --control)
  --json                  with --stats: raw JSON

examples:
  overlay rowfs --main 10.0.0.5:/srv/base --shadow /var/lib/rowfs/vm1 --listen 2049
  mount -t nfs -o vers=3,tcp,nolock,port=2049,mountport=2049 127.0.0.1:/srv/base /mnt
  overlay rowfs --stats --main 10.0.0.5:/srv/base`;

const SPEC = {
  main: { value: true },
  'main-nfs-port': { value: true },
  'main-mount-port': { value: true },
  shadow: { value: true },
  'shadow-nfs-port': { value: true },
  'shadow-mount-port': { value: true },
  listen: { value: true },
  'mount-port': { value: true },
  host: { value: true },
  state: { value: true },
  cache: { value: true },
  'no-cache': {},
  'block-size': { value: true },
  control: { value: true },
  stats: {},
  json: {},
} as const;

/** HOST:PATH (PATH absolute); IPv6 hosts in brackets: [::1]:/export. */
export function parseRemote(what: string, s: string): { host: string; exportPath: string } {
  const m = /^(\[[^\]]+\]|[^:/]+):(\/.*)$/.exec(s);
  if (!m) throw new CliError(`--${what} must be HOST:/PATH, got '${s}'`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), exportPath: m[2]! };
}

function defaultStateDir(main: string): string {
  const id = createHash('sha256').update(main).digest('hex').slice(0, 12);
  return join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'overlay', 'rowfs', id);
}

function optPort(a: ParsedArgs, name: string): number | undefined {
  return a.options[name] === undefined ? undefined : intOption(a, name, 0, 1, 65535);
}

async function stats(a: ParsedArgs): Promise<number> {
  let json: string;
  const control = optPort(a, 'control');
  if (control !== undefined) {
    try {
      const res = await fetch(`http://127.0.0.1:${control}/stats`, { signal: AbortSignal.timeout(5000) });
      json = await res.text();
    } catch (e) {
      throw new CliError(`no proxy control endpoint on 127.0.0.1:${control}: ${(e as Error).message}`, 1);
    }
  } else {
    const main = stringOption(a, 'main');
    const state = stringOption(a, 'state') ?? (main ? defaultStateDir(main) : undefined);
    if (!state) throw new CliError('--stats needs --state DIR, --main HOST:PATH or --control PORT');
    const file = join(resolve(state), 'counters.json');
    if (!existsSync(file)) throw new CliError(`no counters at ${file} (is a proxy using that state directory?)`, 1);
    json = readFileSync(file, 'utf8');
  }
  if (a.options.json) {
    console.log(json.trim());
    return 0;
  }
  const { Counters } = await import('../../rowfs/counters.js');
  try {
    console.log(Counters.format(JSON.parse(json)));
  } catch {
    throw new CliError('counters are not valid JSON', 1);
  }
  return 0;
}

export const command: Command = {
  summary: 'run the ROW-FS redirect-on-write NFS proxy (or show its counters)',
  help: HELP,
  async run(argv) {
    const a = parseArgs(argv, SPEC);
    if (a.positionals.length > 0) throw new CliError(`unexpected argument '${a.positionals[0]}'`);
    if (a.options.stats) return stats(a);
    const mainArg = stringOption(a, 'main');
    const shadowArg = stringOption(a, 'shadow');
    if (!mainArg) throw new CliError('--main HOST:PATH is required');
    const main = { ...parseRemote('main', mainArg), nfsPort: optPort(a, 'main-nfs-port'), mountPort: optPort(a, 'main-mount-port') };
    if (!shadowArg) throw new CliError('--shadow DIR|HOST:PATH is required');
    if (a.options.listen === undefined) throw new CliError('--listen PORT is required');
    const listen = intOption(a, 'listen', 0, 0, 65535);
    const listenHost = addressOption(a, 'host') ?? '0.0.0.0';
    const shadow = /^(\[[^\]]+\]|[^:/]+):\//.test(shadowArg)
      ? { ...parseRemote('shadow', shadowArg), nfsPort: optPort(a, 'shadow-nfs-port'), mountPort: optPort(a, 'shadow-mount-port') }
      : { dir: resolve(shadowArg) };
    const blockSize = a.options['block-size'] === undefined ? undefined : intOption(a, 'block-size', 65536, 4096, 1 << 20);
    if (blockSize !== undefined && (blockSize & (blockSize - 1)) !== 0) throw new CliError('--block-size must be a power of two');
    const stateDir = resolve(stringOption(a, 'state') ?? defaultStateDir(mainArg));
    // One proxy per state directory: two would hand out vids the other does not know (STALE).
    lockStateDir(stateDir, '--state');
    const cacheDir = a.options['no-cache'] ? null : (stringOption(a, 'cache') ?? undefined);
    // Paths are checked before the proxy starts: one line for a file, /proc, or no permission.
    // One proxy per local shadow too, whatever its --state.
    if ('dir' in shadow) lockShadowDir((shadow as { dir: string }).dir, '--shadow');
    if (typeof cacheDir === 'string') checkWritableDirectory(resolve(cacheDir), '--cache');

    tuneProxyV8();
    const { RowfsProxy } = await import('../../rowfs/proxy/proxy.js');
    const { ProxyStartError } = await import('../../rowfs/proxy/errors.js');
    const { StateStoreError } = await import('../../rowfs/state/store.js');
    let proxy;
    try {
      proxy = await RowfsProxy.start({
        main,
        shadow,
        stateDir,
        cacheDir: cacheDir === undefined ? undefined : cacheDir === null ? null : resolve(cacheDir),
        listenHost,
        nfsPort: listen,
        mountPort: optPort(a, 'mount-port'),
        blockSizeBytes: blockSize,
        controlPort: a.options.control === undefined ? undefined : intOption(a, 'control', 0, 0, 65535),
        nativeMemory: true, // this process is the proxy alone
        onFault: (what, err) => console.error(`rowfs: internal error in ${what}: ${(err as Error)?.stack ?? String(err)}`),
      });
    } catch (e) {
      if (e instanceof ProxyStartError || e instanceof StateStoreError) throw new CliError(e.message, 1);
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' || code === 'EACCES') throw new CliError(`cannot listen on port ${listen}: ${code}`, 1);
      throw e;
    }
    console.log(`rowfs: serving ${main.exportPath} (main ${main.host}:${main.exportPath}, shadow ${'dir' in shadow ? shadow.dir : `${shadow.host}:${shadow.exportPath}`})`);
    console.log(`rowfs: NFS port ${proxy.nfsPort}, MOUNT port ${proxy.mountPort}`);
    if (proxy.controlPort !== undefined) console.log(`rowfs: control http://127.0.0.1:${proxy.controlPort}/stats`);
    console.log(`rowfs: state ${stateDir}, counters ${proxy.countersFile}`);
    await new Promise<void>((done) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        void proxy.stop().then(done);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    return 0;
  },
};
