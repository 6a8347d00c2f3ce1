// Members' STUN servers through the DHT: a member running one (a bootstrap endpoint) advertises its
// addresses under STUN_ADVERT_KEY; every node reads the key after joining and then periodically, and
// hands what it finds to its connector (`learn`). This is how nodes learn servers from the overlay,
// beyond the bootstrap endpoint they joined through. One timer; every DHT call is bounded by the DHT.
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

export interface StunDirectoryDeps {
  dht: Pick<Dht, 'put' | 'get'>;
  clock: Clock;
  /** Our own public key (the owner of our record), to skip our own advertisement. */
  ownKey: Uint8Array;
  /** The addresses of our own STUN server, if we run one (asked afresh at each advertisement). */
  ownServers?: () => StunEndpoint[];
  learn(url: string): void;
  log?: (line: string) => void;
}

export class StunDirectory {
  readonly counters = { adverts_published: 0, adverts_read: 0, adverts_malformed: 0, lookup_failures: 0 };
  private timer?: Timer;
  private running = false;

  constructor(private readonly d: StunDirectoryDeps) {}

  start(): void {
    if (this.timer) return;
    void this.round();
    this.timer = this.d.clock.setInterval(() => void this.round(), STUN_DIRECTORY_INTERVAL_MS);
  }

  stop(): void {
    this.timer?.cancel();
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
      for (const r of records.slice(0, STUN_DIRECTORY_READ_MAX)) {
        if (Buffer.from(r.owner).equals(Buffer.from(this.d.ownKey))) continue;
        try {
          for (const s of decodeStunAdvert(r.value).servers) this.d.learn(`stun:${s.address}:${s.port}`);
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
