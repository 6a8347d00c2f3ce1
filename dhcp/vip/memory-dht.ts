// An in-memory Dht with the real contract (create is an atomic claim, TTLs on the injected clock,
// values per owner) for unit tests and the simulator. One shared store; `dhtFor(ownerKey)` is one
// node's view. `down` makes a node's operations fail (a partition), to test renewals.
import { DhtConflictError, DhtError, type Dht, type DhtRecord } from '../../overlay/api.js';
import type { Clock } from '../../lib/clock.js';

interface Stored {
  owner: Uint8Array;
  value: Uint8Array;
  expiresAt: number;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export class MemoryDhtStore {
  private readonly entries = new Map<string, Map<string, Stored>>();
  readonly down = new Set<string>();
  operations = 0;

  constructor(private readonly clock: Clock) {}

  dhtFor(ownerKey: Uint8Array): Dht {
    const me = hex(ownerKey);
    const owner = new Uint8Array(ownerKey);
    // Each call crosses an await, so concurrent callers interleave as they would over a network.
    const op = async <T>(fn: () => T): Promise<T> => {
      await Promise.resolve();
      this.operations++;
      if (this.down.has(me)) throw new DhtError('no-route', 'node is partitioned from the DHT');
      return fn();
    };
    return {
      put: (key, value, ttlMs) => op(() => void this.live(key).set(me, { owner, value: new Uint8Array(value), expiresAt: this.clock.now() + ttlMs })),
      create: (key, value, ttlMs) =>
        op(() => {
          const held = this.live(key);
          for (const other of held.keys()) if (other !== me) throw new DhtConflictError(`key held by another owner`);
          held.set(me, { owner, value: new Uint8Array(value), expiresAt: this.clock.now() + ttlMs });
        }),
      get: (key) =>
        op((): DhtRecord[] =>
          [...this.live(key).values()].map((s) => ({ key: new Uint8Array(key), value: new Uint8Array(s.value), owner: s.owner, ttlMs: s.expiresAt - this.clock.now() })),
        ),
      remove: (key) => op(() => void this.live(key).delete(me)),
    };
  }

  /** Live records under `key` (expired ones are dropped). */
  private live(key: Uint8Array): Map<string, Stored> {
    const k = hex(key);
    let m = this.entries.get(k);
    if (!m) {
      m = new Map();
      this.entries.set(k, m);
    }
    const now = this.clock.now();
    for (const [o, s] of m) if (s.expiresAt <= now) m.delete(o);
    return m;
  }

  /** Live (key, owner) pairs, for assertions. */
  snapshot(): Array<{ key: string; ownerHex: string }> {
    const out: Array<{ key: string; ownerHex: string }> = [];
    for (const [k] of this.entries) {
      const m = this.live(Buffer.from(k, 'hex'));
      for (const o of m.keys()) out.push({ key: Buffer.from(k, 'hex').toString(), ownerHex: o });
    }
    return out;
  }
}
