// Dials peers the other parts want linked (near neighbours, far links, shortcuts), one dial per peer
// at a time; a peer whose dial failed rests for dialCooldownMs. The dial's signalling is routed over
// the overlay (through `via` if given: greedy routing alone cannot reach a node the ring around it
// does not know yet). A near or shortcut peer whose direct dial fails, or is still pending after
// relayHeadStartMs, is linked through a common neighbour instead (relay-fallback.ts).
import type { Clock } from '../../lib/clock.js';
import type { Connector, Link } from '../link/link.js';
import type { RingAddress } from '../ring/ring.js';
import type { ConnectionTable, TableEntry } from '../routing-table/connection-table.js';
import { addressHex } from '../ring/ring.js';
import type { NodeCounter } from './counters.js';
import type { LinkOrigin, LinkPurposes } from './link-admission.js';
import type { OverlayOptions } from './options.js';

export type DialPurpose = 'near' | 'far' | 'shortcut';

export interface DialerHost {
  readonly clock: Clock;
  readonly options: Pick<OverlayOptions, 'dialCooldownMs' | 'relayHeadStartMs'>;
  readonly table: Pick<ConnectionTable, 'get' | 'has' | 'size'>;
  readonly stopped: boolean;
  readonly connector: Pick<Connector, 'dial'>;
  /** Whether the node builds relay edges at all. */
  readonly relays: boolean;
  count(name: NodeCounter): void;
  readonly log: ((line: string) => void) | undefined;
  /** Routes a signalling payload to `remote` (through `via` first if given). */
  signal(remote: RingAddress, payload: Uint8Array, via?: RingAddress): void;
  adopt(link: Link, how: LinkOrigin, purposes?: LinkPurposes): boolean;
  announceWant(e: TableEntry, now: number): boolean;
  connectRelay(remote: RingAddress, purposes: LinkPurposes, why: string, via?: RingAddress): void;
}

export class Dialer {
  private readonly pending = new Map<RingAddress, LinkPurposes>();
  private readonly cooldownUntil = new Map<RingAddress, number>();

  constructor(private readonly host: DialerHost) {}

  /** Links `remote` for `purpose`: marks an existing link, joins a pending dial, or dials. */
  connect(remote: RingAddress, purpose: DialPurpose, via?: RingAddress): void {
    const host = this.host;
    const e = host.table.get(remote);
    const now = host.clock.now();
    if (e) {
      if (purpose === 'far') e.far = true;
      if (purpose === 'shortcut') {
        e.shortcut = true;
        e.lastUsed = now;
      }
      host.announceWant(e, now);
      return;
    }
    const pending = this.pending.get(remote);
    if (pending) {
      pending.far ||= purpose === 'far';
      pending.shortcut ||= purpose === 'shortcut';
      return;
    }
    if (this.coolingDown(remote, now)) return;
    this.pending.set(remote, { far: purpose === 'far', shortcut: purpose === 'shortcut' });
    host.count(purpose === 'near' ? 'dials_near' : purpose === 'far' ? 'dials_far' : 'dials_shortcut');
    if (host.log) host.log(`dial ${purpose} ${addressHex(remote).slice(0, 8)} links=${host.table.size}`);
    const headStart = host.options.relayHeadStartMs;
    const relayTimer =
      host.relays && purpose !== 'far' && headStart > 0
        ? host.clock.setTimeout(() => {
            const p = this.pending.get(remote);
            if (p && !host.table.has(remote) && !host.stopped) host.connectRelay(remote, p, `direct dial still pending after ${headStart} ms`, via);
          }, headStart)
        : undefined;
    host.connector
      .dial(remote, (payload) => host.signal(remote, payload, via))
      .then(
        (link) => {
          relayTimer?.cancel();
          const p = this.pending.get(remote);
          this.pending.delete(remote);
          host.adopt(link, 'dialed', p);
        },
        (err: Error) => {
          relayTimer?.cancel();
          const p = this.pending.get(remote);
          this.pending.delete(remote);
          if (host.stopped) return;
          host.log?.(`dial ${addressHex(remote).slice(0, 8)} failed: ${err.message}`);
          host.count('dial_failures');
          this.cooldownUntil.set(remote, host.clock.now() + host.options.dialCooldownMs);
          // Far links are random picks (another will do); near and shortcut peers are worth a relay.
          if (p && purpose !== 'far' && !host.table.has(remote)) host.connectRelay(remote, p, `direct dial failed (${err.message})`, via);
        },
      );
  }

  isPending(remote: RingAddress): boolean {
    return this.pending.has(remote);
  }

  pendingAddresses(): IterableIterator<RingAddress> {
    return this.pending.keys();
  }

  /** A dial for a near neighbour (neither far nor shortcut) is under way. */
  nearDialPending(): boolean {
    for (const p of this.pending.values()) if (!p.far && !p.shortcut) return true;
    return false;
  }

  /** Far-link dials under way. */
  farDialsPending(): number {
    let n = 0;
    for (const p of this.pending.values()) if (p.far) n++;
    return n;
  }

  coolingDown(remote: RingAddress, now: number): boolean {
    return (this.cooldownUntil.get(remote) ?? 0) > now;
  }

  /** Forgets cooldowns that have run out (by the tick, so the map stays small). */
  expireCooldowns(now: number): void {
    for (const [a, t] of this.cooldownUntil) if (t <= now) this.cooldownUntil.delete(a);
  }
}
