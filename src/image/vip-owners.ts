// Which node holds a virtual IP, as its lease in the DHT says, remembered for a while. A sharer
// record's peer endpoint is its writer's word: a mount asks a peer only at an address the writer's
// own node holds, so a record cannot point readers at a third node's address.
import type { Clock } from '../../lib/clock.js';

/** How long an answer naming a holder is kept (a lease changes hands only when its holder lets it go). */
const OWNER_TTL_MS = 60_000;
/** How long "nobody holds it" is kept (a lease being taken or renewed shows up soon). */
const NO_OWNER_TTL_MS = 5_000;
/** Answers kept at most (the oldest go first). */
const MAX_OWNERS = 1024;

export class VipOwners {
  private readonly known = new Map<string, { owner: string | undefined; at: number }>();

  constructor(
    private readonly lookup: (vip: string) => Promise<string | undefined>,
    private readonly clock: Clock,
  ) {}

  /** What is remembered: true or false when a fresh answer says, undefined when it must be asked. */
  remembered(ring: string, vip: string): boolean | undefined {
    const hit = this.known.get(vip);
    return hit && this.fresh(hit) ? hit.owner === ring : undefined;
  }

  /**
   * True when the node with ring address `ring` (hex) holds `vip`; false when another or none
   * does. A lookup that fails keeps the last answer (false when there was none) and is not
   * remembered: the next call asks again.
   */
  async holds(ring: string, vip: string): Promise<boolean> {
    let hit = this.known.get(vip);
    if (!hit || !this.fresh(hit)) {
      const owner = await this.lookup(vip).catch(() => null);
      if (owner === null) return hit ? hit.owner === ring : false;
      this.known.delete(vip);
      if (this.known.size >= MAX_OWNERS) this.known.delete(this.known.keys().next().value as string);
      hit = { owner, at: this.clock.now() };
      this.known.set(vip, hit);
    }
    return hit.owner === ring;
  }

  private fresh(hit: { owner: string | undefined; at: number }): boolean {
    return this.clock.now() - hit.at <= (hit.owner === undefined ? NO_OWNER_TTL_MS : OWNER_TTL_MS);
  }
}
