// The node's one periodic timer (at 10,000 simulated nodes, timer events were a quarter of all events
// with one timer per chore). Every tickMs it looks at each link: closes one silent for linkTimeoutMs
// or whose probe went unanswered, PINGs one silent for its ping interval (near links more often: they
// carry the ring and the DHT's replica sets), lets idle shortcuts go, gives relayed peers a direct
// dial now and then, and releases links neither side wants. The slower chores (stabilize, far links,
// self-FIND) each run at the first tick past their own randomly phased due time.
import type { Clock, Random, Timer } from '../../lib/clock.js';
import type { ConnectionTable, TableEntry } from '../routing-table/connection-table.js';
import { addressHex } from '../ring/ring.js';
import type { NodeCounter } from './counters.js';
import type { LinkRelease } from './link-release.js';
import type { Liveness } from './liveness.js';
import type { OverlayOptions } from './options.js';

type MaintenanceOptions = Pick<
  OverlayOptions,
  'tickMs' | 'stabilizeIntervalMs' | 'farIntervalMs' | 'selfFindIntervalMs' | 'linkTimeoutMs' | 'pingIntervalMs' | 'nearPingIntervalMs' | 'shortcutIdleMs'
>;

export interface MaintenanceHost {
  readonly clock: Clock;
  readonly random: Random;
  readonly options: MaintenanceOptions;
  readonly table: ConnectionTable;
  readonly stopped: boolean;
  readonly joined: boolean;
  readonly liveness: Pick<Liveness, 'isDead' | 'ping'>;
  readonly release: Pick<LinkRelease, 'announceWant'>;
  count(name: NodeCounter): void;
  readonly log: ((line: string) => void) | undefined;
  dropEntry(e: TableEntry, reason: string, how?: 'close' | 'bye'): void;
  /** A relay edge's peer may get a direct dial. */
  retryDirect(e: TableEntry, now: number): void;
  /** After the links: the other parts' per-tick upkeep (DHT, dial cooldowns, shortcut window). */
  upkeep(now: number): void;
  stabilize(): void;
  maintainFarLinks(): void;
  join(): void;
}

export class Maintenance {
  private readonly timers: Timer[] = [];

  constructor(private readonly host: MaintenanceHost) {}

  start(): void {
    const { clock, random, options: o } = this.host;
    // Random phases so thousands of simulated nodes do not tick in lock step.
    const every = (ms: number, fn: () => void) => {
      const first = clock.setTimeout(() => {
        fn();
        this.timers.push(clock.setInterval(fn, ms));
      }, Math.floor(random.float() * ms) + 1);
      this.timers.push(first);
    };
    const chores: Array<{ every: number; due: number; run: () => void }> = [
      { every: o.stabilizeIntervalMs, due: 0, run: () => this.host.stabilize() },
      { every: o.farIntervalMs, due: 0, run: () => this.host.maintainFarLinks() },
      // Re-asking the ring for our own place catches what neighbour exchange cannot: a node that
      // no near neighbour knows about (its neighbours only ever hear of it from itself).
      { every: o.selfFindIntervalMs, due: 0, run: () => this.host.table.size > 0 && this.host.join() },
    ];
    for (const c of chores) c.due = clock.now() + Math.floor(random.float() * c.every) + 1;
    every(o.tickMs, () => {
      this.tick();
      for (const c of chores) {
        const now = clock.now();
        if (now < c.due || this.host.stopped) continue;
        c.due = now + c.every;
        c.run();
      }
    });
  }

  stop(): void {
    for (const t of this.timers) t.cancel();
  }

  private tick(): void {
    const host = this.host;
    if (host.stopped) return;
    const now = host.clock.now();
    const o = host.options;
    for (const e of [...host.table.all()]) {
      if (e.removed) continue; // dropped during this tick
      const silent = now - e.lastHeard;
      if (silent > o.linkTimeoutMs || host.liveness.isDead(e, now)) {
        host.count('link_timeouts');
        if (host.log) host.log(`timeout ${addressHex(e.address).slice(0, 8)} link=${e.link.id} closed=${e.link.closed} added=${e.addedAt.toFixed(0)} heard=${e.lastHeard.toFixed(0)}`);
        host.dropEntry(e, 'timeout');
        continue;
      }
      const near = host.table.isNear(e.address);
      const interval = near ? o.nearPingIntervalMs : o.pingIntervalMs;
      if (silent > interval && (e.pingSentAt === undefined || now - e.pingSentAt > interval)) host.liveness.ping(e, now);
      if (e.shortcut && now - e.lastUsed > o.shortcutIdleMs) e.shortcut = false;
      if (e.link.relayedVia !== undefined) host.retryDirect(e, now);
      if (!host.release.announceWant(e, now, near) && !e.remoteWants) host.dropEntry(e, 'released', 'bye');
    }
    host.upkeep(now);
    if (!host.joined && host.table.size > 0) host.join();
  }
}
