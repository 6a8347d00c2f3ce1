// Which apps exist (for `overlay image ls` without an APP): the DHT cannot list keys, so every
// publisher keeps one value under a well-known key naming the apps it publishes. Readers take the
// union and check each app against its claim, so a value naming apps it does not own misleads nobody.
import type { Dht } from '../../overlay/api.js';
import { checkAppName } from '../../rowfs/image/names.js';

export const APP_INDEX_KEY = new TextEncoder().encode('image/index');
/** Apps one publisher lists (the value stays far below the DHT's 16 KiB). */
export const MAX_INDEXED_APPS = 128;
const DAY_MS = 24 * 3600 * 1000;

function decode(value: Uint8Array): string[] {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(value);
  const out: string[] = [];
  for (const name of text.split('\n').slice(0, MAX_INDEXED_APPS)) {
    try {
      out.push(checkAppName(name));
    } catch {
      /* a malformed name is skipped */
    }
  }
  return out;
}

/** Every app named by any publisher, sorted. */
export async function indexedApps(dht: Dht): Promise<string[]> {
  const all = new Set<string>();
  for (const r of await dht.get(APP_INDEX_KEY)) for (const a of decode(r.value)) all.add(a);
  return [...all].sort();
}

/** Adds `app` to this node's index value (kept a week, refreshed at each publish). */
export async function indexApp(dht: Dht, self: Uint8Array, app: string): Promise<void> {
  const mine = (await dht.get(APP_INDEX_KEY)).find((r) => Buffer.from(r.owner).equals(Buffer.from(self)));
  const apps = new Set(mine ? decode(mine.value) : []);
  apps.add(app);
  const list = [...apps].sort().slice(-MAX_INDEXED_APPS);
  await dht.put(APP_INDEX_KEY, new TextEncoder().encode(list.join('\n')), 7 * DAY_MS);
}
