// The ROW-FS proxy as a running service: connects to the main export (read-only use) and the
// shadow export, opens the state store and the block cache, and serves NFSv3 + MOUNT v3 to
// unmodified clients. Counters go to a JSON file every second (and to an optional HTTP endpoint).
// Start order: backends (clear errors when unreachable) -> state -> listeners; stop is the reverse.
import { createHash } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { getHeapSpaceStatistics } from 'node:v8';
import { join } from 'node:path';
import { BlockCache } from '../cache/block-cache.js';
import { Counters } from '../counters.js';
import { openExport, MountError, type OpenedExport } from '../mount/open-export.js';
import { mountProgram, type MountHandlers } from '../mount/program.js';
import { MountStatus, type MountEntry } from '../mount/types.js';
import { nfs3Program } from '../nfs3/program.js';
import { Ftype3, Nfs3Status } from '../nfs3/types.js';
import { RpcServer } from '../rpc/server.js';
import { startEmbeddedServer, type EmbeddedServer } from '../server/embedded-server.js';
import { MAX_MOUNT_ENTRIES, mountStatusOf } from '../server/mount-service.js';
import { ROOT_VID, StateStore } from '../state/store.js';
import { systemClock, type Clock, type Random, type Timer } from '../../lib/clock.js';
import { cryptoRandom } from '../../lib/random.js';
import { Backend } from './backend.js';
import { ProxyCore } from './core.js';
import { ProxyStartError, statusOf } from './errors.js';
import { FileIo } from './file-io.js';
import { SmallFileAhead, type SmallFileAheadStats } from './small-file-ahead.js';
import { NativeMemory } from './native-memory.js';
import { ProxyHandlers } from './handlers.js';
import { Listings } from './listing.js';
import { DEFAULT_POOL_BUFFERS, MainReader, REPLY_HEADER_ROOM_BYTES } from './main-reader.js';
import { BufferPool } from '../rpc/buffer-pool.js';
import { hex } from '../state/store.js';
import { BootTraceRecorder } from './boot-trace.js';
import { TracePrefetcher, type TracePathRun } from './trace-prefetch.js';
import { rootCred } from '../rpc/message.js';
import { SpliceFetcher, nativeFileSender } from './splice-fetcher.js';
import type { Nfs3Caller } from './backend.js';
import { openLocalShadow } from './local-shadow.js';
import { ShadowAttrs } from './shadow-attrs.js';
import { ReplicatedMain, type BlockPeers, type ReplicaEvent, type ReplicaSource, type ReplicaVerifier } from './replicated-main.js';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { makeDirectory } from '../../lib/make-directory.js';
import { DIR_PREFERRED_BYTES, MAX_IO_BYTES_TCP } from '../nfs3/fsinfo.js';

export interface NfsExportSpec {
  host: string;
  exportPath: string;
  nfsPort?: number;
  mountPort?: number;
  /** Portmapper port when nfsPort/mountPort are not given (default 111). */
  portmapPort?: number;
}

/** A main that is any one of several replicas of one tree (an image version): see replicated-main.ts. */
export interface ReplicatedMainSpec {
  source: ReplicaSource;
  /** Checks every block and attribute from a server against the tree's manifest. */
  verifier?: ReplicaVerifier;
  /** Other mounts of the tree asked for blocks before the server (needs the verifier). */
  peers?: BlockPeers;
  /** Identity of the tree for the state store and the block cache (e.g. `image:APP@VERSION:DIGEST`). */
  id: string;
  stallMs?: number;
  noServerTimeoutMs?: number;
  onEvent?: (e: ReplicaEvent) => void;
}

export interface RowfsProxyOptions {
  /** The read-only main export: one server, or replicas of one tree. */
  main: NfsExportSpec | ReplicatedMainSpec;
  /**
   * Where writes go: any NFSv3 server's export (e.g. ganesha), or a local directory that the proxy
   * serves with the embedded NFSv3 server on loopback.
   */
  shadow: NfsExportSpec | { dir: string };
  /** LMDB state (handles, bitmaps, whiteouts); keep it to keep client handles valid across restarts. */
  stateDir: string;
  /** Block cache root; a subdirectory per main export. Default `<stateDir>/cache`; null disables. */
  cacheDir?: string | null;
  /** Address and ports to serve on (0 = any free port); MOUNT shares the NFS port unless mountPort is set. */
  listenHost?: string;
  nfsPort?: number;
  mountPort?: number;
  /** Path clients MNT; default the main export's path ("/" is accepted too). */
  exportPath?: string;
  /** Block size of new state stores (bytes). */
  blockSizeBytes?: number;
  /**
   * Largest READ/WRITE offered to clients (FSINFO rtmax/rtpref/wtmax), at most the backends' and
   * 1 MiB (the default). The Linux client reads ahead up to 15 x its rsize, so a smaller value
   * makes a cold client fetch less of each file it touches from main.
   */
  clientIoBytes?: number;
  /**
   * Per-file READ tallies in the counters (bytes clients read, bytes fetched from main) for up to
   * this many main files; default none (the counters file is rewritten every second).
   */
  fileCounters?: number;
  /** Counters JSON file, rewritten every `countersIntervalMs`; default `<stateDir>/counters.json`. */
  countersFile?: string;
  countersIntervalMs?: number;
  /** Serve GET /stats (JSON counters) on 127.0.0.1:controlPort when set (0 = any port). */
  controlPort?: number;
  /**
   * Pooled buffers for main READ replies, cache reads and clients' WRITE arguments (each the main
   * READ size plus 4 KiB): the
   * payload memory the proxy keeps for data in flight (default 24, i.e. about 24 MiB). Past it,
   * data in flight falls back to ordinary heap buffers (counted as pool misses).
   */
  poolBuffers?: number;
  /** Main-only nodes whose attributes are kept (default 16,384; smaller in tests of what is forgotten). */
  mainAttrEntries?: number;
  /**
   * A local shadow directory (`shadow: { dir }`) is called in-process (default true); false serves
   * it with the embedded NFSv3 server on loopback and goes through RPC (the old way, for comparison).
   */
  inProcessShadow?: boolean;
  /** Deadline of one call to main or shadow, retransmissions included (ms). */
  backendTimeoutMs?: number;
  /**
   * Cold reads spliced from main's socket into the block cache by the native addon when it is
   * built (default true); false = the JS path (RPC client into pooled buffers, then a cache write).
   */
  splice?: boolean;
  clock?: Clock;
  /** The counters to count into (default: new ones); an image mount shares them with its peer fetcher. */
  counters?: Counters;
  /** The write verifier's boot half (default: crypto). */
  random?: Random;
  /** Told about internal errors (answered SERVERFAULT). */
  onFault?: (what: string, err: unknown) => void;
  /**
   * Hand memory glibc keeps back to the kernel (native-memory.ts; default false). Its settings are
   * the whole process's and slow other code that churns large Buffers in it: only for a process
   * that is this proxy alone (`overlay rowfs`), not image mounts or the node.
   */
  nativeMemory?: boolean;
  /** Record the order in which clients first read main blocks (see `bootTrace`). */
  recordBootTrace?: boolean;
  /**
   * Fetch a listed main directory's next small files ahead of a client reading them one after
   * another in listing or name order (small-file-ahead.ts); default true. Only with one main
   * server and a block cache: an image mount (replicas, often over a wide area) relies on its boot
   * trace instead and fetches nothing on a guess.
   */
  smallFileAhead?: boolean;
}

const DEFAULT_BACKEND_TIMEOUT_MS = 15_000;
const START_TIMEOUT_MS = 5_000;
/**
 * Largest READ the splice fetcher sends to main (its data never sits in the proxy's memory). A
 * reader waits for the whole READ holding its blocks, so smaller READs answer sooner: 1 MiB beat
 * 4 MiB in every alternating bench pair (docs/rowfs.md, "Performance work 4").
 */
const SPLICE_MAX_READ_BYTES = 1024 * 1024;
/** Splice fetcher connections to main (READs in flight at once). */
const SPLICE_CONNECTIONS = 4;

export class RowfsProxy {
  readonly counters: Counters;
  nfsPort = 0;
  mountPort = 0;
  controlPort: number | undefined;
  private readonly rpcServers: RpcServer[] = [];
  private control: http.Server | undefined;
  private timer: Timer | undefined;
  private readonly mounts: MountEntry[] = [];
  private exports: OpenedExport[] = [];
  private store: StateStore | undefined;
  private cache: BlockCache | undefined;
  private closed = false;
  private embedded: EmbeddedServer | undefined;
  /** Releases the in-process local shadow's descriptors (local-shadow.ts). */
  private closeLocalShadow: (() => Promise<void>) | undefined;
  private mainReader: MainReader | undefined;
  private fetcher: SpliceFetcher | undefined;
  private replicated: ReplicatedMain | undefined;
  private countersWrite: Promise<void> | undefined;
  private core: ProxyCore | undefined;
  /** The order in which clients first read main blocks, when recordBootTrace is set. */
  readonly bootTrace: BootTraceRecorder | undefined;
  private prefetcher: TracePrefetcher | undefined;
  /** Trims the process's malloc heaps while clients are active (when the addon is built). */
  private nativeMemory: NativeMemory | undefined;
  /** Fetches listed directories' small files ahead of in-order readers (one main server only). */
  private ahead: SmallFileAhead | undefined;

  private constructor(private readonly o: RowfsProxyOptions) {
    this.counters = o.counters ?? new Counters();
    this.bootTrace = o.recordBootTrace ? new BootTraceRecorder() : undefined;
  }

  /**
   * Fetches the blocks of a boot trace into the cache in its order, ahead of the client (see
   * trace-prefetch.ts); at most one prefetch per proxy. Resolves once it has stopped.
   */
  prefetchTrace(runs: TracePathRun[], opts: { concurrency?: number; maxAheadBytes?: number } = {}): Promise<void> {
    const core = this.core;
    const reader = this.mainReader;
    if (!core || !reader || !this.cache || this.prefetcher || this.closed) return Promise.resolve();
    this.prefetcher = new TracePrefetcher({
      runs,
      ...opts,
      blockSize: this.cache.blockSize,
      counters: this.counters,
      clock: this.o.clock,
      keyOf: hex,
      fetch: (fh, first, last) => reader.prefetch(fh, first, last),
      resolve: async (path) => {
        let n = core.node(ROOT_VID);
        for (const name of path.split('/')) {
          const next = await core.resolve(n, name);
          if (!next) return undefined;
          n = next;
        }
        return n.type === Ftype3.REG && n.main && !n.shadow ? n.main : undefined;
      },
    });
    return this.prefetcher.done;
  }

  /** The block cache of main blocks (every one checked against the manifest on image mounts), if any. */
  get blockCache(): BlockCache | undefined {
    return this.cache;
  }

  static async start(o: RowfsProxyOptions): Promise<RowfsProxy> {
    const p = new RowfsProxy(o);
    try {
      await p.init();
    } catch (e) {
      await p.stop();
      throw e;
    }
    return p;
  }

  /** Main data held right now: prefetch and cache-write bytes, and the buffer pool's counters. */
  payloadMemory() {
    return this.mainReader?.memory();
  }

  /** Small files fetched ahead of in-order readers (undefined when that is off). */
  get smallFileAheadStats(): SmallFileAheadStats | undefined {
    return this.ahead ? { ...this.ahead.stats } : undefined;
  }

  /** READ replies whose data went to clients by sendfile (native path). */
  get fileReplies(): number {
    return this.rpcServers[0]?.stats.fileReplies ?? 0;
  }

  /** Where the counters JSON is written. */
  get countersFile(): string {
    return this.o.countersFile ?? join(this.o.stateDir, 'counters.json');
  }

  private async init(): Promise<void> {
    const o = this.o;
    const timeoutMs = o.backendTimeoutMs ?? DEFAULT_BACKEND_TIMEOUT_MS;
    const single = 'host' in o.main ? o.main : undefined;
    const main = single ? await this.connect('main', single, timeoutMs) : undefined;
    // A local shadow directory is called in-process (local-shadow.ts); with inProcessShadow false it
    // is served by the embedded server on loopback as before (for comparison).
    let shadowParts: { caller: Nfs3Caller; root: Uint8Array; scanEdges?: () => number };
    if ('dir' in o.shadow && o.inProcessShadow !== false) {
      makeDirectory(o.shadow.dir);
      const local = await openLocalShadow(o.shadow.dir);
      this.closeLocalShadow = local.close;
      shadowParts = local;
    } else {
      let shadowSpec: NfsExportSpec;
      if ('dir' in o.shadow) {
        makeDirectory(o.shadow.dir);
        this.embedded = await startEmbeddedServer({ exportDir: o.shadow.dir, host: '127.0.0.1', nfsPort: 0, mountPort: 0 });
        shadowSpec = { host: '127.0.0.1', exportPath: this.embedded.exportPath, nfsPort: this.embedded.nfsPort, mountPort: this.embedded.mountPort };
      } else {
        shadowSpec = o.shadow;
      }
      const shadow = await this.connect('shadow', shadowSpec, timeoutMs);
      shadowParts = { caller: shadow.nfs, root: shadow.root };
    }
    const mainId = single ? `${single.host}:${single.exportPath}` : (o.main as ReplicatedMainSpec).id;
    this.store = await StateStore.open(o.stateDir, { blockSizeBytes: o.blockSizeBytes, mainId });
    const bs = this.store.blockSize;
    if (o.cacheDir !== null) {
      const imageId = createHash('sha256').update(mainId).digest('hex').slice(0, 16);
      this.cache = BlockCache.open(join(o.cacheDir ?? join(o.stateDir, 'cache'), imageId), bs, o.clock ?? systemClock);
    }
    const counters = this.counters;
    if (o.fileCounters) counters.trackFiles(o.fileCounters);
    const mainB = main ? new Backend('main', main.nfs, main.root, counters) : await this.openReplicated(o.main as ReplicatedMainSpec);
    // A local shadow directory called in-process is changed only through this proxy, and tells when
    // it reads directories on its own: its attributes can be remembered.
    const scanEdges = shadowParts.scanEdges;
    const known = scanEdges ? new ShadowAttrs({ scanEdges, onHit: () => counters.knownShadowAttrs++ }) : undefined;
    const shadowB = new Backend('shadow', shadowParts.caller, shadowParts.root, counters, known);
    const [mInfo, sInfo] = await Promise.all([mainB.ok('FSINFO', { fsroot: mainB.root }), shadowB.ok('FSINFO', { fsroot: shadowB.root })]);
    const mainRead = Math.min(mInfo.rtmax || MAX_IO_BYTES_TCP, MAX_IO_BYTES_TCP);
    const shadowIo = Math.min(sInfo.rtmax || MAX_IO_BYTES_TCP, sInfo.wtmax || MAX_IO_BYTES_TCP, MAX_IO_BYTES_TCP);
    const core = new ProxyCore({ store: this.store, main: mainB, shadow: shadowB, counters, tree: this.replicated?.tree(), mainAttrEntries: o.mainAttrEntries });
    await core.initRoot(mainB.root, shadowB.root);
    const listings = new Listings(core);
    const pool = new BufferPool(mainRead + REPLY_HEADER_ROOM_BYTES, o.poolBuffers ?? DEFAULT_POOL_BUFFERS);
    // Replicas: every block is checked against the manifest and may come from another server after
    // a failover, so cold reads take the JS path (the splice path fills the cache without looking).
    if (this.cache && o.splice !== false && single && main) {
      const host = isIP(single.host) ? single.host : (await lookup(single.host)).address;
      this.fetcher = SpliceFetcher.open({ host, port: main.nfsPort, cred: rootCred(), connections: SPLICE_CONNECTIONS, timeoutMs });
    }
    const spliceRead = Math.max(mainRead, Math.min(mInfo.rtmax || mainRead, SPLICE_MAX_READ_BYTES));
    this.mainReader = new MainReader(mainB, this.cache, counters, bs, mainRead, pool, this.fetcher, spliceRead);
    this.mainReader.onClientRead = (key, first, last) => {
      this.bootTrace?.note(key, first, last);
      this.prefetcher?.clientRead(key, first, last);
    };
    this.core = core;
    const reader = this.mainReader;
    if (single && this.cache && o.smallFileAhead !== false) {
      this.ahead = new SmallFileAhead(bs, async (vid) => {
        const n = this.store?.getNode(vid);
        if (n?.main && !n.shadow) await reader.prefetch(n.main, 0, 0);
      });
      core.onMainFilesListed = (dirVid, files) => this.ahead!.noteDirectory(dirVid, files);
      const dirChanged = core.onDirChanged;
      core.onDirChanged = (vid) => {
        dirChanged(vid);
        this.ahead!.forget(vid);
      };
    }
    const io = new FileIo(core, this.mainReader, shadowIo, o.random ?? cryptoRandom, this.ahead);
    const handlers = new ProxyHandlers(core, io, listings, { maxIoBytes: Math.min(mainRead, shadowIo, o.clientIoBytes ?? MAX_IO_BYTES_TCP), dirPrefBytes: DIR_PREFERRED_BYTES });
    handlers.onFault = (proc, err) => o.onFault?.(proc, err);

    const host = o.listenHost ?? '0.0.0.0';
    // WRITE arguments from clients share the payload pool with main's READ replies.
    // Cached READ data goes to clients by sendfile (native addon) when splicing is on.
    const fileSender = this.fetcher ? nativeFileSender(timeoutMs) : undefined;
    const nfsServer = new RpcServer({ onError: (err, ctx) => o.onFault?.(`rpc proc ${ctx.proc}`, err), recordPool: pool, ...(fileSender ? { fileSender } : {}) });
    nfsServer.addProgram(nfs3Program(handlers));
    const mountHandlers = this.mountHandlers(core);
    if (o.mountPort === undefined) {
      nfsServer.addProgram(mountProgram(mountHandlers));
      this.rpcServers.push(nfsServer);
      this.nfsPort = await nfsServer.listenTcp(o.nfsPort ?? 0, host);
      this.mountPort = this.nfsPort;
    } else {
      const mountServer = new RpcServer();
      mountServer.addProgram(mountProgram(mountHandlers));
      this.rpcServers.push(nfsServer, mountServer);
      this.nfsPort = await nfsServer.listenTcp(o.nfsPort ?? 0, host);
      this.mountPort = await mountServer.listenTcp(o.mountPort, host);
    }

    makeDirectory(join(this.countersFile, '..'));
    this.writeCounters();
    const clock = o.clock ?? systemClock;
    if (o.nativeMemory) this.nativeMemory = NativeMemory.open((line) => o.onFault?.('native memory', new Error(line)));
    this.timer = clock.setInterval(() => {
      this.writeCountersSoon();
      this.nativeMemory?.tick(this.counters.total('client'));
    }, o.countersIntervalMs ?? 1000);
    if (o.controlPort !== undefined) {
      this.control = http.createServer((req, res) => {
        if (req.method === 'GET' && (req.url === '/stats' || req.url === '/')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          const spaces = Object.fromEntries(getHeapSpaceStatistics().map((sp) => [sp.space_name, sp.space_size]));
          res.end(JSON.stringify({ ...this.counters.snapshot(), smallFilesAhead: this.ahead?.stats, memory: { ...process.memoryUsage(), heapSpaces: spaces, payload: this.mainReader?.memory() } }));
        } else {
          res.writeHead(404).end();
        }
      });
      this.controlPort = await new Promise<number>((resolve, reject) => {
        this.control!.once('error', reject);
        this.control!.listen(o.controlPort, '127.0.0.1', () => resolve((this.control!.address() as { port: number }).port));
      });
    }
  }

  private async openReplicated(spec: ReplicatedMainSpec): Promise<ReplicatedMain> {
    try {
      this.replicated = await ReplicatedMain.open({
        source: spec.source,
        verifier: spec.verifier,
        peers: spec.peers,
        paths: this.store!.sideTable('x-main-paths'),
        counters: this.counters,
        clock: this.o.clock,
        stallMs: spec.stallMs,
        noServerTimeoutMs: spec.noServerTimeoutMs,
        onEvent: spec.onEvent,
      });
    } catch (e) {
      throw new ProxyStartError('unreachable', `no server of ${spec.id} could be reached: ${(e as Error).message}`);
    }
    return this.replicated;
  }

  /** The replica in use and the servers found bad (image mounts only). */
  replicaState() {
    return this.replicated?.state();
  }

  private async connect(role: 'main' | 'shadow', spec: NfsExportSpec, timeoutMs: number): Promise<OpenedExport> {
    const where = `${spec.host}:${spec.exportPath}`;
    let ex: OpenedExport;
    try {
      ex = await openExport({ ...spec, timeoutMs: START_TIMEOUT_MS, waitForServer: false });
    } catch (e) {
      const why = e instanceof MountError ? e.message : (e as Error).message;
      throw new ProxyStartError('refused', `${role} server ${where} is unreachable or refused the mount: ${why}`);
    }
    // The session clients: generous deadlines, and they wait through a server restart.
    await ex.close();
    const again = await openExport({ ...spec, nfsPort: ex.nfsPort, mountPort: ex.mountPort, timeoutMs, waitForServer: true }).catch((e: Error) => {
      throw new ProxyStartError('unreachable', `${role} server ${where}: ${e.message}`);
    });
    this.exports.push(again);
    const ping = await again.nfs.getattr({ object: again.root }).catch((e: Error) => {
      throw new ProxyStartError('not-nfs3', `${role} server ${where} does not answer NFSv3: ${e.message}`);
    });
    if (ping.status !== Nfs3Status.OK) throw new ProxyStartError('not-nfs3', `${role} server ${where}: GETATTR of the export root failed (${Nfs3Status[ping.status]})`);
    return again;
  }

  private mountHandlers(core: ProxyCore): MountHandlers {
    const exportPath = normalisePath(this.o.exportPath ?? ('exportPath' in this.o.main ? this.o.main.exportPath : '/'));
    return {
      mnt: async (dirpath, ctx) => {
        this.counters.call('client', 'MNT');
        const p = normalisePath(dirpath);
        // The export itself, or a directory inside it (clients such as libnfs mount subdirectories).
        let rest: string[];
        if (p === exportPath || p === '/') rest = [];
        else if (p.startsWith(exportPath === '/' ? '/' : `${exportPath}/`)) rest = p.slice(exportPath.length).split('/').filter(Boolean);
        else return { status: MountStatus.NOENT };
        let n = core.node(ROOT_VID);
        try {
          for (const name of rest) {
            const next = await core.resolve(n, name);
            if (!next) return { status: MountStatus.NOENT };
            n = next;
          }
        } catch (e) {
          return { status: mountStatusOf(statusOf(e)) };
        }
        if (n.type !== Ftype3.DIR) return { status: MountStatus.NOTDIR };
        if (this.mounts.length < MAX_MOUNT_ENTRIES) this.mounts.push({ hostname: ctx.remoteAddress, directory: dirpath });
        return { status: MountStatus.OK, fhandle: core.handleOf(n.vid), authFlavors: [1, 0] };
      },
      dump: () => [...this.mounts],
      umnt: (dirpath, ctx) => {
        this.counters.call('client', 'UMNT');
        const i = this.mounts.findIndex((m) => m.hostname === ctx.remoteAddress && m.directory === dirpath);
        if (i >= 0) this.mounts.splice(i, 1);
      },
      umntall: (ctx) => {
        for (let i = this.mounts.length - 1; i >= 0; i--) if (this.mounts[i]!.hostname === ctx.remoteAddress) this.mounts.splice(i, 1);
      },
      export: () => [{ dir: exportPath, groups: [] }],
    };
  }

  /**
   * The counters file, written off the event loop: a synchronous rename over the old file blocked
   * the proxy's thread up to tens of ms under write load (ext4 flushes a file renamed over another),
   * 1.3 s in a 115 s kernel-client run. A write still running when the next is due is skipped.
   */
  private writeCountersSoon(): void {
    if (this.countersWrite) return;
    const tmp = `${this.countersFile}.tmp`;
    this.countersWrite = writeFile(tmp, this.countersJson())
      .then(() => rename(tmp, this.countersFile))
      .catch(() => undefined) // informational: a full disk must not stop the proxy
      .finally(() => (this.countersWrite = undefined));
  }

  /** The counters and where the process's memory is (V8 heap, buffers, the payload pool), as the counters file holds them. */
  private countersJson(): string {
    const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
    const pool = this.mainReader?.pool;
    const memory = { rss, heapTotal, heapUsed, external, arrayBuffers, ...(pool ? { poolBytes: pool.stats.created * pool.bufferBytes } : {}) };
    return JSON.stringify({ ...this.counters.snapshot(), memory }, null, 2);
  }

  /** The counters file now (start and stop). */
  private writeCounters(): void {
    try {
      const tmp = `${this.countersFile}.tmp`;
      writeFileSync(tmp, this.countersJson());
      renameSync(tmp, this.countersFile);
    } catch {
      // The counters file is informational; a full disk must not stop the proxy.
    }
  }

  /** Stops serving, writes the counters a last time, closes backends and state. Idempotent. */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.prefetcher?.stop('the mount stopped');
    this.timer?.cancel();
    for (const s of this.rpcServers) await s.close();
    if (this.control) await new Promise<void>((r) => this.control!.close(() => r()));
    await this.countersWrite;
    if (this.store) this.writeCounters();
    for (const ex of this.exports) await ex.close().catch(() => undefined);
    await this.replicated?.close();
    await this.embedded?.stop().catch(() => undefined);
    await this.closeLocalShadow?.().catch(() => undefined);
    await this.cache?.close().catch(() => undefined);
    this.fetcher?.close();
    await this.store?.close().catch(() => undefined);
  }
}

function normalisePath(p: string): string {
  const s = ('/' + p).replace(/\/+/g, '/');
  return s.length > 1 ? s.replace(/\/$/, '') : s;
}
