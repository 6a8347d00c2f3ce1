// A bounded set of records whose signatures were already checked, keyed by a hash of their whole
// signed content (owner, signed bytes, signature). The same record reaches a node many times
// (replication, re-replication, read repair, every get), and an Ed25519 verification costs ~50x a
// SHA-256 of its bytes. Only good signatures are remembered: a forged record is checked each time
// and can never enter, since any changed byte changes the hash.
import { createHash } from 'node:crypto';

/** Enough for every record a busy node touches within minutes; ~100 bytes per entry. */
export const DEFAULT_VERIFIED_CACHE_ENTRIES = 65_536;

export class VerifiedCache {
  private readonly seen = new Set<string>();
  hits = 0;
  misses = 0;

  constructor(readonly maxEntries = DEFAULT_VERIFIED_CACHE_ENTRIES) {}

  /** The cache key of a record: SHA-256 over owner, signed bytes and signature. */
  static keyOf(owner: Uint8Array, signed: Uint8Array, sig: Uint8Array): string {
    return createHash('sha256').update(owner).update(signed).update(sig).digest('base64');
  }

  /** True if `verify()` said yes before for this exact content; otherwise runs it and remembers a yes. */
  check(key: string, verify: () => boolean): boolean {
    if (this.seen.has(key)) {
      this.hits++;
      return true;
    }
    this.misses++;
    if (!verify()) return false;
    if (this.seen.size >= this.maxEntries) {
      // Oldest first (a Set iterates in insertion order).
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    this.seen.add(key);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}

/** The process-wide cache (a simulation's nodes share it: one check per record for the whole run). */
export const verifiedRecords = new VerifiedCache();
