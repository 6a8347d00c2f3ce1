// The node-name service (a NodeService, src/node.ts): publishes this node's name in the DHT and
// refreshes it, and answers "which names do these ring addresses have?" for `overlay status` from a
// bounded cache, asking the DHT for the unknown ones with a bounded wait (late answers fill the cache).
import type { NodeContext, NodeService } from '../node.js';
import type { Timer } from '../../lib/clock.js';
import type { RingAddress } from '../../overlay/ring/ring.js';
import { decodeNameRecord, encodeName, nameKey } from './node-name.js';
import { NAMES_REQUEST_MAX } from '../control/protocol.js';

/** Life of the published name; refreshed every NAME_REFRESH_MS, so a node gone for good is forgotten. */
export const NAME_TTL_MS = 10 * 60_000;
export const NAME_REFRESH_MS = 3 * 60_000;
/** How long a looked-up name (or "no name") is reused before asking again. */
export const NAME_CACHE_MS = 5 * 60_000;
export const NAME_MISS_CACHE_MS = 60_000;
export const NAME_CACHE_MAX = 1024;
/** `overlay status` waits at most this for names it does not know yet. */
export const NAME_LOOKUP_WAIT_MS = 1_500;

export interface NamesService extends NodeService {
  /** Names of the given ring addresses (hex) that have one, as far as known within NAME_LOOKUP_WAIT_MS. */
  peerNames(addresses: string[]): Promise<Record<string, string>>;
}

export function namesService(name: string | undefined): NamesService {
  let ctx: NodeContext | undefined;
  let refresh: Timer | undefined;
  const cache = new Map<string, { name: string | undefined; until: number }>();
  const inflight = new Map<string, Promise<void>>();

  const publish = async () => {
    if (!ctx || name === undefined) return;
    try {
      await ctx.overlay.dht.put(nameKey(ctx.config.network, ctx.identity.address), encodeName(name), NAME_TTL_MS);
    } catch (err) {
      ctx.log(`name: publishing '${name}' failed: ${(err as Error).message}`);
    }
  };

  const lookUp = (hex: string): Promise<void> => {
    let p = inflight.get(hex);
    if (p) return p;
    const c = ctx!;
    const address: RingAddress = BigInt(`0x${hex}`);
    p = c.overlay.dht
      .get(nameKey(c.config.network, address))
      .then((records) => {
        const found = records.map((r) => decodeNameRecord(address, r)).find((n) => n !== undefined);
        if (cache.size >= NAME_CACHE_MAX) cache.delete(cache.keys().next().value!);
        cache.set(hex, { name: found, until: c.clock.now() + (found ? NAME_CACHE_MS : NAME_MISS_CACHE_MS) });
      })
      .catch(() => undefined)
      .finally(() => inflight.delete(hex));
    inflight.set(hex, p);
    return p;
  };

  return {
    name: 'names',
    async start(c) {
      ctx = c;
      if (name !== undefined) cache.set(c.identity.addressHex, { name, until: Infinity });
      // Not awaited: the name is a label, and the services after this one need not wait for it.
      void publish();
      refresh = c.clock.setInterval(() => void publish(), NAME_REFRESH_MS);
    },
    // The record is left to expire (NAME_TTL_MS): removing it would make every `down` wait on the DHT.
    async stop() {
      refresh?.cancel();
      ctx = undefined;
    },
    status() {
      return { name: name ?? null };
    },
    async peerNames(addresses) {
      const c = ctx;
      if (!c) return {};
      const wanted = [...new Set(addresses)].slice(0, NAMES_REQUEST_MAX).filter((a) => /^[0-9a-f]{40}$/.test(a));
      const stale = wanted.filter((a) => (cache.get(a)?.until ?? 0) <= c.clock.now());
      if (stale.length) {
        let timer: Timer | undefined;
        await Promise.race([Promise.all(stale.map(lookUp)), new Promise<void>((r) => (timer = c.clock.setTimeout(r, NAME_LOOKUP_WAIT_MS)))]);
        timer?.cancel();
      }
      const out: Record<string, string> = {};
      for (const a of wanted) {
        const n = cache.get(a)?.name;
        if (n !== undefined) out[a] = n;
      }
      return out;
    },
  };
}
