// Finding a reachable replica for ReplicatedMain: the servers its source named last first, then
// the source asked again; bad servers skipped, recently failed ones tried last; bounded by a deadline.
import { openExport, type OpenedExport } from '../mount/open-export.js';
import { Ftype3, Nfs3Status, type FileHandle } from '../nfs3/types.js';
import { systemClock } from '../../lib/clock.js';
import type { ReplicaServer, ReplicatedMainOptions } from './replicated-main.js';

/** Wait between rounds when no server could be reached. */
const NO_SERVER_RETRY_MS = 1_000;

/** A live connection to one replica and the handles learned on it. */
export interface Connection {
  server: ReplicaServer;
  ex: OpenedExport;
  generation: number;
  handles: Map<string, FileHandle>;
  pending: number;
  lastProgressAt: number;
  /** Longest recent gap between replies while calls were pending (decays by 1% per reply). */
  busyGapMs: number;
}

/** Finds a reachable server: best first, skipping bad ones and recently failed ones. */
export class Prober {
  /** The servers the source named last: a failover tries them first (asking the DHT takes time). */
  private known: ReplicaServer[] = [];

  constructor(private readonly o: ReplicatedMainOptions) {}

  /** Asks the source again (in the background while serving, and when the known servers failed). */
  async refresh(): Promise<ReplicaServer[]> {
    this.known = await this.o.source.servers();
    return this.known;
  }

  async connectAny(bad: ReadonlySet<string>, failedAt: ReadonlyMap<string, number>, generation: number, deadlineMs: number): Promise<Connection> {
    const clock = this.o.clock ?? systemClock;
    const until = clock.now() + deadlineMs;
    const retryAfter = this.o.retryFailedAfterMs ?? 30_000;
    const problems: string[] = [];
    for (let round = 0; ; round++) {
      let servers: ReplicaServer[] = [];
      const usable = this.known.filter((s) => !bad.has(s.id) && clock.now() - (failedAt.get(s.id) ?? -Infinity) >= retryAfter);
      try {
        servers = (round === 0 && usable.length > 0 ? this.known : await this.refresh()).filter((s) => !bad.has(s.id));
      } catch (e) {
        problems.push(`finding servers: ${(e as Error).message}`);
      }
      // Recently failed servers go last (they may be back), never first.
      const now = clock.now();
      const fresh = servers.filter((s) => now - (failedAt.get(s.id) ?? -Infinity) >= retryAfter);
      const stale = servers.filter((s) => now - (failedAt.get(s.id) ?? -Infinity) < retryAfter);
      for (const s of [...fresh, ...stale]) {
        try {
          return await this.connect(s, generation);
        } catch (e) {
          problems.push(`${s.label}: ${(e as Error).message}`);
        }
      }
      if (clock.now() + NO_SERVER_RETRY_MS > until) {
        const last = problems.slice(-3).join('; ');
        throw new Error(servers.length === 0 ? `no usable server${last ? ` (${last})` : ''}` : `no server reachable (${last})`);
      }
      await new Promise<void>((r) => clock.setTimeout(r, NO_SERVER_RETRY_MS));
    }
  }

  private async connect(server: ReplicaServer, generation: number): Promise<Connection> {
    const timeoutMs = this.o.connectTimeoutMs ?? 3_000;
    const ex = await openExport({ host: server.host, exportPath: server.exportPath, nfsPort: server.nfsPort, mountPort: server.mountPort, timeoutMs, waitForServer: false });
    try {
      const r = await ex.nfs.getattr({ object: ex.root });
      if (r.status !== Nfs3Status.OK) throw new Error(`GETATTR of the export root: NFS3ERR_${Nfs3Status[r.status]}`);
      if (r.objAttributes.type !== Ftype3.DIR) throw new Error('export root is not a directory');
    } catch (e) {
      await ex.close().catch(() => undefined);
      throw e;
    }
    const handles = new Map<string, FileHandle>([['', ex.root]]);
    return { server, ex, generation, handles, pending: 0, lastProgressAt: (this.o.clock ?? systemClock).now(), busyGapMs: 0 };
  }
}
