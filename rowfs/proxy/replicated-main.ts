// The proxy's main server when it is any one of several replicas of one read-only tree (an image
// version served by several nodes): failover from a dead or lying server to another, with no
// client error. Replicas export the same tree under different handles, so the proxy never sees a
// server's handles: it gets *path handles* ("PH" + the first 20 bytes of SHA-256 of the path in the
// export), kept in a side table of its state store (so they outlive restarts and server changes),
// and this class maps them to the current server's handles by LOOKUP along the path (cached).
//
// Failure: a call that fails in transport, a server that stops replying while calls are pending
// (no reply for a few times its usual gap between replies), a STALE/BADHANDLE/IO answer, or data that does not match the manifest
// (a `ReplicaVerifier`) retires the server; calls under way wait for the next server and are
// retried there. A server whose data did not match is never used again in this session.
import { createHash } from 'node:crypto';
import type { Nfs3ArgsOf, Nfs3ProcedureName, Nfs3ResOf } from '../nfs3/procedures.js';
import { Ftype3, Nfs3Status, type Fattr3, type FileHandle } from '../nfs3/types.js';
import { RpcTransportError } from '../rpc/errors.js';
import type { RpcCallOptions } from '../rpc/client.js';
import type { OpaqueAuth } from '../rpc/message.js';
import type { SideTable } from '../state/store.js';
import type { Counters } from '../counters.js';
import { systemClock, type Clock, type Timer } from '../../lib/clock.js';
import { Backend } from './backend.js';
import { isPlainComponent } from '../nfs3/names.js';
import { StatusError } from './errors.js';
import { CodedError } from '../../lib/coded-error.js';
import { Prober, type Connection } from './replica-prober.js';
import { readViaPeers, type BlockPeers } from './peer-read.js';
import { childPath, type MainTree } from './main-tree.js';

export type { BlockPeers } from './peer-read.js';

/** One server of the replicated tree. `id` is stable (e.g. its ring address); `label` is for people. */
export interface ReplicaServer {
  id: string;
  label: string;
  host: string;
  exportPath: string;
  nfsPort: number;
  mountPort: number;
}

export interface ReplicaSource {
  /** The tree's servers, best first; asked again after every failure (servers come and go). */
  servers(): Promise<ReplicaServer[]>;
}

/** What the tree must contain (the image's manifest); paths are relative, '/'-separated, '' = root. */
export interface ReplicaVerifier {
  readonly blockSize: number;
  /** Type and size of the entry at `path`, or undefined when the tree has no such entry. */
  entry(path: string): { type: 'dir' | 'file' | 'symlink' | 'other'; size: number; target?: string } | undefined;
  /** Names in the directory at `path` (undefined: not a directory). With it the proxy answers names from the verifier (main-tree.ts). */
  names?(path: string): string[] | undefined;
  childCount?(path: string): number | undefined;
  /** True when `data` is exactly block `index` of the regular file at `path`. */
  verifyBlock(path: string, index: number, data: Uint8Array): boolean;
}

export type ReplicaEvent =
  | { kind: 'connected'; server: ReplicaServer }
  | { kind: 'failed'; server: ReplicaServer; why: string }
  | { kind: 'bad'; server: ReplicaServer; why: string }
  | { kind: 'no-server'; why: string };

export interface ReplicatedMainOptions {
  source: ReplicaSource;
  /** Side table for path ids (StateStore.sideTable). */
  paths: SideTable;
  counters: Counters;
  verifier?: ReplicaVerifier;
  /** Asked for READ blocks before the server (with a verifier only: a peer's block must be checkable). */
  peers?: BlockPeers;
  clock?: Clock;
  /**
   * Longest a server with calls pending may send no reply before it is taken for dead (default
   * 5,000 ms). The threshold adapts below that: 4 x the longest recent gap between replies while
   * busy, at least `minStallMs` (default 1,000 ms). A fast link fails over in about a second; a
   * slow one, whose 1 MiB READs take seconds, is not abandoned for being slow.
   */
  stallMs?: number;
  minStallMs?: number;
  /** Deadline of one call on one server (default 10,000 ms). */
  callTimeoutMs?: number;
  /** Deadline of reaching one server (MNT + first call; default 3,000 ms). */
  connectTimeoutMs?: number;
  /** How long a call waits for some server to be reachable before the client is told JUKEBOX (default 60,000 ms). */
  noServerTimeoutMs?: number;
  /** How often the source is asked for the current servers while serving (default 30,000 ms). */
  serversRefreshMs?: number;
  /** A server that failed (not lied) is tried again after this long (default 30,000 ms). */
  retryFailedAfterMs?: number;
  onEvent?: (e: ReplicaEvent) => void;
}

const TAG = [0x50, 0x48]; // "PH"
const ID_BYTES = 20;
const HANDLE_BYTES = TAG.length + ID_BYTES;
/** Path ids remembered in memory (the side table holds all). */
const MAX_PATHS_IN_MEMORY = 65_536;
/** Server handles remembered per connection. */
const MAX_SERVER_HANDLES = 65_536;
const WATCHDOG_MS = 250;
/** Procedures the proxy sends to main (read-only), and where their handle argument is. */
const HANDLE_ARG: Partial<Record<Nfs3ProcedureName, (a: never) => FileHandle>> = {
  GETATTR: (a: Nfs3ArgsOf<'GETATTR'>) => a.object,
  ACCESS: (a: Nfs3ArgsOf<'ACCESS'>) => a.object,
  READLINK: (a: Nfs3ArgsOf<'READLINK'>) => a.symlink,
  READ: (a: Nfs3ArgsOf<'READ'>) => a.file,
  LOOKUP: (a: Nfs3ArgsOf<'LOOKUP'>) => a.what.dir,
  READDIR: (a: Nfs3ArgsOf<'READDIR'>) => a.dir,
  READDIRPLUS: (a: Nfs3ArgsOf<'READDIRPLUS'>) => a.dir,
  FSSTAT: (a: Nfs3ArgsOf<'FSSTAT'>) => a.fsroot,
  FSINFO: (a: Nfs3ArgsOf<'FSINFO'>) => a.fsroot,
  PATHCONF: (a: Nfs3ArgsOf<'PATHCONF'>) => a.object,
};

/** The server failed us (transport, stall, stale handles): retry elsewhere. */
class ServerFault extends CodedError<'failed' | 'lied'> {
  constructor(
    why: string,
    readonly lied = false,
  ) {
    super(lied ? 'lied' : 'failed', why);
  }
}


export class ReplicatedMain extends Backend {
  private conn: Connection | undefined;
  private connecting: Promise<Connection> | undefined;
  private generation = 0;
  private closed = false;
  private readonly paths = new Map<string, string>();
  private readonly failedAt = new Map<string, number>();
  private readonly bad = new Set<string>();
  private readonly clock: Clock;
  private readonly watchdog: Timer;
  private readonly serverRefresh: Timer;

  private constructor(
    private readonly o: ReplicatedMainOptions,
    first: Connection,
    private readonly prober: Prober,
  ) {
    super('main', first.ex.nfs, pathHandle(''), o.counters);
    this.clock = o.clock ?? systemClock;
    this.conn = first;
    this.o.counters.fromReplica(first.server.label, 0);
    this.watchdog = this.clock.setInterval(() => this.checkStall(), WATCHDOG_MS);
    this.serverRefresh = this.clock.setInterval(() => void this.prober.refresh().catch(() => undefined), o.serversRefreshMs ?? 30_000);
  }

  /** Connects to the first reachable server (ProxyStartError-worthy failures reject). */
  static async open(o: ReplicatedMainOptions): Promise<ReplicatedMain> {
    const probe = new Prober(o);
    const first = await probe.connectAny(new Set(), new Map(), 1, o.noServerTimeoutMs ?? 60_000);
    const m = new ReplicatedMain(o, first, probe);
    o.onEvent?.({ kind: 'connected', server: first.server });
    return m;
  }

  /** The server in use, servers found bad, and the current connection generation (for status). */
  state(): { current: ReplicaServer | undefined; bad: string[]; generation: number } {
    return { current: this.conn?.server, bad: [...this.bad], generation: this.generation };
  }

  override async call<N extends Nfs3ProcedureName>(name: N, args: Nfs3ArgsOf<N>, cred?: OpaqueAuth, opts?: RpcCallOptions): Promise<Nfs3ResOf<N>> {
    this.o.counters.call('main', name);
    const handleOf = HANDLE_ARG[name] as ((a: Nfs3ArgsOf<N>) => FileHandle) | undefined;
    if (!handleOf) throw new StatusError(Nfs3Status.ROFS, `${name} is not sent to a read-only replica`);
    const path = await this.pathOf(handleOf(args));
    if (name === 'READ' && this.o.peers && this.o.verifier) {
      const file = handleOf(args).subarray(TAG.length, HANDLE_BYTES);
      const server = (a: Nfs3ArgsOf<'READ'>, o?: RpcCallOptions) => this.onServers('READ', a, path, cred, o);
      const r = await readViaPeers({ blockSize: this.o.verifier.blockSize, entry: this.o.verifier.entry(path), peers: this.o.peers, server }, path, file, args as Nfs3ArgsOf<'READ'>, opts);
      if (r) return r as Nfs3ResOf<N>;
    }
    return this.onServers(name, args, path, cred, opts);
  }

  /** The call on the current server, failing over until one answers. */
  private async onServers<N extends Nfs3ProcedureName>(name: N, args: Nfs3ArgsOf<N>, path: string, cred?: OpaqueAuth, opts?: RpcCallOptions): Promise<Nfs3ResOf<N>> {
    for (;;) {
      const conn = await this.current();
      try {
        return await this.once(conn, name, args, path, cred, opts);
      } catch (e) {
        const fault = asFault(e);
        if (!fault) throw e;
        this.retire(conn, fault);
      }
    }
  }

  /** The verifier's tree, for the proxy to answer names, types and targets without a server (main-tree.ts). */
  tree(): MainTree | undefined {
    const v = this.o.verifier;
    if (!v?.names) return undefined;
    return {
      pathOf: (fh) => this.knownPath(fh),
      entry: (path) => v.entry(path),
      names: (path) => v.names!(path),
      childCount: (path) => (v.childCount ? v.childCount(path) : v.names!(path)?.length),
      handles: async (paths) => {
        await this.store(paths);
        return paths.map(pathHandle);
      },
    };
  }

  /** Stops the watchdog and closes the connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watchdog.cancel();
    this.serverRefresh.cancel();
    const c = this.conn;
    this.conn = undefined;
    await c?.ex.close().catch(() => undefined);
  }

  // ---- one call on one server ----

  private async once<N extends Nfs3ProcedureName>(conn: Connection, name: N, args: Nfs3ArgsOf<N>, path: string, cred?: OpaqueAuth, opts?: RpcCallOptions): Promise<Nfs3ResOf<N>> {
    const real = await this.serverHandle(conn, path);
    const a = withHandle(name, args, real);
    const res = await this.send(conn, name, a, cred, opts);
    const status = (res as { status: Nfs3Status }).status;
    if (status === Nfs3Status.STALE || status === Nfs3Status.BADHANDLE || status === Nfs3Status.IO || status === Nfs3Status.SERVERFAULT) {
      throw new ServerFault(`${name} ${path || '/'}: NFS3ERR_${Nfs3Status[status]}`);
    }
    if (status !== Nfs3Status.OK) {
      if (name === 'LOOKUP' && status === Nfs3Status.NOENT) this.expectAbsent(childPath(path, (args as Nfs3ArgsOf<'LOOKUP'>).what.name));
      return res;
    }
    switch (name) {
      case 'LOOKUP': {
        const r = res as Extract<Nfs3ResOf<'LOOKUP'>, { status: Nfs3Status.OK }>;
        const child = childPath(path, (args as Nfs3ArgsOf<'LOOKUP'>).what.name);
        this.checkAttrs(child, r.objAttributes);
        remember(conn, child, r.object);
        await this.store([child]);
        return { ...r, object: pathHandle(child) } as Nfs3ResOf<N>;
      }
      case 'READDIRPLUS': {
        const r = res as Extract<Nfs3ResOf<'READDIRPLUS'>, { status: Nfs3Status.OK }>;
        const named: string[] = [];
        const entries = r.entries.flatMap((e) => {
          if (e.name === '.' || e.name === '..') return [{ ...e, nameHandle: undefined }];
          if (!isPlainComponent(e.name)) return []; // a server's name that is not one component is never passed on
          const child = childPath(path, e.name);
          this.checkAttrs(child, e.nameAttributes);
          if (!e.nameHandle) return [e];
          remember(conn, child, e.nameHandle);
          named.push(child);
          return [{ ...e, nameHandle: pathHandle(child) }];
        });
        await this.store(named);
        return { ...r, entries } as Nfs3ResOf<N>;
      }
      case 'GETATTR':
        this.checkAttrs(path, (res as Extract<Nfs3ResOf<'GETATTR'>, { status: Nfs3Status.OK }>).objAttributes);
        return res;
      case 'READLINK': {
        const want = this.o.verifier?.entry(path);
        const got = (res as Extract<Nfs3ResOf<'READLINK'>, { status: Nfs3Status.OK }>).data;
        if (want && want.target !== undefined && want.target !== got) throw new ServerFault(`${path}: symlink target differs from the manifest`, true);
        return res;
      }
      case 'READ':
        return (await this.verifiedRead(conn, path, real, args as Nfs3ArgsOf<'READ'>, res as Nfs3ResOf<'READ'>, cred)) as Nfs3ResOf<N>;
      default:
        return res;
    }
  }

  /** One RPC on `conn`, with stall accounting; transport trouble becomes a ServerFault. */
  private async send<N extends Nfs3ProcedureName>(conn: Connection, name: N, args: Nfs3ArgsOf<N>, cred?: OpaqueAuth, opts?: RpcCallOptions): Promise<Nfs3ResOf<N>> {
    if (conn.pending === 0) conn.lastProgressAt = this.clock.now();
    conn.pending++;
    try {
      const o = { timeoutMs: this.o.callTimeoutMs ?? 10_000, ...opts, ...(cred ? { cred } : {}) };
      return await conn.ex.nfs.call(name, args, o);
    } catch (e) {
      if (e instanceof RpcTransportError) throw new ServerFault(`${name}: ${e.message}`);
      throw e;
    } finally {
      const now = this.clock.now();
      conn.busyGapMs = Math.max(now - conn.lastProgressAt, conn.busyGapMs * 0.99);
      conn.pending--;
      conn.lastProgressAt = now;
    }
  }

  /**
   * A READ checked block by block against the manifest: only whole blocks (or the file's tail) that
   * match their hash are returned. Main readers ask block-aligned ranges; a reply that starts or
   * ends inside a block (a short reply, or an unaligned request) is re-read as whole blocks.
   */
  private async verifiedRead(conn: Connection, path: string, real: FileHandle, args: Nfs3ArgsOf<'READ'>, res: Nfs3ResOf<'READ'>, cred?: OpaqueAuth): Promise<Nfs3ResOf<'READ'>> {
    if (res.status !== Nfs3Status.OK) return res;
    const v = this.o.verifier;
    const label = conn.server.label;
    if (!v) {
      this.o.counters.fromReplica(label, res.data.length);
      return res;
    }
    const want = v.entry(path);
    if (!want || want.type !== 'file') throw new ServerFault(`${path}: READ of something the manifest has no file for`, true);
    const bs = v.blockSize;
    const size = want.size;
    const offset = Number(args.offset);
    const lie = (why: string) => {
      this.o.counters.replicas!.verifyFailures++;
      return new ServerFault(`${path}: ${why}`, true);
    };
    if (offset >= size) {
      if (res.data.length > 0) throw lie(`server returned bytes past the manifest's end of file (${size})`);
      return { ...res, eof: true };
    }
    const whole = (at: number) => at % bs === 0 || at === size;
    let from = offset;
    let data: Uint8Array = res.data;
    if (from % bs !== 0 || !whole(from + data.length) || data.length === 0) {
      from = Math.floor(offset / bs) * bs;
      const to = Math.min(Math.ceil(Math.min(offset + args.count, size) / bs) * bs, size);
      data = await this.readRange(conn, real, from, to - from, cred);
      if (from + data.length !== to) throw lie(`server ended the file at ${from + data.length}, the manifest at ${size}`);
    }
    if (from + data.length > size) throw lie(`server has more than the manifest's ${size} bytes`);
    for (let at = 0; at < data.length; at += bs) {
      const index = (from + at) / bs;
      if (!v.verifyBlock(path, index, data.subarray(at, Math.min(at + bs, data.length)))) throw lie(`block ${index} does not match the manifest`);
    }
    this.o.counters.fromReplica(label, data.length);
    const slice = data.subarray(offset - from, Math.min(data.length, offset - from + args.count));
    return { ...res, count: slice.length, data: slice, eof: offset + slice.length >= size };
  }

  private async readRange(conn: Connection, real: FileHandle, offset: number, count: number, cred?: OpaqueAuth): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let got = 0;
    while (got < count) {
      const r = await this.send(conn, 'READ', { file: real, offset: BigInt(offset + got), count: count - got }, cred);
      if (r.status !== Nfs3Status.OK) throw new ServerFault(`READ: NFS3ERR_${Nfs3Status[r.status]}`);
      parts.push(r.data);
      got += r.data.length;
      if (r.eof || r.data.length === 0) break;
    }
    return Buffer.concat(parts);
  }

  /** Attributes a server gives must agree with the manifest (type, and size of files). */
  private checkAttrs(path: string, a: Fattr3 | undefined): void {
    const v = this.o.verifier;
    if (!v || !a) return;
    const want = v.entry(path);
    if (!want) throw new ServerFault(`${path}: not in the manifest`, true);
    const type = a.type === Ftype3.DIR ? 'dir' : a.type === Ftype3.REG ? 'file' : a.type === Ftype3.LNK ? 'symlink' : 'other';
    if (type !== want.type || (type === 'file' && Number(a.size) !== want.size)) {
      throw new ServerFault(`${path}: server has a ${type} of ${a.size} bytes where the manifest has a ${want.type} of ${want.size}`, true);
    }
  }

  /** A NOENT for a name the manifest has means the server's copy is incomplete. */
  private expectAbsent(path: string): void {
    if (this.o.verifier?.entry(path)) throw new ServerFault(`${path}: missing on the server but in the manifest`, true);
  }

  // ---- handles ----

  private async pathOf(h: FileHandle): Promise<string> {
    if (h.length !== HANDLE_BYTES || h[0] !== TAG[0] || h[1] !== TAG[1]) throw new StatusError(Nfs3Status.BADHANDLE, 'not a path handle');
    const p = this.knownPath(h);
    if (p === undefined) throw new StatusError(Nfs3Status.STALE, 'unknown path handle');
    return p;
  }

  /** The path behind path handle `h`, undefined when `h` is none or not recorded. */
  private knownPath(h: FileHandle): string | undefined {
    if (h.length !== HANDLE_BYTES || h[0] !== TAG[0] || h[1] !== TAG[1]) return undefined;
    const id = Buffer.from(h.buffer, h.byteOffset + TAG.length, ID_BYTES).toString('hex');
    if (id === ROOT_ID) return '';
    return this.paths.get(id) ?? this.o.paths.get(id);
  }

  /** Records path ids before their handles reach the proxy's state (same environment, same sync). */
  private async store(paths: string[]): Promise<void> {
    const fresh: Array<[string, string]> = [];
    for (const p of paths) {
      const id = pathId(p);
      if (this.paths.has(id)) continue;
      if (this.paths.size >= MAX_PATHS_IN_MEMORY) this.paths.delete(this.paths.keys().next().value as string);
      this.paths.set(id, p);
      if (this.o.paths.get(id) === undefined) fresh.push([id, p]);
    }
    await this.o.paths.putMany(fresh);
  }

  /** The current server's handle for `path`, found by LOOKUP from the nearest known ancestor. */
  private async serverHandle(conn: Connection, path: string): Promise<FileHandle> {
    const known = conn.handles.get(path);
    if (known) return known;
    const cut = path.lastIndexOf('/');
    const parent = cut < 0 ? '' : path.slice(0, cut);
    const dir = await this.serverHandle(conn, parent);
    const name = path.slice(cut + 1);
    const r = await this.send(conn, 'LOOKUP', { what: { dir, name } });
    if (r.status !== Nfs3Status.OK) throw new ServerFault(`${path}: NFS3ERR_${Nfs3Status[r.status]} on this server`, r.status === Nfs3Status.NOENT && !!this.o.verifier);
    this.checkAttrs(path, r.objAttributes);
    remember(conn, path, r.object);
    return r.object;
  }

  // ---- failover ----

  private async current(): Promise<Connection> {
    if (this.closed) throw new StatusError(Nfs3Status.IO, 'proxy closing');
    if (this.conn) return this.conn;
    this.connecting ??= this.prober
      .connectAny(this.bad, this.failedAt, this.generation + 1, this.o.noServerTimeoutMs ?? 60_000)
      .then((c) => {
        this.generation = c.generation;
        this.conn = c;
        this.o.counters.fromReplica(c.server.label, 0);
        this.o.onEvent?.({ kind: 'connected', server: c.server });
        return c;
      })
      .catch((e: Error) => {
        this.o.onEvent?.({ kind: 'no-server', why: e.message });
        throw new StatusError(Nfs3Status.JUKEBOX, e.message);
      })
      .finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  /** Stops using `conn` (once, whoever notices first); calls pending on it fail over. */
  private retire(conn: Connection, fault: ServerFault): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    const id = conn.server.id;
    if (fault.lied) {
      this.bad.add(id);
      this.o.counters.replicas!.badServers.add(conn.server.label);
      this.o.onEvent?.({ kind: 'bad', server: conn.server, why: fault.message });
    } else {
      this.failedAt.set(id, this.clock.now());
      this.o.onEvent?.({ kind: 'failed', server: conn.server, why: fault.message });
    }
    this.o.counters.replicas!.failovers++;
    // Calls pending on it fail now (and go to the next server); the UMNT may wait for a dead peer.
    conn.ex.nfs.close();
    void conn.ex.close().catch(() => undefined);
  }

  private checkStall(): void {
    const c = this.conn;
    if (!c) return;
    const stallMs = Math.min(this.o.stallMs ?? 5_000, Math.max(this.o.minStallMs ?? 1_000, Math.ceil(4 * c.busyGapMs)));
    if (c.pending > 0 && this.clock.now() - c.lastProgressAt > stallMs) {
      this.retire(c, new ServerFault(`no reply for ${stallMs} ms with ${c.pending} calls pending`));
    }
  }
}

const ROOT_ID = '0'.repeat(ID_BYTES * 2);

function pathId(path: string): string {
  return path === '' ? ROOT_ID : createHash('sha256').update(path).digest().subarray(0, ID_BYTES).toString('hex');
}

/** The proxy-side handle of `path`. */
export function pathHandle(path: string): FileHandle {
  const out = new Uint8Array(HANDLE_BYTES);
  out.set(TAG, 0);
  out.set(Buffer.from(pathId(path), 'hex'), TAG.length);
  return out;
}

/** The proxy-side handle of the path whose id (20 bytes of SHA-256 of the path) is `id`. */
export function handleOfPathId(id: Uint8Array): FileHandle {
  const out = new Uint8Array(HANDLE_BYTES);
  out.set(TAG, 0);
  out.set(id.subarray(0, ID_BYTES), TAG.length);
  return out;
}

function remember(conn: Connection, path: string, h: FileHandle): void {
  if (conn.handles.size >= MAX_SERVER_HANDLES) {
    // Keep the root; drop the oldest others (a miss costs LOOKUPs along the path, nothing more).
    const it = conn.handles.keys();
    it.next();
    conn.handles.delete(it.next().value as string);
  }
  conn.handles.set(path, new Uint8Array(h));
}

function withHandle<N extends Nfs3ProcedureName>(name: N, args: Nfs3ArgsOf<N>, h: FileHandle): Nfs3ArgsOf<N> {
  const a = args as unknown as Record<string, unknown>;
  switch (name) {
    case 'LOOKUP':
      return { ...a, what: { ...(a.what as object), dir: h } } as Nfs3ArgsOf<N>;
    case 'READLINK':
      return { ...a, symlink: h } as Nfs3ArgsOf<N>;
    case 'READ':
      return { ...a, file: h } as Nfs3ArgsOf<N>;
    case 'READDIR':
    case 'READDIRPLUS':
      return { ...a, dir: h } as Nfs3ArgsOf<N>;
    case 'FSSTAT':
    case 'FSINFO':
      return { ...a, fsroot: h } as Nfs3ArgsOf<N>;
    default:
      return { ...a, object: h } as Nfs3ArgsOf<N>;
  }
}

function asFault(e: unknown): ServerFault | undefined {
  if (e instanceof ServerFault) return e;
  if (e instanceof RpcTransportError) return new ServerFault(e.message);
  return undefined;
}
