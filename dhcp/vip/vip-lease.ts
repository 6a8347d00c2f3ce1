// Claims and keeps this node's virtual IP (IPOP's DhtDhcp):
//   claim: preferred address first, then random ones: dht.create("dhcp/<net>/<ip>") bound to our key;
//          a conflict (someone holds it) moves on to another address. After a create succeeds we read
//          the key back, and again after a probation (confirmMs): a create made while the ring is still
//          forming (many nodes joining at once) can succeed at a node that is not yet the key's true
//          primary, and the probation gives re-replication time to bring every copy of the key to it.
//          A claimant that sees any other live owner yields (removes its record, tries another
//          address): an established holder is never displaced, and two claimants racing for one
//          address both move on rather than both keep it (with useDuringProbation, as the node's own
//          vIP does, the address is in use during the probation and a rival found at its end takes it
//          away through onLost: a joining node is reachable a second sooner). A storm so large that the ring has not
//          settled within the probation can still let two claims through; the read-backs below find
//          such a double within verifyAfterMs and the claimant gives its address up (the 1,000-node
//          simulated storm, test/sim/vip-storm.test.ts, checks that none is left).
//   renew: create again (the owner may refresh) every ttl * renewFraction; a conflict means the lease
//          was lost (e.g. we were partitioned past the TTL and someone took it): reported via onLost.
//          Other errors retry every retryMs until the lease would expire, then it is lost too.
//   verify: while in use, read back again at verifyAfterMs (a big join storm settles slower than the
//          probation); a rival with a smaller key found then makes us give the address up (onLost),
//          as a conflict would (the smaller key keeps it, so exactly one side of a double moves).
//   release: remove the record (overlay down).
// Clock and randomness are injected (the simulator runs this at 1,000 nodes).
import { DhtConflictError, type Dht } from '../../overlay/api.js';
import { sleep, type Clock, type Random, type Timer } from '../../lib/clock.js';
import { intToIpv4 } from '../../lib/ipv4.js';
import { compareKeys, decodeLeaseRecord, encodeLeaseRecord, leaseKey } from './lease-record.js';
import type { Subnet } from './subnet.js';
import { CodedError } from '../../lib/coded-error.js';

export class VipLeaseError extends CodedError<'EXHAUSTED' | 'STOPPED' | 'BAD_PREFERRED'> {}

export interface VipLeaseComponents {
  dht: Dht;
  clock: Clock;
  random: Random;
  /** This node's raw Ed25519 public key (the owner of its DHT records). */
  ownerKey: Uint8Array;
  /** Diagnostic lines (the claim's steps, with their times). */
  log?: (line: string) => void;
}

export interface VipLeaseOptions {
  /** Network name: the key namespace "dhcp/<network>/...". */
  network: string;
  subnet: Subnet;
  /** Address to try first (e.g. the one held before a restart). */
  preferred?: number;
  /** DHT record lifetime. Default 120 s: a crashed node's address frees within two minutes. */
  ttlMs?: number;
  /** Renew after this fraction of the TTL. Default 1/3: two renewals may fail before expiry. */
  renewFraction?: number;
  /** Retry delay after a failed renewal (not a conflict). Default 5 s. */
  retryMs?: number;
  /** Addresses tried before giving up. Default 32: at 50% occupancy the chance to fail is 2^-32. */
  maxAttempts?: number;
  /** DHCP client id for VM leases; '' (default) for the node's own address. */
  clientId?: string;
  /** Probation before a claimed address is used: read the key back again after this. Default 1 s. */
  confirmMs?: number;
  /**
   * Use the address during the probation: claim() resolves once the create and the first read-back
   * found no rival, and the probation's read-back runs while the address is in use; a rival found then
   * gives it up (onLost), as a late rival does. A joining node is reachable a probation sooner; the
   * price is that a double from two simultaneous claims lives up to confirmMs. Default false.
   */
  useDuringProbation?: boolean;
  /**
   * Read-backs after the address is in use (ms after the claim). In a large join storm the ring takes
   * longer than the probation to settle (a 1,000-node storm within 2 s behind NATs: up to a minute); a
   * rival found then makes us give the address up (onLost). Default [5 s, 20 s, 60 s]; after that the
   * renewals (an exclusive create every ttl/3) keep checking.
   */
  verifyAfterMs?: readonly number[];
}

export const DEFAULT_LEASE_TTL_MS = 120_000;
export const DEFAULT_RENEW_FRACTION = 1 / 3;
export const DEFAULT_RENEW_RETRY_MS = 5_000;
export const DEFAULT_MAX_CLAIM_ATTEMPTS = 32;
export const DEFAULT_CLAIM_CONFIRM_MS = 1_000;
export const DEFAULT_VERIFY_AFTER_MS: readonly number[] = [5_000, 20_000, 60_000];

const isConflict = (err: unknown) => err instanceof DhtConflictError;

export class VipLease {
  /** The held address (unsigned 32-bit), or undefined before claim / after loss or release. */
  vip: number | undefined;
  /** When the DHT record expires if not renewed (clock ms). */
  expiresAt = 0;
  readonly stats = { attempts: 0, conflicts: 0, raceLosses: 0, lateRivals: 0, errors: 0, renewals: 0, renewFailures: 0 };
  private readonly ttlMs: number;
  private readonly renewMs: number;
  private readonly retryMs: number;
  private timer: Timer | undefined;
  private readonly verifyTimers = new Set<Timer>();
  private stopped = false;
  private lostHandlers: Array<(vip: number, reason: string) => void> = [];

  constructor(
    private readonly c: VipLeaseComponents,
    private readonly o: VipLeaseOptions,
  ) {
    this.ttlMs = o.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    this.renewMs = Math.max(1, Math.floor(this.ttlMs * (o.renewFraction ?? DEFAULT_RENEW_FRACTION)));
    this.retryMs = o.retryMs ?? DEFAULT_RENEW_RETRY_MS;
    if (o.preferred !== undefined && !o.subnet.isHost(o.preferred))
      throw new VipLeaseError('BAD_PREFERRED', `preferred ${intToIpv4(o.preferred)} is not a host address of ${o.subnet}`);
  }

  /** Called once if the lease is lost (conflict on renewal, or renewals failing until expiry). */
  onLost(handler: (vip: number, reason: string) => void): void {
    this.lostHandlers.push(handler);
  }

  /** Claims an address; resolves with it (unsigned 32-bit). Throws VipLeaseError EXHAUSTED after maxAttempts. */
  async claim(): Promise<number> {
    const maxAttempts = this.o.maxAttempts ?? DEFAULT_MAX_CLAIM_ATTEMPTS;
    const tried = new Set<number>();
    const value = encodeLeaseRecord({ vip: 0, clientId: this.o.clientId ?? '' });
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      if (this.stopped) throw new VipLeaseError('STOPPED', 'lease stopped while claiming');
      const vip = this.candidate(attempt, tried);
      if (vip === undefined) break;
      tried.add(vip);
      this.stats.attempts++;
      const key = this.key(vip);
      new DataView(value.buffer).setUint32(1, vip);
      const asked = this.c.clock.now();
      try {
        await this.c.dht.create(key, value, this.ttlMs);
      } catch (err) {
        if (isConflict(err)) this.stats.conflicts++;
        else this.stats.errors++;
        this.c.log?.(`lease ${intToIpv4(vip)}: create failed after ${this.c.clock.now() - asked} ms: ${(err as Error).message}`);
        continue;
      }
      const startedAt = this.c.clock.now();
      this.c.log?.(`lease ${intToIpv4(vip)}: created in ${startedAt - asked} ms; probation`);
      // In use during the probation: only the immediate read-back now, the probation's later (onLost).
      const duringUse = this.o.useDuringProbation === true;
      if (!(duringUse ? await this.alone(key) : await this.aloneAfterProbation(key))) {
        this.stats.raceLosses++;
        await this.c.dht.remove(key).catch(() => undefined);
        continue;
      }
      if (this.stopped) {
        await this.c.dht.remove(key).catch(() => undefined);
        throw new VipLeaseError('STOPPED', 'lease stopped while claiming');
      }
      this.vip = vip;
      this.expiresAt = startedAt + this.ttlMs;
      this.schedule(this.renewMs);
      this.scheduleVerification(vip, key, duringUse ? (this.o.confirmMs ?? DEFAULT_CLAIM_CONFIRM_MS) : undefined);
      return vip;
    }
    throw new VipLeaseError('EXHAUSTED', `no free address in ${this.o.subnet} after ${tried.size} attempts`);
  }

  /** Removes the record and stops renewing. Idempotent. */
  async release(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.cancelVerification();
    const vip = this.vip;
    this.vip = undefined;
    if (vip !== undefined) await this.c.dht.remove(this.key(vip));
  }

  private key(vip: number): Uint8Array {
    return leaseKey(this.o.network, intToIpv4(vip));
  }

  private candidate(attempt: number, tried: Set<number>): number | undefined {
    if (attempt === 0 && this.o.preferred !== undefined) return this.o.preferred;
    const { subnet } = this.o;
    if (tried.size >= subnet.hostCount) return undefined;
    for (let i = 0; i < 64; i++) {
      const vip = subnet.host(this.c.random.int(subnet.hostCount));
      if (!tried.has(vip)) return vip;
    }
    // Small, crowded subnets: walk from a random start to the first untried host.
    const start = this.c.random.int(subnet.hostCount);
    for (let i = 0; i < subnet.hostCount; i++) {
      const vip = subnet.host((start + i) % subnet.hostCount);
      if (!tried.has(vip)) return vip;
    }
    return undefined;
  }

  /** After our create: true if no other live owner shows up now, nor after the probation. */
  private async aloneAfterProbation(key: Uint8Array): Promise<boolean> {
    if (!(await this.alone(key))) return false;
    const confirmMs = this.o.confirmMs ?? DEFAULT_CLAIM_CONFIRM_MS;
    if (confirmMs <= 0) return true;
    await sleep(this.c.clock, confirmMs);
    return !this.stopped && (await this.alone(key));
  }

  /**
   * True unless the DHT shows another live owner of a lease record under `key` (with `smallerOnly`,
   * only an owner whose key is smaller counts: once in use, exactly one side of a double gives way).
   */
  private async alone(key: Uint8Array, smallerOnly = false): Promise<boolean> {
    let records;
    try {
      records = await this.c.dht.get(key);
    } catch {
      return true; // our create succeeded; the next renewal re-checks through create
    }
    for (const r of records) {
      if (compareKeys(r.owner, this.c.ownerKey) === 0) continue;
      try {
        decodeLeaseRecord(r.value);
      } catch {
        continue; // not a lease record: ignore
      }
      if (!smallerOnly || compareKeys(r.owner, this.c.ownerKey) < 0) return false;
    }
    return true;
  }

  private cancelVerification(): void {
    for (const t of this.verifyTimers) t.cancel();
    this.verifyTimers.clear();
  }

  /**
   * Read-backs while the address is in use: the probation's at `probationMs` (useDuringProbation; any
   * other live owner makes us yield, as before use), then verifyAfterMs (only a smaller key does).
   */
  private scheduleVerification(vip: number, key: Uint8Array, probationMs?: number): void {
    const checks = (this.o.verifyAfterMs ?? DEFAULT_VERIFY_AFTER_MS).map((ms) => ({ ms, probation: false }));
    if (probationMs !== undefined && probationMs > 0) checks.unshift({ ms: probationMs, probation: true });
    for (const { ms, probation } of checks) {
      const timer = this.c.clock.setTimeout(async () => {
        this.verifyTimers.delete(timer);
        if (this.stopped || this.vip !== vip || (await this.alone(key, !probation))) return;
        if (this.stopped || this.vip !== vip) return;
        if (probation) this.stats.raceLosses++;
        else this.stats.lateRivals++;
        await this.c.dht.remove(key).catch(() => undefined);
        if (this.vip === vip) this.lose(vip, probation ? 'another node claimed the address at the same time' : 'another node claimed the address while the ring was still forming');
      }, ms);
      this.verifyTimers.add(timer);
    }
  }

  private schedule(ms: number): void {
    this.timer?.cancel();
    this.timer = this.c.clock.setTimeout(() => void this.renew(), ms);
  }

  private async renew(): Promise<void> {
    const vip = this.vip;
    if (this.stopped || vip === undefined) return;
    const value = encodeLeaseRecord({ vip, clientId: this.o.clientId ?? '' });
    const at = this.c.clock.now();
    try {
      await this.c.dht.create(this.key(vip), value, this.ttlMs);
    } catch (err) {
      if (this.stopped || this.vip !== vip) return;
      this.stats.renewFailures++;
      if (isConflict(err)) return this.lose(vip, 'another node holds the address (lease expired while unreachable)');
      if (this.c.clock.now() + this.retryMs >= this.expiresAt) return this.lose(vip, `renewal failed until expiry: ${(err as Error).message}`);
      return this.schedule(this.retryMs);
    }
    if (this.stopped || this.vip !== vip) return;
    this.stats.renewals++;
    this.expiresAt = at + this.ttlMs;
    this.schedule(this.renewMs);
  }

  private lose(vip: number, reason: string): void {
    this.vip = undefined;
    this.timer?.cancel();
    this.timer = undefined;
    this.cancelVerification();
    for (const h of this.lostHandlers) h(vip, reason);
  }
}
