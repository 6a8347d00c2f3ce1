// `overlay image ...`: appliance images as overlay services. Every verb talks to the node that
// `overlay up` runs on this machine (its control socket): the registry lives in the overlay's DHT,
// servers and mounts reach each other on their virtual IPs. publish/serve/mount run until stopped
// (SIGINT/SIGTERM); ls/gc/unpublish answer and exit.
import { CliError, addressOption, intOption, parseArgs, stringOption, type Command, type ParsedArgs } from './command.js';
import { nodeSocket, targetHelp, targetSpec } from './target.js';
import { parseRemote } from './rowfs.js';

const HELP = `usage: overlay image publish APP VERSION DIR|--nfs HOST:PATH [--latest|--no-latest] [--publisher KEY]...
       overlay image serve APP VERSION DIR|--nfs HOST:PATH
       overlay image ls [APP] [--json]
       overlay image mount APP [--version V] --listen PORT [--shadow DIR] [--store DIR]
       overlay image gc APP [--keep N] [--min-age S] [--dry-run] [--delete-data]
       overlay image unpublish APP VERSION

Appliance images served, found and mounted through the overlay (its DHT holds the registry; servers
and mounts reach each other on their virtual IPs, from behind any NAT the overlay traverses).

  publish    hashes DIR into the version's manifest (progress on stderr), claims APP if nobody
             owns it (the first publisher owns the name), records VERSION (the latest unless
             --no-latest) and serves DIR read-only on this node's virtual IP until stopped
  serve      serves DIR as one more replica of a published version; DIR must match its manifest
  ls         apps, their latest version, versions with their servers (virtual IP, NFS port, export
             path, direct/relayed/routed, RTT) and sharer counts
  mount      finds the newest (or --version) version and its servers, and runs a ROW-FS proxy on
             PORT that an unmodified NFSv3 client mounts (writes stay in the shadow, blocks are
             cached and checked against the manifest; a dead or lying server is replaced by another)
  gc         withdraws versions older than the latest that nobody shares (never the latest, never
             one with sharers); --keep N keeps the N newest; --delete-data also deletes this node's
             served copies of what it withdrew
  unpublish  withdraws VERSION (owner or named publishers only)

options:
  --nfs HOST:PATH          publish/serve: announce an existing NFSv3 export (e.g. nfs-ganesha) instead
                           of serving DIR; hashed over NFS. A server on this machine must listen on all
                           addresses (clients reach it on this node's virtual IP); else HOST must be a
                           virtual IP of the network
  --nfs-port N             its NFS port      --nfs-mount-port N   its MOUNT port (default: portmapper)
  --latest / --no-latest   publish: make VERSION the app's latest (default --latest)
  --publisher KEY          publish: also allow this node key (64 hex) to publish versions of APP
  --block-size BYTES       publish: manifest block size (default 65536)
  --version V              mount: this version instead of the latest
  --listen PORT            mount: NFS (and MOUNT) port to serve on
  --host ADDR              mount: address to listen on (default 127.0.0.1: the shadow takes writes, so
                           only this machine's clients may reach it unless you choose otherwise)
  --shadow DIR             mount: where writes go (default STORE/shadow)
  --store DIR              mount: proxy state and block cache (default
                           /var/lib/overlay-images/NETWORK/APP/VERSION; a restart continues there)
  --keep N                 gc: keep the N newest versions whatever their sharers (default 1)
  --min-age S              gc: never withdraw a version published less than S seconds ago (default 600)
  --dry-run                gc: print what would be withdrawn, change nothing
  --delete-data            gc: delete this node's served copies of withdrawn versions
  --stall-ms MS             mount: the longest a server may send no reply while calls wait before the
                           mount fails over (default 5000; on a fast link it is 4 x the usual gap
                           between replies, at least 1000)
  --no-share               mount: neither ask other mounts of the version for blocks nor serve them any
  --peer-port N            mount: TCP port on this node's virtual IP serving verified cached blocks to
                           other mounts of the version (default 0: any free port, named in the sharer
                           record). Only the block cache is served, never the shadow
  --upload-bytes-per-s N   mount: bytes per second served to all peers (default 33554432)
  --upload-peer-bytes-per-s N   ... to one peer (default 16777216)
  --upload-requests N      mount: peer requests served at once (default 32); --upload-peer-requests N
                           per peer (default 8). Over any of these a peer is told busy and asks elsewhere
  --publish-trace          mount: attach this mount's boot trace (the order its clients first read
                           blocks, at most 16,384 blocks) to the version, refreshed while it grows;
                           new mounts prefer the owner's or a publisher's trace, else the first one
  --no-prefetch            mount: do not fetch the version's boot trace ahead of the client
  --ttl S                  life of server and sharer records; refreshed every S/3 (default 120)
  --json                   ls: machine-readable output
${targetHelp}

examples:
  overlay image publish debian-base 12.8 /srv/images/debian-12.8
  overlay image serve debian-base 12.8 /srv/images/debian-12.8
  overlay image ls debian-base
  overlay image mount debian-base --listen 2049 &
  mount -t nfs -o vers=3,tcp,nolock,port=2049,mountport=2049 127.0.0.1:/images/debian-base/12.8 /mnt
  overlay image gc debian-base --keep 2 --dry-run
  overlay image unpublish debian-base 12.7`;

const SPEC = {
  ...targetSpec,
  latest: {},
  'no-latest': {},
  nfs: { value: true },
  'nfs-port': { value: true },
  'nfs-mount-port': { value: true },
  publisher: { value: true, repeat: true },
  'block-size': { value: true },
  version: { value: true },
  listen: { value: true },
  'mount-port': { value: true },
  host: { value: true },
  shadow: { value: true },
  store: { value: true },
  keep: { value: true },
  'min-age': { value: true },
  'dry-run': {},
  'delete-data': {},
  ttl: { value: true },
  'stall-ms': { value: true },
  json: {},
  'no-share': {},
  'peer-port': { value: true },
  'upload-bytes-per-s': { value: true },
  'upload-peer-bytes-per-s': { value: true },
  'upload-requests': { value: true },
  'upload-peer-requests': { value: true },
  'publish-trace': {},
  'no-prefetch': {},
} as const;

/** Which options each verb accepts (others are refused, not ignored). */
const VERB_OPTIONS: Record<string, string[]> = {
  publish: ['latest', 'no-latest', 'publisher', 'block-size', 'ttl', 'nfs', 'nfs-port', 'nfs-mount-port'],
  serve: ['ttl', 'nfs', 'nfs-port', 'nfs-mount-port'],
  ls: ['json'],
  mount: ['version', 'listen', 'mount-port', 'host', 'shadow', 'store', 'ttl', 'stall-ms', 'no-share', 'peer-port', 'upload-bytes-per-s', 'upload-peer-bytes-per-s', 'upload-requests', 'upload-peer-requests', 'publish-trace', 'no-prefetch'],
  gc: ['keep', 'min-age', 'dry-run', 'delete-data'],
  unpublish: [],
};

function checkOptions(verb: string, a: ParsedArgs): void {
  const allowed = new Set([...VERB_OPTIONS[verb]!, 'network', 'state']);
  for (const name of Object.keys(a.options)) if (!allowed.has(name)) throw new CliError(`image ${verb} takes no --${name}`);
}

function positionals(verb: string, a: ParsedArgs, names: string[], optional = 0): string[] {
  const got = a.positionals.slice(1);
  if (got.length > names.length) throw new CliError(`unexpected argument '${got[names.length]}' (usage: overlay image ${verb} ${names.join(' ')})`);
  if (got.length < names.length - optional) throw new CliError(`image ${verb} needs ${names.join(' ')}`);
  return got;
}

export const command: Command = {
  summary: 'publish, find, mount and collect appliance images over the overlay',
  help: HELP,
  async run(argv) {
    const a = parseArgs(argv, SPEC);
    const verb = a.positionals[0];
    if (!verb) throw new CliError('image needs a verb: publish, serve, ls, mount, gc or unpublish');
    if (!(verb in VERB_OPTIONS)) throw new CliError(`unknown image verb '${verb}' (want publish, serve, ls, mount, gc or unpublish)`);
    checkOptions(verb, a);
    const ttlS = intOption(a, 'ttl', 120, 3, 24 * 3600);
    // Everything the user typed is checked before the node is asked anything.
    const { checkAppName, checkVersion } = await import('../../rowfs/image/names.js');
    const { ImageError } = await import('../../rowfs/image/errors.js');
    const named = <T>(f: () => T): T => {
      try {
        return f();
      } catch (e) {
        if (e instanceof ImageError) throw new CliError(e.message);
        throw e;
      }
    };
    const appAt = (s: string | undefined) => named(() => checkAppName(s!));
    const versionAt = (s: string | undefined) => named(() => checkVersion(s!));
    let run: (ops: typeof import('../image/image-commands.js'), common: { socket: string; ttlMs: number }) => Promise<number>;
    switch (verb) {
      case 'publish':
      case 'serve': {
        const nfsArg = stringOption(a, 'nfs');
        const [app, version, dir] = positionals(verb, a, nfsArg === undefined ? ['APP', 'VERSION', 'DIR'] : ['APP', 'VERSION']);
        for (const o of ['nfs-port', 'nfs-mount-port']) if (nfsArg === undefined && a.options[o] !== undefined) throw new CliError(`--${o} goes with --nfs`);
        const port = (name: string) => (a.options[name] === undefined ? undefined : intOption(a, name, 0, 1, 65535));
        const nfs = nfsArg === undefined ? undefined : { ...parseRemote('nfs', nfsArg), nfsPort: port('nfs-port'), mountPort: port('nfs-mount-port') };
        const p = { app: appAt(app), version: versionAt(version), ...(nfs ? { nfs } : { dir: dir! }) };
        if (verb === 'serve') {
          run = (ops, c) => ops.serveImage({ ...c, ...p });
          break;
        }
        if (a.options.latest && a.options['no-latest']) throw new CliError('give --latest or --no-latest, not both');
        const publishers = ((a.options.publisher as string[] | undefined) ?? []).map((k) => {
          if (!/^[0-9a-f]{64}$/.test(k)) throw new CliError(`--publisher must be a node key of 64 lowercase hex characters, got '${k}'`);
          return k;
        });
        const blockSize = intOption(a, 'block-size', 65536, 4096, 1 << 20);
        if ((blockSize & (blockSize - 1)) !== 0) throw new CliError('--block-size must be a power of two');
        run = (ops, c) => ops.serveImage({ ...c, ...p, publish: { makeLatest: !a.options['no-latest'], publishers, blockSize } });
        break;
      }
      case 'ls': {
        const [app] = positionals(verb, a, ['[APP]'], 1);
        const p = { app: app === undefined ? undefined : appAt(app), json: !!a.options.json };
        run = (ops, c) => ops.listImages({ ...c, ...p });
        break;
      }
      case 'mount': {
        const [app] = positionals(verb, a, ['APP']);
        if (a.options.listen === undefined) throw new CliError('image mount needs --listen PORT');
        const p = {
          app: appAt(app),
          version: a.options.version === undefined ? undefined : versionAt(stringOption(a, 'version')),
          nfsPort: intOption(a, 'listen', 0, 0, 65535),
          mountPort: a.options['mount-port'] === undefined ? undefined : intOption(a, 'mount-port', 0, 1, 65535),
          host: addressOption(a, 'host', '127.0.0.1')!,
          shadow: stringOption(a, 'shadow'),
          store: stringOption(a, 'store'),
          stallMs: a.options['stall-ms'] === undefined ? undefined : intOption(a, 'stall-ms', 5000, 1000, 60_000),
          trace: { prefetch: !a.options['no-prefetch'], publish: !!a.options['publish-trace'] },
          share: {
            enabled: !a.options['no-share'],
            port: intOption(a, 'peer-port', 0, 0, 65535),
            limits: {
              totalBytesPerS: intOption(a, 'upload-bytes-per-s', 32 << 20, 1024, 2 ** 40),
              peerBytesPerS: intOption(a, 'upload-peer-bytes-per-s', 16 << 20, 1024, 2 ** 40),
              totalRequests: intOption(a, 'upload-requests', 32, 1, 4096),
              peerRequests: intOption(a, 'upload-peer-requests', 8, 1, 1024),
            },
          },
        };
        run = (ops, c) => ops.mountImage({ ...c, ...p });
        break;
      }
      case 'gc': {
        const [app] = positionals(verb, a, ['APP']);
        const p = {
          app: appAt(app),
          keep: intOption(a, 'keep', 1, 0, 1000),
          minAgeMs: intOption(a, 'min-age', 600, 0, 365 * 24 * 3600) * 1000,
          dryRun: !!a.options['dry-run'],
          deleteData: !!a.options['delete-data'],
        };
        run = (ops, c) => ops.collectImages({ ...c, ...p });
        break;
      }
      default: {
        const [app, version] = positionals(verb, a, ['APP', 'VERSION']);
        const p = { app: appAt(app), version: versionAt(version) };
        run = (ops, c) => ops.unpublishImage({ ...c, ...p });
      }
    }
    // Loaded here: `overlay image --help` must not pull in the proxy and its native addon.
    const ops = await import('../image/image-commands.js');
    try {
      return await run(ops, { socket: nodeSocket(a), ttlMs: ttlS * 1000 });
    } catch (e) {
      throw ops.asCliError(e);
    }
  },
};
