// A mount of one image version (`overlay image mount`): a ROW-FS proxy whose main is whichever
// server of the version is best (this node, then direct links by RTT, then relayed), failing over
// to the others; every block it fetches is checked against the version's manifest. Its sharer
// record (the version's reference count) is refreshed while it runs and removed when it stops. It
// stays on its version and says so when a newer one is published.
import { createSocket } from 'node:dgram';
import { RowfsProxy } from '../../rowfs/proxy/proxy.js';
import type { ReplicaEvent, ReplicaServer } from '../../rowfs/proxy/replicated-main.js';
import { ManifestIndex } from '../../rowfs/image/manifest-index.js';
import type { ImageRegistry } from '../../rowfs/image/registry.js';
import { compareVersions } from '../../rowfs/image/names.js';
import type { Clock } from '../../lib/clock.js';
import { RefreshLoop } from './refresh-loop.js';
import { rankByPath, type LocalNode } from './local-node.js';
import { isAnnouncedPort, recordTtlOf } from './local-images.js';
import { imageExportPath } from './image-serving.js';
import { Counters } from '../../rowfs/counters.js';
import { handleOfPathId, pathHandle } from '../../rowfs/proxy/replicated-main.js';
import type { TracePathRun } from '../../rowfs/proxy/trace-prefetch.js';
import { MAX_TRACE_BLOCKS, MAX_TRACE_RUNS, type SharerRecord, type TraceRun } from '../../rowfs/image/records.js';
import { Subnet } from '../../dhcp/vip/subnet.js';
import { ipv4ToInt, isIpv4Address } from '../../lib/ipv4.js';
import { blocksOf } from '../../rowfs/image/manifest-codec.js';
import { hex } from '../../rowfs/state/store.js';
import { PeerFetcher, type PeerEndpoint } from '../../rowfs/peer/peer-fetcher.js';
import { PeerServer } from '../../rowfs/peer/peer-server.js';
import { VipOwners } from './vip-owners.js';
import type { UploadLimits } from '../../rowfs/peer/upload-budget.js';

export interface MountingOptions {
  app: string;
  version: string;
  digest: Uint8Array;
  /** The version's manifest (checked against `digest` by whoever read it). */
  manifest: ManifestIndex;
  node: LocalNode;
  registry: ImageRegistry;
  /** Proxy state (handles, bitmaps, whiteouts) and block cache of this version. */
  storeDir: string;
  /** Where writes go (default <storeDir>/shadow). */
  shadowDir: string;
  listenHost: string;
  nfsPort: number;
  mountPort?: number;
  refreshMs: number;
  /** A server with calls pending and no reply this long is taken for dead. */
  stallMs?: number;
  /** Largest READ/WRITE offered to clients (default 1 MiB; see RowfsProxy's clientIoBytes). */
  clientIoBytes?: number;
  /**
   * Block sharing with other mounts of the version (default on): serve verified cached blocks on
   * the node's virtual IP at `port` (0 = any) within `limits`, and ask peers before the server.
   */
  share?: { enabled: boolean; port?: number; limits?: Partial<UploadLimits> };
  /**
   * Boot traces: `prefetch` (default on) fetches the version's attached trace ahead of the client;
   * `publish` attaches this mount's own trace to the version (at every refresh while it grows).
   */
  trace?: { prefetch?: boolean; publish?: boolean };
  clock: Clock;
  log: (line: string) => void;
}

/** The discard port (RFC 863): a datagram to it is dropped by the server node's kernel. */
const DISCARD_PORT = 9;
/**
 * Image files whose READ bytes the counters tally one by one (read by clients, fetched from the
 * servers): what a boot reads of the image and what the proxy fetched beyond it. A boot reads a
 * few thousand files; the cap bounds the counters file.
 */
const FILE_COUNTERS = 16_384;
/**
 * Payload buffers (1 MiB each) for the mount's READs from the servers: 8 MiB in flight keeps a
 * 70 ms round trip at over 100 MB/s, and the pool's pages stay resident once touched (the proxy's
 * default of 16 is for bulk throughput on a LAN; the appliance bench's RSS target is 100 MB).
 */
const POOL_BUFFERS = 8;

/**
 * Sends one empty datagram to each server's virtual IP, so this node's virtual network resolves
 * (and keeps resolved) every replica's address: a failover then goes straight to the replica
 * instead of waiting for a DHT lookup of its address at the worst moment (a member just died, and
 * it may hold that record). Called with every servers list, i.e. every 30 s.
 */
function warmPaths(vips: string[]): void {
  const sock = createSocket('udp4');
  sock.on('error', () => undefined);
  let left = vips.length;
  if (left === 0) {
    sock.close();
    return;
  }
  for (const vip of vips) sock.send(Buffer.alloc(0), DISCARD_PORT, vip, () => --left === 0 && sock.close());
}

/** Prefetch window of a trace by the app's owner or a publisher, and of one by any other sharer. */
const TRUSTED_AHEAD_BYTES = 64 << 20;
const UNTRUSTED_AHEAD_BYTES = 8 << 20;

/**
 * A trace's runs as paths, checked against the manifest (a run that is not of a file or goes past
 * its end is skipped: a trace is advice), blocks already named by an earlier run dropped, and at
 * most MAX_TRACE_BLOCKS blocks in all (the decoder refuses more; this holds for any caller).
 */
export function traceRuns(runs: TraceRun[], manifest: Pick<ManifestIndex, 'at' | 'blockSize'>): TracePathRun[] {
  const out: TracePathRun[] = [];
  const seen = new Map<number, Set<number>>();
  let total = 0;
  for (const r of runs) {
    const e = manifest.at(r.entry);
    if (e?.type !== 'file' || r.first + r.count > blocksOf(e.size, manifest.blockSize)) continue;
    const had = seen.get(r.entry) ?? new Set<number>();
    seen.set(r.entry, had);
    let start = -1;
    for (let b = r.first; b < r.first + r.count && total < MAX_TRACE_BLOCKS; b++) {
      if (had.has(b)) {
        if (start >= 0) out.push({ path: e.path, first: start, count: b - start });
        start = -1;
        continue;
      }
      had.add(b);
      total++;
      if (start < 0) start = b;
      if (b === r.first + r.count - 1 || total === MAX_TRACE_BLOCKS) out.push({ path: e.path, first: start, count: b - start + 1 });
    }
    if (total >= MAX_TRACE_BLOCKS) break;
  }
  return out;
}

/** True when `vip` is a host address of the overlay's virtual subnet (a sharer's endpoint must be). */
export function onVirtualSubnet(vip: string, subnet: Subnet | undefined): boolean {
  if (!subnet) return false;
  try {
    return subnet.isHost(ipv4ToInt(vip));
  } catch {
    return false;
  }
}

/** Peers whose lease is checked per refresh (a fetcher keeps at most 16 connections). */
const PEERS_CHECKED = 32;

/**
 * Other mounts of the version that serve blocks, best first (this node's own record left out). A
 * record's endpoint is its writer's word: only addresses on the virtual subnet that the writer's
 * node holds (its lease) are asked, not loopback, not a third party's address the writer would
 * have us flood.
 */
async function peersOf(o: MountingOptions, selfRing: string, owners: VipOwners): Promise<PeerEndpoint[]> {
  const [{ sharers }, info] = await Promise.all([o.registry.sharerRecords(o.app, o.version), o.node.info()]);
  const subnet = info.subnet ? Subnet.parse(info.subnet) : undefined;
  const serving = sharers.filter((s) => s.peer && hex(s.ring) !== selfRing && onVirtualSubnet(s.peer.vip, subnet) && s.peer.vip !== info.vip);
  // Known liars left out before the cut, known holders first: records naming other members'
  // addresses cannot crowd the real peers out of the checked few for more than one refresh.
  const ranked = rankByPath(serving, info, (s) => hex(s.ring));
  const said = ranked.map((s) => owners.remembered(hex(s.ring), s.peer!.vip));
  const candidates = [...ranked.filter((_, i) => said[i] === true), ...ranked.filter((_, i) => said[i] === undefined)].slice(0, PEERS_CHECKED);
  const held = await Promise.all(candidates.map((s) => owners.holds(hex(s.ring), s.peer!.vip)));
  return candidates.filter((_, i) => held[i]).map((s) => ({ id: hex(s.ring), label: `${s.peer!.vip}:${s.peer!.port}`, host: s.peer!.vip, port: s.peer!.port }));
}

export class ImageMounting {
  private readonly loop: RefreshLoop;
  /** A newer version of the app, once one is published (this mount stays on its own). */
  newer: string | undefined;
  readonly announceId: string;
  readonly exportPath: string;
  /** Wall-clock start (shown to others in the sharer record). */
  private readonly since = Date.now();
  /** The boot trace's version last attached to the registry. */
  private tracePublished = -1;
  private entryByKey: Map<string, number> | undefined;

  private constructor(
    private readonly o: MountingOptions,
    readonly proxy: RowfsProxy,
    private readonly ring: Uint8Array,
    private readonly peers: { fetcher: PeerFetcher; server: PeerServer; vip: string } | undefined,
  ) {
    this.announceId = `mount:${o.app}@${o.version}:${process.pid}`;
    this.exportPath = imageExportPath(o.app, o.version);
    this.loop = new RefreshLoop(o.clock, o.refreshMs, () => this.refresh(false), (e) => o.log(`refreshing the sharer record failed: ${e.message}`));
  }

  static async start(o: MountingOptions): Promise<ImageMounting> {
    const self = await o.node.info();
    const servers = async (): Promise<ReplicaServer[]> => {
      const [{ servers: found }, info] = await Promise.all([o.registry.servers(o.app, o.version, o.digest), o.node.info()]);
      warmPaths(found.map((s) => s.vip));
      return rankByPath(found, info, (s) => Buffer.from(s.ring).toString('hex')).map((s) => ({
        id: Buffer.from(s.ring).toString('hex'),
        label: `${s.vip}:${s.nfsPort}`,
        host: s.vip,
        exportPath: s.exportPath,
        nfsPort: s.nfsPort,
        mountPort: s.mountPort,
      }));
    };
    const onEvent = (e: ReplicaEvent) => {
      if (e.kind === 'connected') o.log(`reading ${o.app} ${o.version} from ${e.server.label}`);
      else if (e.kind === 'failed') o.log(`server ${e.server.label} failed (${e.why}): switching`);
      else if (e.kind === 'bad') o.log(`server ${e.server.label} sent data that does not match the manifest (${e.why}): not using it again`);
      else o.log(`no server of ${o.app} ${o.version} reachable: ${e.why}`);
    };
    const verifier = o.manifest;
    const counters = new Counters();
    const sharing = o.share?.enabled !== false && self.vip !== undefined;
    const owners = new VipOwners((vip) => o.node.ownerOfVip(vip), o.clock);
    const fetcher = sharing ? new PeerFetcher({ source: { peers: () => peersOf(o, self.address, owners) }, verifier, blockSize: o.manifest.blockSize, counters, clock: o.clock }) : undefined;
    await fetcher?.refresh();
    const proxy = await RowfsProxy.start({
      main: { id: `image:${o.app}@${o.version}:${Buffer.from(o.digest).toString('hex').slice(0, 16)}`, source: { servers }, verifier, peers: fetcher, stallMs: o.stallMs, onEvent },
      counters,
      recordBootTrace: true,
      shadow: { dir: o.shadowDir },
      stateDir: o.storeDir,
      blockSizeBytes: o.manifest.blockSize,
      clientIoBytes: o.clientIoBytes,
      fileCounters: FILE_COUNTERS,
      poolBuffers: POOL_BUFFERS,
      listenHost: o.listenHost,
      nfsPort: o.nfsPort,
      mountPort: o.mountPort,
      exportPath: imageExportPath(o.app, o.version),
      onFault: (what, err) => o.log(`internal error in ${what}: ${(err as Error)?.message ?? String(err)}`),
    });
    let peers: { fetcher: PeerFetcher; server: PeerServer; vip: string } | undefined;
    const cache = proxy.blockCache;
    if (fetcher && cache) {
      try {
        const server = await PeerServer.start({
          host: self.vip!,
          port: o.share?.port ?? 0,
          limits: o.share?.limits,
          clock: o.clock,
          store: { blockSize: cache.blockSize, read: (file, index) => cache.read(hex(handleOfPathId(file)), index) },
        });
        peers = { fetcher, server, vip: self.vip! };
      } catch (e) {
        fetcher.close();
        await proxy.stop();
        throw e;
      }
    }
    const m = new ImageMounting(o, proxy, new Uint8Array(Buffer.from(self.address, 'hex')), peers);
    try {
      await m.refresh(true);
    } catch (e) {
      await m.stop();
      throw e;
    }
    m.loop.start();
    if (o.trace?.prefetch !== false) await m.startPrefetch().catch((e: Error) => o.log(`no boot-trace prefetch: ${e.message}`));
    return m;
  }

  /** Finds the version's boot trace and starts fetching it ahead of the client (not awaited). */
  private async startPrefetch(): Promise<void> {
    const o = this.o;
    const view = await o.registry.resolveApp(o.app);
    const trace = await o.registry.trace(o.app, o.version, o.digest, [view.owner, ...view.publishers]);
    if (!trace) return;
    const runs = traceRuns(trace.runs, o.manifest);
    const blocks = runs.reduce((n, r) => n + r.count, 0);
    // A trace by a node that is neither owner nor publisher may fetch only a small window ahead of the client.
    const maxAheadBytes = trace.trusted ? TRUSTED_AHEAD_BYTES : UNTRUSTED_AHEAD_BYTES;
    o.log(`prefetching a boot trace of ${blocks} blocks in ${runs.length} runs (by ${trace.trusted ? 'a publisher' : 'a sharer'}, node key ${hex(trace.owner).slice(0, 16)}…)`);
    void this.proxy.prefetchTrace(runs, { maxAheadBytes }).then(() => {
      const p = this.proxy.counters.prefetch;
      if (p) o.log(`boot-trace prefetch ${p.stopped}: ${p.fetchedBlocks} blocks fetched ahead, ${p.hitBlocks} read by the client so far`);
    });
  }

  /** Attaches this mount's boot trace to the version when it grew since the last time. */
  private async publishTrace(): Promise<void> {
    const o = this.o;
    const rec = this.proxy.bootTrace;
    if (!o.trace?.publish || !rec || rec.version === this.tracePublished) return;
    const entryOf = (this.entryByKey ??= fileEntriesByKey(o.manifest));
    const runs: TraceRun[] = [];
    for (const r of rec.runs()) {
      const entry = entryOf.get(r.key);
      if (entry !== undefined && runs.length < MAX_TRACE_RUNS) runs.push({ entry, first: r.first, count: r.count });
    }
    if (runs.length === 0) return;
    const version = rec.version;
    await o.registry.putTrace({ app: o.app, version: o.version, ring: this.ring, digest: o.digest, recordedAtMs: this.since, runs });
    this.tracePublished = version;
    o.log(`attached a boot trace of ${runs.reduce((n, r) => n + r.count, 0)} blocks in ${runs.length} runs to ${o.app} ${o.version}`);
  }

  /**
   * The node's listing, then the sharer record and the newer-version check; the first one must
   * succeed. Listed first, and whatever the DHT does: a mount of the same version stopping on this
   * node leaves the record to a mount it sees listed.
   */
  private async refresh(first: boolean): Promise<void> {
    const o = this.o;
    await this.announce();
    const knewNewer = this.newer;
    await this.publishTrace().catch((e: Error) => o.log(`attaching the boot trace failed: ${e.message}`));
    await o.registry.addSharer(this.sharerRecord(this.sharer()));
    try {
      const view = await o.registry.resolveApp(o.app);
      if (view.latest && compareVersions(view.latest, o.version) > 0 && view.latest !== this.newer) {
        this.newer = view.latest;
        o.log(`a newer version of ${o.app} is published: ${view.latest} (this mount stays on ${o.version}; mount again to use it)`);
      }
    } catch (e) {
      if (first) throw e;
    }
    if (this.newer !== knewNewer) await this.announce(); // `overlay status` shows it now, not a refresh later
  }

  /** What this mount puts in the node's sharer record: since when, and where it serves blocks. */
  private sharer(): SharerPart {
    return { sinceMs: this.since, peer: this.peers ? { vip: this.peers.vip, port: this.peers.server.port } : null };
  }

  private sharerRecord(part: SharerPart): SharerRecord {
    return { app: this.o.app, version: this.o.version, ring: this.ring, sinceMs: part.sinceMs, ...(part.peer ? { peer: part.peer } : {}) };
  }

  private announce(): Promise<void> {
    const o = this.o;
    const state = this.proxy.replicaState();
    const detail = {
      // sharer and recordTtlMs are read by another mount of the version on this node when it stops (stop()).
      sharer: this.sharer(),
      recordTtlMs: o.registry.ttls.sharerMs,
      nfsPort: this.proxy.nfsPort,
      mountPort: this.proxy.mountPort,
      exportPath: this.exportPath,
      server: state?.current?.label ?? null,
      badServers: state?.bad ?? [],
      newer: this.newer ?? null,
      store: o.storeDir,
      ...this.blockSources(),
    };
    return o.node.announce(this.announceId, 'mount', o.app, o.version, detail, Math.ceil((o.refreshMs * 3) / 1000));
  }

  /** One line on block sharing for the mount's output. */
  sharingLine(): string {
    const p = this.peers;
    if (!p) return this.o.share?.enabled === false ? 'block sharing off (--no-share)' : 'block sharing off (no virtual IP)';
    const l = p.server.limits;
    return `sharing verified blocks on ${p.vip}:${p.server.port} (upload at most ${l.totalBytesPerS} B/s, ${l.peerBytesPerS} B/s per peer, ${l.totalRequests} requests, ${l.peerRequests} per peer); ${p.fetcher.state().known} peers known`;
  }

  /** Where this mount's blocks came from, and what it gave other mounts (for `overlay status`). */
  blockSources(): Record<string, unknown> {
    const c = this.proxy.counters;
    const p = this.peers;
    return {
      bytes: { server: c.bytesFromMain, peers: c.peers?.bytes ?? 0, cache: c.cacheHitBytes },
      ...(p
        ? {
            peers: { ...p.fetcher.state(), rejectedBlocks: c.peers?.rejectedBlocks ?? 0, failures: c.peers?.failures ?? 0 },
            upload: { port: p.server.port, ...p.server.stats, limits: p.server.limits },
          }
        : { peers: null }),
      ...(c.prefetch ? { prefetch: { ...c.prefetch } } : {}),
    };
  }

  /**
   * Removes the sharer record (unless another mount of the version on this node stands behind it,
   * then it names that mount's block endpoint from now on) and stops the proxy. Idempotent.
   */
  async stop(): Promise<void> {
    if (!(await this.loop.stop())) return;
    const o = this.o;
    // The sharer record is the node's, one per version: another mount of it listed here keeps it
    // (two stopping at once both keep it: it then expires after its TTL, never too early). The
    // record may name this mount's block endpoint, which goes now: it names the other's instead
    // (before, it did until the other's next refresh), with the other's TTL (recordTtlOf).
    const others = await o.node.othersOf({ id: this.announceId, role: 'mount', app: o.app, version: o.version }).catch(() => []);
    if (others.length > 0) {
      o.log(`another mount of ${o.app} ${o.version} on this node keeps its sharer record`);
      const theirs = sharerPartOf(others[0]!.detail);
      if (theirs) await o.registry.addSharer(this.sharerRecord(theirs), recordTtlOf(others[0]!.detail)).catch((e: Error) => o.log(`handing the sharer record over failed (the other mount's next refresh does it): ${e.message}`));
    } else await o.registry.removeSharer(o.app, o.version).catch((e: Error) => o.log(`removing the sharer record failed (it expires by itself): ${e.message}`));
    this.peers?.fetcher.close();
    await this.peers?.server.close();
    await this.proxy.stop();
    await o.node.withdraw(this.announceId).catch(() => undefined);
  }
}

/** A mount's part of its node's sharer record, as it announces it to the node. */
interface SharerPart {
  sinceMs: number;
  peer: { vip: string; port: number } | null;
}

/** The sharer part another mount announced (`detail.sharer`), checked; undefined when it is not one. */
export function sharerPartOf(detail: Record<string, unknown>): SharerPart | undefined {
  const s = detail['sharer'] as { sinceMs?: unknown; peer?: { vip?: unknown; port?: unknown } | null } | undefined;
  if (typeof s !== 'object' || s === null || !Number.isSafeInteger(s.sinceMs) || (s.sinceMs as number) < 0) return undefined;
  const p = s.peer;
  if (p === null) return { sinceMs: s.sinceMs as number, peer: null };
  if (typeof p !== 'object' || typeof p.vip !== 'string' || !isIpv4Address(p.vip) || !isAnnouncedPort(p.port)) return undefined;
  return { sinceMs: s.sinceMs as number, peer: { vip: p.vip, port: p.port } };
}

/** Entry numbers of the manifest's regular files, by hex of their path handles (what boot traces record). */
function fileEntriesByKey(manifest: ManifestIndex): Map<string, number> {
  const out = new Map<string, number>();
  for (let i = 0; i < manifest.size; i++) {
    const e = manifest.at(i)!;
    if (e.type === 'file') out.set(hex(pathHandle(e.path)), i);
  }
  return out;
}
