// ROW-FS proxy counters (the paper's Figure 5 and section 4.3 as numbers): client calls per
// procedure, calls the proxy made to the main and the shadow server per procedure, blocks served
// from the local block cache, and bytes fetched from main. Plain data, no I/O: the proxy exposes a
// snapshot as JSON (a file and a control endpoint).

export type CallTarget = 'client' | 'main' | 'shadow';

export interface CountersSnapshot {
  /** Calls the proxy received from clients, by procedure name (NFS and MOUNT). */
  client: Record<string, number>;
  /** Calls the proxy sent to the main server, by procedure name. */
  main: Record<string, number>;
  /** Calls the proxy sent to the shadow server, by procedure name. */
  shadow: Record<string, number>;
  cache: {
    /** Blocks served from the local block cache instead of main. */
    hitBlocks: number;
    /** Blocks that had to be fetched from main (then cached). */
    missBlocks: number;
    hitBytes: number;
    /** Client reads of main's data that found a block of theirs not yet cached, and waited for main. */
    waitedReads: number;
  };
  bytes: {
    /** READ payload bytes received from the main server. */
    fromMain: number;
    /** READ payload bytes received from the shadow server. */
    fromShadow: number;
    /** WRITE payload bytes sent to the shadow server (including partial-block fills). */
    toShadow: number;
    /** READ payload bytes returned to clients. */
    toClient: number;
  };
  totals: { client: number; main: number; shadow: number };
  /** Shadow GETATTRs answered from attributes the shadow had returned (not sent, not in `shadow`). */
  knownShadowAttrs?: number;
  /**
   * Per main file (hex of its handle), when tracked: [bytes clients read of it, bytes fetched from
   * main for it]. Fetched beyond read is the proxy's own over-fetch (readahead, whole blocks).
   */
  files?: Record<string, [number, number]>;
  /** Image mounts (a replicated main): READ bytes per server, failovers, blocks refused by the manifest. */
  replicas?: { bytesFrom: Record<string, number>; failovers: number; verifyFailures: number; badServers: string[] };
  /** Image mounts sharing blocks: bytes per peer, blocks refused by the manifest, peers dropped for them, peer requests that failed. */
  peers?: { bytesFrom: Record<string, number>; bytes: number; rejectedBlocks: number; badPeers: string[]; failures: number };
  /** Boot-trace prefetch: blocks fetched ahead of the client, later read by it (hits) or not (waste, when the mount stops or gives up). */
  prefetch?: { tracedBlocks: number; fetchedBlocks: number; hitBlocks: number; wasteBlocks: number; stopped: string | null };
}

export class Counters {
  private readonly calls: Record<CallTarget, Map<string, number>> = {
    client: new Map(),
    main: new Map(),
    shadow: new Map(),
  };
  cacheHitBlocks = 0;
  cacheMissBlocks = 0;
  cacheHitBytes = 0;
  cacheWaitedReads = 0;
  bytesFromMain = 0;
  bytesFromShadow = 0;
  bytesToShadow = 0;
  bytesToClient = 0;
  knownShadowAttrs = 0;
  /** Per-file READ tallies (trackFiles), by hex of the main handle: [read by clients, fetched from main]. */
  private files: Map<string, [number, number]> | undefined;
  private maxFiles = 0;
  /** Set by a replicated main (image mounts) only. */
  replicas: { bytesFrom: Map<string, number>; failovers: number; verifyFailures: number; badServers: Set<string> } | undefined;
  /** Set by a mount that asks peers for blocks. */
  peers: { bytesFrom: Map<string, number>; bytes: number; rejectedBlocks: number; badPeers: Set<string>; failures: number } | undefined;
  /** Set by a mount that prefetches a boot trace. */
  prefetch: { tracedBlocks: number; fetchedBlocks: number; hitBlocks: number; wasteBlocks: number; stopped: string | null } | undefined;

  /** Verified block bytes that came from peer `peer` (not counted in bytesFromMain: the server did not send them). */
  fromPeer(peer: string, bytes: number): NonNullable<Counters['peers']> {
    this.peers ??= { bytesFrom: new Map(), bytes: 0, rejectedBlocks: 0, badPeers: new Set(), failures: 0 };
    if (bytes > 0 || !this.peers.bytesFrom.has(peer)) this.peers.bytesFrom.set(peer, (this.peers.bytesFrom.get(peer) ?? 0) + bytes);
    this.peers.bytes += bytes;
    return this.peers;
  }

  /** READ bytes that came from replica `server` (also counted in bytesFromMain). */
  fromReplica(server: string, bytes: number): void {
    this.replicas ??= { bytesFrom: new Map(), failovers: 0, verifyFailures: 0, badServers: new Set() };
    this.replicas.bytesFrom.set(server, (this.replicas.bytesFrom.get(server) ?? 0) + bytes);
    this.bytesFromMain += bytes;
  }

  /** Starts per-file READ tallies for at most `maxFiles` files (later files are not tallied: bounded). */
  trackFiles(maxFiles: number): void {
    this.files ??= new Map();
    this.maxFiles = maxFiles;
  }

  /** Clients read `read` bytes of main file `key` and `fetched` bytes of it came from main. */
  file(key: string, read: number, fetched: number): void {
    const f = this.files;
    if (!f) return;
    const t = f.get(key);
    if (t) {
      t[0] += read;
      t[1] += fetched;
    } else if (f.size < this.maxFiles) f.set(key, [read, fetched]);
  }

  call(target: CallTarget, proc: string): void {
    const m = this.calls[target];
    m.set(proc, (m.get(proc) ?? 0) + 1);
  }

  count(target: CallTarget, proc: string): number {
    return this.calls[target].get(proc) ?? 0;
  }

  total(target: CallTarget): number {
    let n = 0;
    for (const v of this.calls[target].values()) n += v;
    return n;
  }

  snapshot(): CountersSnapshot {
    const obj = (m: Map<string, number>) => Object.fromEntries([...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
    return {
      client: obj(this.calls.client),
      main: obj(this.calls.main),
      shadow: obj(this.calls.shadow),
      cache: { hitBlocks: this.cacheHitBlocks, missBlocks: this.cacheMissBlocks, hitBytes: this.cacheHitBytes, waitedReads: this.cacheWaitedReads },
      bytes: {
        fromMain: this.bytesFromMain,
        fromShadow: this.bytesFromShadow,
        toShadow: this.bytesToShadow,
        toClient: this.bytesToClient,
      },
      totals: { client: this.total('client'), main: this.total('main'), shadow: this.total('shadow') },
      knownShadowAttrs: this.knownShadowAttrs,
      ...(this.files ? { files: Object.fromEntries([...this.files].map(([k, [r, f]]) => [k, [r, f] as [number, number]])) } : {}),
      ...(this.replicas
        ? {
            replicas: {
              bytesFrom: Object.fromEntries(this.replicas.bytesFrom),
              failovers: this.replicas.failovers,
              verifyFailures: this.replicas.verifyFailures,
              badServers: [...this.replicas.badServers],
            },
          }
        : {}),
      ...(this.peers
        ? { peers: { bytesFrom: Object.fromEntries(this.peers.bytesFrom), bytes: this.peers.bytes, rejectedBlocks: this.peers.rejectedBlocks, badPeers: [...this.peers.badPeers], failures: this.peers.failures } }
        : {}),
      ...(this.prefetch ? { prefetch: { ...this.prefetch } } : {}),
    };
  }

  /** Formats a snapshot as the table `overlay rowfs --stats` prints. */
  static format(s: CountersSnapshot): string {
    const procs = [...new Set([...Object.keys(s.client), ...Object.keys(s.main), ...Object.keys(s.shadow)])].sort();
    const lines = [`${'procedure'.padEnd(14)}${'client'.padStart(10)}${'main'.padStart(10)}${'shadow'.padStart(10)}`];
    for (const p of procs) {
      lines.push(`${p.padEnd(14)}${String(s.client[p] ?? 0).padStart(10)}${String(s.main[p] ?? 0).padStart(10)}${String(s.shadow[p] ?? 0).padStart(10)}`);
    }
    lines.push(`${'total'.padEnd(14)}${String(s.totals.client).padStart(10)}${String(s.totals.main).padStart(10)}${String(s.totals.shadow).padStart(10)}`);
    lines.push(
      '',
      `cache: ${s.cache.hitBlocks} block hits (${s.cache.hitBytes} bytes), ${s.cache.missBlocks} misses, ${s.cache.waitedReads} client reads waited for main`,
      `bytes: ${s.bytes.fromMain} from main, ${s.bytes.fromShadow} from shadow, ${s.bytes.toShadow} to shadow, ${s.bytes.toClient} to clients`,
    );
    if (s.replicas) {
      const from = Object.entries(s.replicas.bytesFrom).map(([k, v]) => `${v} from ${k}`);
      lines.push(`servers: ${from.join(', ') || 'no bytes yet'}; ${s.replicas.failovers} failovers, ${s.replicas.verifyFailures} blocks failed verification`);
      if (s.replicas.badServers.length > 0) lines.push(`bad servers (sent blocks that do not match the manifest): ${s.replicas.badServers.join(', ')}`);
    }
    if (s.peers) {
      const from = Object.entries(s.peers.bytesFrom).map(([k, v]) => `${v} from ${k}`);
      lines.push(`peers: ${s.peers.bytes} bytes (${from.join(', ') || 'none yet'}); ${s.peers.rejectedBlocks} blocks rejected, ${s.peers.failures} failed requests`);
      if (s.peers.badPeers.length > 0) lines.push(`bad peers (sent blocks that do not match the manifest): ${s.peers.badPeers.join(', ')}`);
    }
    if (s.prefetch) {
      lines.push(`prefetch: ${s.prefetch.fetchedBlocks} of ${s.prefetch.tracedBlocks} traced blocks fetched ahead, ${s.prefetch.hitBlocks} hits, ${s.prefetch.wasteBlocks} wasted${s.prefetch.stopped ? ` (stopped: ${s.prefetch.stopped})` : ''}`);
    }
    return lines.join('\n');
  }
}
