// NAT types in the simulator, with the outcome the netns harness measures for real ICE (no TURN):
// a public host ('none') is reached by anyone; two endpoint-independent NATs ('eim') punch through
// each other; an address/port-dependent ('symmetric') NAT maps every destination to a new port, so it
// only gets a direct path to a public host. Dials that cannot work fail the way ICE does (after its
// timeout), and the overlay has to route or build a relay edge through a common neighbour.
import type { Clock, Random } from '../lib/clock.js';
import type { Connector, Link } from '../overlay/link/link.js';
import type { RingAddress } from '../overlay/ring/ring.js';

export type NatKind = 'none' | 'eim' | 'symmetric';
export const NAT_KINDS: readonly NatKind[] = ['none', 'eim', 'symmetric'];

/** Fractions of hosts behind each kind of NAT (need not sum to 1: they are weights). */
export type NatMix = Partial<Record<NatKind, number>>;

/** Whether ICE without TURN finds a direct path between hosts behind these NATs. */
export function directPathPossible(a: NatKind, b: NatKind): boolean {
  if (a === 'none' || b === 'none') return true;
  return a === 'eim' && b === 'eim';
}

/** Draws a kind with the mix's weights. */
export function drawNatKind(mix: NatMix, random: Random): NatKind {
  const total = NAT_KINDS.reduce((s, k) => s + Math.max(0, mix[k] ?? 0), 0);
  if (!(total > 0)) throw new RangeError('NAT mix needs a positive weight');
  let x = random.float() * total;
  for (const k of NAT_KINDS) {
    x -= Math.max(0, mix[k] ?? 0);
    if (x < 0) return k;
  }
  return 'none';
}

/**
 * A host's connector behind its NAT: dials to a peer it has no direct path to fail after
 * `iceFailMs`, and offers from such peers are ignored (their ICE checks never arrive).
 */
export class NatConnector implements Connector {
  constructor(
    private readonly inner: Connector,
    private readonly kind: NatKind,
    private readonly natOf: (address: RingAddress) => NatKind | undefined,
    private readonly clock: Clock,
    private readonly iceFailMs: number,
  ) {}

  private reachable(remote: RingAddress): boolean {
    const other = this.natOf(remote);
    return other === undefined || directPathPossible(this.kind, other);
  }

  dial(remote: RingAddress, signal: (payload: Uint8Array) => void): Promise<Link> {
    if (this.reachable(remote)) return this.inner.dial(remote, signal);
    return new Promise((_, reject) => this.clock.setTimeout(() => reject(new Error(`ICE failed: no direct path (${this.kind} NAT to ${this.natOf(remote)} NAT)`)), this.iceFailMs));
  }

  onSignal(from: RingAddress, payload: Uint8Array, reply: (payload: Uint8Array) => void): void {
    if (this.reachable(from)) this.inner.onSignal(from, payload, reply);
  }

  onIncoming(cb: (link: Link) => void): void {
    this.inner.onIncoming(cb);
  }

  close(): void {
    this.inner.close();
  }
}
