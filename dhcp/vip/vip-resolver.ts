// What the forwarder needs to know about virtual IPs: who owns one (ring address). Implemented by
// dhcp/vip/ (DHT records, cached); a Map-backed double in tests.
import type { RingAddress } from '../../overlay/ring/ring.js';

export interface VipResolver {
  /** Cached owner of `vip` (unsigned 32-bit), or undefined if not cached (never does I/O). */
  lookup(vip: number): RingAddress | undefined;
  /** Resolves `vip` (from cache or the DHT); undefined if nobody holds it. Concurrent calls share one query. */
  resolve(vip: number): Promise<RingAddress | undefined>;
  /** The cached answer looks stale (a peer claims the address, or its owner is unreachable): re-query in the background, rate-limited. */
  refresh(vip: number): void;
}
