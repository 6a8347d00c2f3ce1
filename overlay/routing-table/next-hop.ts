// Greedy routing decision, pure. Each hop hands a message to the linked node strictly closer to the
// target than itself; the distance to the target shrinks at every hop, so a route can never loop,
// and the hop limit bounds it anyway. With correct successor/predecessor links greedy always reaches
// the node closest to a key: a node that is not the closest always has a ring neighbour closer.
import type { RingAddress } from '../ring/ring.js';
import { closerTo } from '../ring/ring.js';
import type { ConnectionTable } from './connection-table.js';

export type RouteDecision =
  | { kind: 'forward'; next: RingAddress }
  | { kind: 'deliver' }
  | { kind: 'drop'; reason: 'no-route' | 'dead-end' };

/**
 * Next hop for a message to `target` at this node.
 * - exact: deliver only at `target` itself; a direct link to it is used at once; if no neighbour is
 *   closer than we are, the target is unreachable ('dead-end').
 * - nearest: deliver at the node closest to `target`.
 * `exclude` (the message's source, when it asked for it) is never chosen as a hop, nor as the
 * nearest-mode destination. At the excluded node itself (the source) the message leaves through the
 * neighbour closest to the target even if that neighbour is farther than we are: a node not yet on
 * the ring is often closer to its own neighbourhood than its only link. From there distances shrink
 * strictly again, and the source can never be revisited.
 */
export function nextHop(table: ConnectionTable, target: RingAddress, exact: boolean, exclude?: RingAddress): RouteDecision {
  const self = table.self;
  const selfExcluded = exclude === self;
  if (target === self && (exact || !selfExcluded)) return { kind: 'deliver' };
  if (exact && table.has(target)) return { kind: 'forward', next: target };
  const best = table.closest(target, exclude);
  if (best !== undefined && (selfExcluded || closerTo(target, best, self))) return { kind: 'forward', next: best };
  if (!exact && !selfExcluded) return { kind: 'deliver' };
  return { kind: 'drop', reason: best === undefined ? 'no-route' : 'dead-end' };
}
