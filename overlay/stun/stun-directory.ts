// Members' STUN servers through the DHT: a member running one (a bootstrap endpoint) advertises its
// addresses under STUN_ADVERT_KEY; every node reads the key after joining and then periodically, and
// hands what it finds to its connector (`learn`). This is how nodes learn servers from the overlay,
// beyond the bootstrap endpoint they joined through.
//
// Replacement: the learned server ICE uses is probed every STUN_PROBE_INTERVAL_MS; one that does not
// answer (its member left) is dropped (`forget`), not learned again for STUN_DEAD_FOR_MS (its advert
// may outlive it), and the next learned one, or one read from the DHT now, is probed in its place. A
// member leaving cleanly withdraws its advert (stop). Two timers; every DHT call is bounded by the
// DHT, every probe by its tries.
import type { Clock, Timer } from '../../lib/clock.js';
import type { Dht } from '../api.js';
import { StunCodecError } from './stun-codec.js';
import { decodeStunAdvert, encodeStunAdvert, STUN_ADVERT_KEY, STUN_ADVERT_MAX_SERVERS, type StunEndpoint } from './stun-advert.js';

/** An advertisement lives this long unless refreshed (a departed member's servers fade out). */
export const STUN_ADVERT_TTL_MS = 10 * 60_000;
/** Advertise again and look again this often. */
export const STUN_DIRECTORY_INTERVAL_MS = 3 * 60_000;
/** Records read per lookup at most (one per advertising member). */
export const STUN_DIRECTORY_READ_MAX = 16;
/** The STUN server in use is probed this often (one Binding request, a few bytes). */
export const STUN_PROBE_INTERVAL_MS = 15_000;
/** A server that did not answer is not learned again for this long (a departed member's advert lives up to its TTL). */
export const STUN_DEAD_FOR_MS = STUN_ADVERT_TTL_MS;
/** Servers probed per check at most, when one after another does not answer. */
export const STUN_CHECK_MAX_PROBES = 4;

export interface StunDirectoryDeps {
  dht: Pick<Dht, 'put' | 'get' | 'remove'>;
  clock: Clock;
  /** Our own public key (the owner of our record), to skip our own advertisement. */
  ownKey: Uint8Array;
  /** The addresses of our own STUN server, if we run one (asked afresh at each advertisement). */
  ownServers?: () => StunEndpoint[];
  learn(url: string): void;
  /** The learned server ICE uses now (undefined: none, or configured ones take precedence). */
  inUse?: () => string | undefined;
  /** Does `url` answer a Binding request? (stun-probe.ts) */
  probe?: (url: string) => Promise<boolean>;
  /** Stop using `url`. */
  forget?: (url: string) => void;
  log?: (line: string) => void;
}

export class StunDirectory {
  readonly counters = { adverts_published: 0, adverts_withdrawn: 0, adverts_read: 0, adverts_malformed: 0, lookup_failures: 0, probes: 0, servers_dropped: 0 };
  private timer?: Timer;
  private probeTimer?: Timer;
  private running = false;
  private checking = false;
  private stopped = false;
  /** Servers that did not answer, until when they are not learned again. */
  private readonly dead = new Map<string, number>();

  constructor(private readonly d: StunDirectoryDeps) {}

  start(): void {
    if (this.timer || this.stopped) return;
    void this.round();
    this.timer = this.d.clock.setInterval(() => void this.round(), STUN_DIRECTORY_INTERVAL_MS);
    if (this.d.probe && this.d.inUse && this.d.forget) this.probeTimer = this.d.clock.setInterval(() => void this.check(), STUN_PROBE_INTERVAL_MS);
  }

  /** Stops the timers and withdraws our advert if we published one (the node is leaving). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.probeTimer?.cancel();
    if (this.counters.adverts_published === 0) return;
    await this.d.dht.remove(STUN_ADVERT_KEY).then(
      () => void this.counters.adverts_withdrawn++,
      (err: unknown) => this.d.log?.(`STUN advertisement not withdrawn: ${(err as Error).message}`),
    );
  }

  /**
   * Probes the server in use; while it does not answer, drops it and tries the next (learning from
   * the DHT when none is left), at most STUN_CHECK_MAX_PROBES probes.
   */
  async check(): Promise<void> {
    const { probe, inUse, forget } = this.d;
    if (this.checking || this.stopped || !probe || !inUse || !forget) return;
    this.checking = true;
    try {
      let dropped: string | undefined;
      for (let i = 0; i < STUN_CHECK_MAX_PROBES && !this.stopped; i++) {
        if (inUse() === undefined && dropped !== undefined) await this.round();
        const url = inUse();
        if (url === undefined) {
          if (dropped) this.d.log?.(`STUN server ${dropped} stopped answering; no other member's server answers yet`);
          return;
        }
        this.counters.probes++;
        if (await probe(url)) {
          if (dropped) this.d.log?.(`STUN server ${dropped} stopped answering; now using ${url}`);
          return;
        }
        if (this.stopped) return;
        this.counters.servers_dropped++;
        this.dead.set(url, this.d.clock.now() + STUN_DEAD_FOR_MS);
        forget(url);
        dropped = url;
      }
    } finally {
      this.checking = false;
    }
  }

  /** One advertisement (if we run a server) and one lookup; rounds never overlap. */
  async round(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const own = this.d.ownServers?.().slice(0, STUN_ADVERT_MAX_SERVERS) ?? [];
      if (own.length > 0) {
        await this.d.dht.put(STUN_ADVERT_KEY, encodeStunAdvert(own), STUN_ADVERT_TTL_MS).then(
          () => void this.counters.adverts_published++,
          (err: unknown) => this.d.log?.(`STUN advertisement not stored: ${(err as Error).message}`),
        );
      }
      let records;
      try {
        records = await this.d.dht.get(STUN_ADVERT_KEY);
      } catch (err) {
        this.counters.lookup_failures++;
        this.d.log?.(`STUN servers lookup failed: ${(err as Error).message}`);
        return;
      }
      const now = this.d.clock.now();
      for (const [url, until] of this.dead) if (until <= now) this.dead.delete(url);
      for (const r of records.slice(0, STUN_DIRECTORY_READ_MAX)) {
        if (Buffer.from(r.owner).equals(Buffer.from(this.d.ownKey))) continue;
        try {
          for (const s of decodeStunAdvert(r.value).servers) {
            const url = `stun:${s.address}:${s.port}`;
            if (!this.dead.has(url)) this.d.learn(url);
          }
          this.counters.adverts_read++;
        } catch (err) {
          if (!(err instanceof StunCodecError)) throw err;
          this.counters.adverts_malformed++;
        }
      }
    } finally {
      this.running = false;
    }
  }
}
