// Re-replication planning, pure: which copies a holder pushes to whom after its view of the ring
// changed. A key's replica set, as one node sees it, is the r nodes closest to the key among the
// node itself and its linked peers.
//
// Every holder of a copy takes part, not only the members of the replica set:
// - a member pushes to the other members that have not had that version from it (a node that just
//   joined between two replicas, or the replacement of a crashed one);
// - a holder that is NOT a member (it took the copy while the ring was still settling, or closer
//   nodes joined since) hands the copy to the members it sees, so a value written to the wrong
//   place moves to where gets look. It keeps its own copy until expiry (a spare for read repair).
// A version goes to each peer at most once per holder (`pushedTo`), so repeated passes cost nothing
// once the copies sit where they belong.
import type { RingAddress } from '../ring/ring.js';
import { closerTo } from '../ring/ring.js';
import type { Copy } from './dht-messages.js';
import type { KeySlot } from './record-store.js';

/** The `r` closest to `position` among `self` and `peers` (the peers given closest first or not), closest first. */
export function replicaSet(position: RingAddress, self: RingAddress, peers: readonly RingAddress[], r: number): RingAddress[] {
  const all = peers.includes(self) ? [...peers] : [...peers, self];
  all.sort((a, b) => (a === b ? 0 : closerTo(position, a, b) ? -1 : 1));
  return all.slice(0, r);
}

export interface PushPlan {
  /** Copies to send, per peer. */
  batches: Map<RingAddress, Copy[]>;
  /** Copies we hold for keys whose replica set (in our view) no longer includes us. */
  handedOff: number;
}

/**
 * Plans the pushes of one re-replication pass over `slots` and records them in each copy's
 * `pushedTo` (the caller sends the batches). `closestPeers(position, n)`: our linked peers closest
 * to a position. Expired copies are skipped.
 */
export function planPushes(
  slots: Iterable<KeySlot>,
  self: RingAddress,
  closestPeers: (position: RingAddress, n: number) => RingAddress[],
  r: number,
  now: number,
): PushPlan {
  const batches = new Map<RingAddress, Copy[]>();
  let handedOff = 0;
  for (const slot of slots) {
    const set = replicaSet(slot.position, self, closestPeers(slot.position, r), r);
    const member = set.includes(self);
    for (const held of slot.byOwner.values()) {
      if (held.expiresAt <= now) continue;
      if (!member) handedOff++;
      for (const p of set) {
        if (p === self || held.pushedTo.has(p)) continue;
        let b = batches.get(p);
        if (!b) batches.set(p, (b = []));
        b.push({ record: held.record, ttlLeftMs: held.expiresAt - now });
        held.pushedTo.add(p);
      }
    }
  }
  return { batches, handedOff };
}
