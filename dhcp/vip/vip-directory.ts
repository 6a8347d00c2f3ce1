// vIP -> ring address, through the lease records ("dhcp/<net>/<ip>"): the owner's key gives the ring
// address. Answers are cached for cacheTtlMs (never past the record's own TTL); a lookup of an entry
// older than that still answers and refreshes it in the background, so the data path never waits
// on the DHT for a known peer. Misses are cached briefly (negativeTtlMs) so a scan of unused
// addresses does not flood the DHT.
import type { Dht } from '../../overlay/api.js';
import type { Clock } from '../../lib/clock.js';
import type { RingAddress } from '../../overlay/ring/ring.js';
import { addressOfKey } from '../../overlay/identity.js';
import { intToIpv4 } from '../../lib/ipv4.js';
import type { VipResolver } from './vip-resolver.js';
import { compareKeys, decodeLeaseRecord, leaseKey } from './lease-record.js';

export interface VipDirectoryOptions {
  network: string;
  /** How long an answer is used before it is refreshed. Default 30 s. */
  cacheTtlMs?: number;
  /** How long "nobody holds it" is remembered. Default 2 s. */
  negativeTtlMs?: number;
  /** Entries kept at most (oldest evicted). Default 65,536. */
  maxEntries?: number;
  /** Least time between forced re-queries of one address (refresh), so spoofed traffic cannot flood the DHT. Default 1 s. */
  refreshIntervalMs?: number;
}

interface Entry {
  owner: RingAddress | undefined;
  /** Refresh after this (clock ms). */
  freshUntil: number;
  /** Never use after this: the DHT record itself expires. */
  validUntil: number;
}

export class VipDirectory implements VipResolver {
  readonly stats = { queries: 0, hits: 0, misses: 0, errors: 0 };
  private readonly cache = new Map<number, Entry>();
  private readonly inflight = new Map<number, Promise<RingAddress | undefined>>();
  private readonly cacheTtlMs: number;
  private readonly negativeTtlMs: number;
  private readonly maxEntries: number;
  private readonly refreshIntervalMs: number;
  private readonly lastQuery = new Map<number, number>();

  constructor(
    private readonly c: { dht: Dht; clock: Clock },
    private readonly o: VipDirectoryOptions,
  ) {
    this.cacheTtlMs = o.cacheTtlMs ?? 30_000;
    this.negativeTtlMs = o.negativeTtlMs ?? 2_000;
    this.maxEntries = o.maxEntries ?? 65_536;
    this.refreshIntervalMs = o.refreshIntervalMs ?? 1_000;
  }

  lookup(vip: number): RingAddress | undefined {
    const e = this.cache.get(vip);
    const now = this.c.clock.now();
    if (!e || now >= e.validUntil) return undefined;
    this.stats.hits++;
    if (now >= e.freshUntil) void this.resolve(vip, true).catch(() => undefined);
    return e.owner;
  }

  /** Cached answer if fresh, else one DHT query shared by concurrent callers. */
  resolve(vip: number, force = false): Promise<RingAddress | undefined> {
    const e = this.cache.get(vip);
    if (!force && e && this.c.clock.now() < e.freshUntil) return Promise.resolve(e.owner);
    let p = this.inflight.get(vip);
    if (!p) {
      p = this.query(vip).finally(() => this.inflight.delete(vip));
      this.inflight.set(vip, p);
    }
    return p;
  }

  /** Re-queries `vip` in the background, at most once per refreshIntervalMs per address. */
  refresh(vip: number): void {
    const now = this.c.clock.now();
    if (now - (this.lastQuery.get(vip) ?? -Infinity) < this.refreshIntervalMs) return;
    void this.resolve(vip, true).catch(() => undefined);
  }

  /** Forgets an answer (e.g. the peer said it no longer holds the address). */
  invalidate(vip: number): void {
    this.cache.delete(vip);
  }

  private async query(vip: number): Promise<RingAddress | undefined> {
    this.stats.queries++;
    this.lastQuery.set(vip, this.c.clock.now());
    if (this.lastQuery.size > this.maxEntries) this.lastQuery.delete(this.lastQuery.keys().next().value!);
    let records;
    try {
      // Hedged: packets wait for this answer; a stale one is caught by the forwarder's owner check (refresh).
      records = await this.c.dht.get(leaseKey(this.o.network, intToIpv4(vip)), { hedged: true });
    } catch (err) {
      this.stats.errors++;
      throw err;
    }
    const now = this.c.clock.now();
    // Normally one record. After a DHT race the smaller owner key keeps the address (see VipLease).
    let best: { owner: Uint8Array; ttlMs: number } | undefined;
    for (const r of records) {
      try {
        if (decodeLeaseRecord(r.value).vip !== vip) continue;
      } catch {
        continue;
      }
      if (!best || compareKeys(r.owner, best.owner) < 0) best = { owner: r.owner, ttlMs: r.ttlMs };
    }
    if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
    this.cache.delete(vip);
    if (!best) {
      this.stats.misses++;
      this.cache.set(vip, { owner: undefined, freshUntil: now + this.negativeTtlMs, validUntil: now + this.negativeTtlMs });
      return undefined;
    }
    const owner = addressOfKey(best.owner);
    this.cache.set(vip, { owner, freshUntil: now + Math.min(this.cacheTtlMs, best.ttlMs), validUntil: now + best.ttlMs });
    return owner;
  }
}
