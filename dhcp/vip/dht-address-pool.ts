// An AddressPool (dhcp/address-pool.ts) backed by the virtual network's DHT leases, so a node's DHCP
// server can hand VMs on its TAP/bridge addresses of the virtual subnet that no other node (or VM)
// holds. Each VM lease is a "dhcp/<network>/<ip>" record owned by this node's key with the VM's client
// id in the value; the DHCP lease time is the record's TTL (a client's renewal refreshes it).
// Several VMs share the node's key, so "held by another client of ours" is checked on the value.
import { DhtConflictError, type Dht } from '../../overlay/api.js';
import type { Clock, Random } from '../../lib/clock.js';
import type { AddressPool, Lease } from '../address-pool.js';
import { intToIpv4, ipv4ToInt } from '../../lib/ipv4.js';
import { compareKeys, decodeLeaseRecord, encodeLeaseRecord, leaseKey } from './lease-record.js';
import type { Subnet } from './subnet.js';

export interface DhtAddressPoolComponents {
  dht: Dht;
  /** Monotonic clock for offer/decline holds. */
  clock: Clock;
  random: Random;
  /** Wall clock, ms since the Unix epoch (Lease.expiresAtMs). */
  now: () => number;
  /** This node's raw public key (owner of the records it writes). */
  ownerKey: Uint8Array;
}

export interface DhtAddressPoolOptions {
  network: string;
  subnet: Subnet;
  /** Never handed out (e.g. addresses configured statically on the bridge). */
  exclude?: readonly string[];
  /** How long an OFFERed address stays reserved locally. Default 60 s. */
  offerHoldMs?: number;
  /** How long a DECLINEd address stays out of service locally. Default 10 min. */
  declineHoldMs?: number;
  /** Random addresses probed per OFFER. Default 32. */
  maxProbes?: number;
}

const isConflict = (err: unknown) => err instanceof DhtConflictError;

export class DhtAddressPool implements AddressPool {
  private readonly leases = new Map<string, { vip: number; expiresAtMs: number }>();
  private readonly offers = new Map<number, { clientId: string; until: number }>();
  private readonly declined = new Map<number, number>();
  private readonly excluded: Set<number>;

  constructor(
    private readonly c: DhtAddressPoolComponents,
    private readonly o: DhtAddressPoolOptions,
  ) {
    this.excluded = new Set((o.exclude ?? []).map(ipv4ToInt));
  }

  contains(address: string): boolean {
    try {
      const n = ipv4ToInt(address);
      return this.o.subnet.isHost(n) && !this.excluded.has(n);
    } catch {
      return false;
    }
  }

  async leaseOf(clientId: string): Promise<Lease | undefined> {
    const l = this.leases.get(clientId);
    if (!l || l.expiresAtMs <= this.c.now()) return undefined;
    return { clientId, address: intToIpv4(l.vip), expiresAtMs: l.expiresAtMs };
  }

  async offer(clientId: string, requested?: string): Promise<string | undefined> {
    const candidates: number[] = [];
    const held = this.leases.get(clientId);
    if (held) candidates.push(held.vip);
    for (const [n, off] of this.offers) if (off.clientId === clientId && off.until > this.c.clock.now()) candidates.push(n);
    if (requested !== undefined && this.contains(requested)) candidates.push(ipv4ToInt(requested));
    const probes = this.o.maxProbes ?? 32;
    for (let i = 0; i < probes; i++) candidates.push(this.o.subnet.host(this.c.random.int(this.o.subnet.hostCount)));
    for (const n of candidates) {
      if (!(await this.freeFor(n, clientId))) continue;
      for (const [m, off] of this.offers) if (off.clientId === clientId) this.offers.delete(m);
      this.offers.set(n, { clientId, until: this.c.clock.now() + (this.o.offerHoldMs ?? 60_000) });
      return intToIpv4(n);
    }
    return undefined;
  }

  async claim(clientId: string, address: string, leaseSeconds: number): Promise<Lease | undefined> {
    if (!this.contains(address)) return undefined;
    const n = ipv4ToInt(address);
    if (!(await this.freeFor(n, clientId))) return undefined;
    try {
      await this.c.dht.create(leaseKey(this.o.network, address), encodeLeaseRecord({ vip: n, clientId }), leaseSeconds * 1000);
    } catch (err) {
      if (isConflict(err)) return undefined;
      throw err;
    }
    // One address per client: moving to a new one gives up the old.
    const old = this.leases.get(clientId);
    if (old && old.vip !== n) await this.c.dht.remove(leaseKey(this.o.network, intToIpv4(old.vip))).catch(() => undefined);
    this.offers.delete(n);
    const expiresAtMs = this.c.now() + leaseSeconds * 1000;
    this.leases.set(clientId, { vip: n, expiresAtMs });
    return { clientId, address, expiresAtMs };
  }

  async release(clientId: string, address: string): Promise<void> {
    const l = this.leases.get(clientId);
    if (!l || intToIpv4(l.vip) !== address) return;
    this.leases.delete(clientId);
    await this.c.dht.remove(leaseKey(this.o.network, address));
  }

  /** Honoured only for the client `address` was offered or leased to (see AddressPool.decline). */
  async decline(clientId: string, address: string): Promise<boolean> {
    if (!this.contains(address)) return false;
    const n = ipv4ToInt(address);
    const l = this.leases.get(clientId);
    const off = this.offers.get(n);
    const ours = l !== undefined && l.vip === n;
    if (!ours && !(off && off.clientId === clientId && off.until > this.c.clock.now())) return false;
    if (ours) {
      this.leases.delete(clientId);
      await this.c.dht.remove(leaseKey(this.o.network, address)).catch(() => undefined);
    }
    this.offers.delete(n);
    this.declined.set(n, this.c.clock.now() + (this.o.declineHoldMs ?? 10 * 60_000));
    return true;
  }

  /** Records expire by their TTL; nothing to flush. */
  async close(): Promise<void> {}

  /** Free for `clientId`: not excluded/declined/offered to another client, and no live record but this client's own. */
  private async freeFor(n: number, clientId: string): Promise<boolean> {
    if (!this.o.subnet.isHost(n) || this.excluded.has(n)) return false;
    const now = this.c.clock.now();
    if ((this.declined.get(n) ?? 0) > now) return false;
    const off = this.offers.get(n);
    if (off && off.clientId !== clientId && off.until > now) return false;
    for (const [other, l] of this.leases) if (other !== clientId && l.vip === n && l.expiresAtMs > this.c.now()) return false;
    const records = await this.c.dht.get(leaseKey(this.o.network, intToIpv4(n)));
    for (const r of records) {
      if (compareKeys(r.owner, this.c.ownerKey) !== 0) return false; // another node (or its VM) holds it
      try {
        if (decodeLeaseRecord(r.value).clientId !== clientId) return false; // our own address, or another VM of ours
      } catch {
        return false;
      }
    }
    return true;
  }
}
