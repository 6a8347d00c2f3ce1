// Where DHCP addresses come from. The DHCP server only talks to `AddressPool`; this file also holds
// the local implementation (a contiguous range, leases persisted to a file). A DHT-backed pool
// (dhcp/vip/) implements the same interface for the virtual network.
import { intToIpv4, ipv4ToInt } from '../lib/ipv4.js';
import type { LeaseFile } from './server/lease-file.js';
import { CodedError } from '../lib/coded-error.js';

export interface Lease {
  /** Client identifier (option 61, or the hardware address), as a hex or 'hw:' string. */
  clientId: string;
  address: string;
  /** Wall-clock expiry, milliseconds since the Unix epoch (leases outlive restarts). */
  expiresAtMs: number;
}

export class AddressPoolError extends CodedError<'INVALID'> {}

export interface AddressPool {
  /** True when `address` is one this pool hands out (a REQUEST for anything else is NAKed). */
  contains(address: string): boolean;
  /** The client's unexpired lease, if any. */
  leaseOf(clientId: string): Promise<Lease | undefined>;
  /**
   * An address to OFFER: the client's live lease, else its previous address or `requested` when
   * free, else any free one. Reserves it for the client for a short while. undefined when exhausted.
   */
  offer(clientId: string, requested?: string): Promise<string | undefined>;
  /**
   * Binds `address` to the client for `leaseSeconds` (a new lease or a renewal). undefined when the
   * address is outside the pool, declined, or held by another client.
   */
  claim(clientId: string, address: string, leaseSeconds: number): Promise<Lease | undefined>;
  /** Ends the client's lease on `address` (RELEASE); does nothing if it does not hold it. */
  release(clientId: string, address: string): Promise<void>;
  /**
   * The client found `address` in use (DECLINE): drop its lease and keep the address out of service
   * for a while. Honoured only when `address` was offered or leased to this client (RFC 2131 4.3.3;
   * ISC Kea ignores a DECLINE whose lease is not the sender's): otherwise anyone could take addresses
   * out of service with spoofed DECLINEs. Resolves to whether it was honoured.
   */
  decline(clientId: string, address: string): Promise<boolean>;
  /** Flushes state; the pool must not be used afterwards. */
  close(): Promise<void>;
}

export interface LocalRangePoolOptions {
  first: string;
  last: string;
  /** Addresses inside the range never handed out (e.g. the server's own). */
  exclude?: readonly string[];
  /** Wall clock, ms since the Unix epoch (injected: tests move time). */
  now: () => number;
  /** Persisted lease table; leases are memory-only without one. */
  leaseFile?: LeaseFile;
  /** How long an OFFERed address stays reserved for its client; default 60 s (RFC 2131 4.3.1 leaves it to the server). */
  offerHoldMs?: number;
  /** How long a DECLINEd address stays out of service; default 10 min. */
  declineHoldMs?: number;
}

const DEFAULT_OFFER_HOLD_MS = 60_000;
const DEFAULT_DECLINE_HOLD_MS = 10 * 60_000;
/** Ranges are walked address by address: keep them to a sane size. */
const MAX_RANGE_ADDRESSES = 65_536;

/**
 * A contiguous IPv4 range. Records of expired leases are kept as the client's preferred address
 * (RFC 2131 4.3.1: hand a returning client its previous address when possible) until the address
 * is needed by someone else.
 */
export class LocalRangePool implements AddressPool {
  private readonly firstInt: number;
  private readonly lastInt: number;
  private readonly excluded: Set<number>;
  /** address -> lease (live or expired-but-remembered). */
  private readonly byAddress = new Map<number, Lease>();
  private readonly offers = new Map<number, { clientId: string; untilMs: number }>();
  private readonly declined = new Map<number, number>();
  private readonly offerHoldMs: number;
  private readonly declineHoldMs: number;

  constructor(private readonly opts: LocalRangePoolOptions) {
    this.firstInt = ipv4ToInt(opts.first);
    this.lastInt = ipv4ToInt(opts.last);
    if (this.lastInt < this.firstInt) throw new AddressPoolError('INVALID', `range ${opts.first}-${opts.last} is empty`);
    if (this.lastInt - this.firstInt + 1 > MAX_RANGE_ADDRESSES) throw new AddressPoolError('INVALID', `range ${opts.first}-${opts.last} is larger than ${MAX_RANGE_ADDRESSES} addresses`);
    this.excluded = new Set((opts.exclude ?? []).map(ipv4ToInt));
    this.offerHoldMs = opts.offerHoldMs ?? DEFAULT_OFFER_HOLD_MS;
    this.declineHoldMs = opts.declineHoldMs ?? DEFAULT_DECLINE_HOLD_MS;
    for (const lease of opts.leaseFile?.load() ?? []) {
      const n = ipv4ToInt(lease.address);
      if (this.inRange(n)) this.byAddress.set(n, lease);
    }
  }

  /** Every lease record, live or remembered (for status output and tests). */
  leases(): Lease[] {
    return [...this.byAddress.values()].map((l) => ({ ...l }));
  }

  contains(address: string): boolean {
    try {
      const n = ipv4ToInt(address);
      return this.inRange(n) && !this.excluded.has(n);
    } catch {
      return false;
    }
  }

  async leaseOf(clientId: string): Promise<Lease | undefined> {
    const now = this.opts.now();
    for (const lease of this.byAddress.values()) if (lease.clientId === clientId && lease.expiresAtMs > now) return { ...lease };
    return undefined;
  }

  async offer(clientId: string, requested?: string): Promise<string | undefined> {
    const now = this.opts.now();
    const candidates: number[] = [];
    for (const [n, lease] of this.byAddress) if (lease.clientId === clientId) candidates.push(n);
    for (const [n, o] of this.offers) if (o.clientId === clientId && o.untilMs > now) candidates.push(n);
    if (requested !== undefined && this.contains(requested)) candidates.push(ipv4ToInt(requested));
    let chosen = candidates.find((n) => this.freeFor(n, clientId, now));
    if (chosen === undefined) chosen = this.findFree(clientId, now, false) ?? this.findFree(clientId, now, true);
    if (chosen === undefined) return undefined;
    for (const [n, o] of this.offers) if (o.clientId === clientId) this.offers.delete(n);
    this.offers.set(chosen, { clientId, untilMs: now + this.offerHoldMs });
    return intToIpv4(chosen);
  }

  async claim(clientId: string, address: string, leaseSeconds: number): Promise<Lease | undefined> {
    if (!this.contains(address)) return undefined;
    const n = ipv4ToInt(address);
    const now = this.opts.now();
    if (!this.freeFor(n, clientId, now)) return undefined;
    // One address per client: a client moving to a new address gives up the old one.
    for (const [m, lease] of this.byAddress) if (lease.clientId === clientId && m !== n) this.byAddress.delete(m);
    this.offers.delete(n);
    const lease: Lease = { clientId, address, expiresAtMs: now + leaseSeconds * 1000 };
    this.byAddress.set(n, lease);
    this.persist();
    return { ...lease };
  }

  async release(clientId: string, address: string): Promise<void> {
    let n: number;
    try {
      n = ipv4ToInt(address);
    } catch {
      return;
    }
    const lease = this.byAddress.get(n);
    if (!lease || lease.clientId !== clientId) return;
    // Keep the record, expired, so the client gets the same address next time if it is still free.
    lease.expiresAtMs = Math.min(lease.expiresAtMs, this.opts.now());
    this.persist();
  }

  async decline(clientId: string, address: string): Promise<boolean> {
    if (!this.contains(address)) return false;
    const n = ipv4ToInt(address);
    const now = this.opts.now();
    const lease = this.byAddress.get(n);
    const offer = this.offers.get(n);
    const ours = lease?.clientId === clientId;
    if (!ours && !(offer && offer.clientId === clientId && offer.untilMs > now)) return false;
    if (ours) this.byAddress.delete(n);
    this.offers.delete(n);
    this.declined.set(n, now + this.declineHoldMs);
    this.persist();
    return true;
  }

  async close(): Promise<void> {
    this.persist();
  }

  private inRange(n: number): boolean {
    return n >= this.firstInt && n <= this.lastInt;
  }

  /** Whether `n` may be given to `clientId` now. */
  private freeFor(n: number, clientId: string, now: number): boolean {
    if (!this.inRange(n) || this.excluded.has(n)) return false;
    if ((this.declined.get(n) ?? 0) > now) return false;
    const lease = this.byAddress.get(n);
    if (lease && lease.clientId !== clientId && lease.expiresAtMs > now) return false;
    const o = this.offers.get(n);
    if (o && o.clientId !== clientId && o.untilMs > now) return false;
    return true;
  }

  /** Lowest free address; first pass skips addresses remembered for other clients. */
  private findFree(clientId: string, now: number, reuseRemembered: boolean): number | undefined {
    for (let n = this.firstInt; n <= this.lastInt; n++) {
      if (!this.freeFor(n, clientId, now)) continue;
      const lease = this.byAddress.get(n);
      if (!reuseRemembered && lease && lease.clientId !== clientId) continue;
      return n;
    }
    return undefined;
  }

  private persist(): void {
    this.opts.leaseFile?.save([...this.byAddress.values()]);
  }
}
