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
  /** Image mounts (a replicated main): READ bytes per server, failovers, blocks refused by the manifest. */
  replicas?: { bytesFrom: Record<string, number>; failovers: number; verifyFailures: number; badServers: string[] };
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
  bytesFromMain = 0;
  bytesFromShadow = 0;
  bytesToShadow = 0;
  bytesToClient = 0;
  /** Set by a replicated main (image mounts) only. */
  replicas: { bytesFrom: Map<string, number>; failovers: number; verifyFailures: number; badServers: Set<string> } | undefined;

  /** READ bytes that came from replica `server` (also counted in bytesFromMain). */
  fromReplica(server: string, bytes: number): void {
    this.replicas ??= { bytesFrom: new Map(), failovers: 0, verifyFailures: 0, badServers: new Set() };
    this.replicas.bytesFrom.set(server, (this.replicas.bytesFrom.get(server) ?? 0) + bytes);
    this.bytesFromMain += bytes;
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
      cache: { hitBlocks: this.cacheHitBlocks, missBlocks: this.cacheMissBlocks, hitBytes: this.cacheHitBytes },
      bytes: {
        fromMain: this.bytesFromMain,
        fromShadow: this.bytesFromShadow,
        toShadow: this.bytesToShadow,
        toClient: this.bytesToClient,
      },
      totals: { client: this.total('client'), main: this.total('main'), shadow: this.total('shadow') },
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
      `cache: ${s.cache.hitBlocks} block hits (${s.cache.hitBytes} bytes), ${s.cache.missBlocks} misses`,
      `bytes: ${s.bytes.fromMain} from main, ${s.bytes.fromShadow} from shadow, ${s.bytes.toShadow} to shadow, ${s.bytes.toClient} to clients`,
    );
    if (s.replicas) {
      const from = Object.entries(s.replicas.bytesFrom).map(([k, v]) => `${v} from ${k}`);
      lines.push(`servers: ${from.join(', ') || 'no bytes yet'}; ${s.replicas.failovers} failovers, ${s.replicas.verifyFailures} blocks failed verification`);
      if (s.replicas.badServers.length > 0) lines.push(`bad servers (sent blocks that do not match the manifest): ${s.replicas.badServers.join(', ')}`);
    }
    return lines.join('\n');
  }
}
