// The overlay DHT of the node running on this machine, reached through its control socket: what the
// image commands (separate processes) use to read and write registry records. Values are signed by
// the node's key, so every record an image process writes is owned by its node.
import { DhtConflictError, type Dht, type DhtRecord } from '../../overlay/api.js';
import { controlRequest } from '../control/client.js';

const text = new TextDecoder('utf-8', { fatal: true });

/** A Dht over the control socket at `socketPath`; each call is one request with its own deadline. */
export function controlDht(socketPath: string, timeoutMs = 30_000): Dht {
  const store = async (key: Uint8Array, value: Uint8Array, ttlMs: number, exclusive: boolean) => {
    const r = (await controlRequest(socketPath, { op: 'dht-store', key: text.decode(key), valueB64: Buffer.from(value).toString('base64'), ttlMs: Math.max(1000, Math.round(ttlMs)), exclusive }, timeoutMs)) as { stored: boolean; conflict?: boolean };
    if (!r.stored) throw new DhtConflictError(`another owner holds ${text.decode(key)}`);
  };
  return {
    put: (key, value, ttlMs) => store(key, value, ttlMs, false),
    create: (key, value, ttlMs) => store(key, value, ttlMs, true),
    async get(key) {
      const rows = (await controlRequest(socketPath, { op: 'dht-fetch', key: text.decode(key) }, timeoutMs)) as Array<{ valueB64: string; owner: string; ttlMs: number }>;
      return rows.map((r): DhtRecord => ({ key, value: new Uint8Array(Buffer.from(r.valueB64, 'base64')), owner: new Uint8Array(Buffer.from(r.owner, 'hex')), ttlMs: r.ttlMs }));
    },
    async remove(key) {
      await controlRequest(socketPath, { op: 'dht-remove', key: text.decode(key) }, timeoutMs);
    },
  };
}
