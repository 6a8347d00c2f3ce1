// Which node holds a virtual IP, as its lease in the DHT says, remembered for a while. A sharer
// record's peer endpoint is its writer's word: a mount asks a peer only at an address the writer's
// own node holds, so a record cannot point readers at a third node's address.
import type { Clock } from '../../lib/clock.js';

/** How long an answer is kept (a lease changes hands only when its holder lets it go). */
const OWNER_TTL_MS = 60_000;
/** Answers kept at most (the oldest go first). */
const MAX_OWNERS = 1024;

export class VipOwners {
  private readonly known = new Map<string, { owner: string | undefined; at: number }>();

  constructor(
    private readonly lookup: (vip: string) => Promise<string | undefined>,
    private readonly clock: Clock,
  ) {}

  /** True when the node with ring address `ring` (hex) holds `vip`; false when another or none does, or the lookup failed. */
  async holds(ring: string, vip: string): Promise<boolean> {
    const now = this.clock.now();
    let hit = this.known.get(vip);
    if (!hit || now - hit.at > OWNER_TTL_MS) {
      const owner = await this.lookup(vip).catch(() => null);
      if (owner === null) return false; // not remembered: the next refresh asks again
      this.known.delete(vip);
      if (this.known.size >= MAX_OWNERS) this.known.delete(this.known.keys().next().value as string);
      hit = { owner, at: now };
      this.known.set(vip, hit);
    }
    return hit.owner === ring;
  }
}
