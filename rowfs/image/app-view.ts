// What readers make of an app's DHT values (pure: no I/O). The claim says who owns the app and
// who may publish; only VersionsRecords written by those keys count. A version listed by several
// publishers is taken from the owner if it lists it, else from the earliest publication; `latest`
// is the choice of the allowed record that chose most recently, if it names a listed version.
import type { DhtRecord } from '../../overlay/api.js';
import { ImageError, keyPrefix } from './errors.js';
import { compareVersions } from './names.js';
import { decodeClaimRecord, decodeVersionsRecord, type VersionInfo, type VersionsRecord } from './records.js';
import { bytesEqual } from './fields.js';

export interface PublishedVersion extends VersionInfo {
  /** Key of the publisher whose record the version is taken from. */
  publisher: Uint8Array;
}

export interface AppView {
  app: string;
  owner: Uint8Array;
  publishers: Uint8Array[];
  latest: string | undefined;
  /** Newest first (compareVersions). */
  versions: PublishedVersion[];
  /** Values under the app's keys that failed to decode, name another app, or were written by a key with no right to. */
  ignored: number;
}

export interface AppClaim {
  owner: Uint8Array;
  publishers: Uint8Array[];
  ignored: number;
}

const hex = (k: Uint8Array) => Buffer.from(k).toString('hex');

/** Compares keys bytewise: a stable tie-break between publishers. */
export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/**
 * The owner of `app` from the values under its claim key. Anyone may `put` beside a claim, so
 * several owners can appear: then only a `knownOwner` among them settles it (else CONTESTED).
 */
export function claimOf(app: string, values: DhtRecord[], knownOwner?: Uint8Array): AppClaim {
  const byOwner = new Map<string, { owner: Uint8Array; publishers: Uint8Array[] }>();
  let ignored = 0;
  for (const v of values) {
    try {
      const c = decodeClaimRecord(v.value).value;
      if (c.app !== app) throw new ImageError('BAD_RECORD', 'claim for another app');
      byOwner.set(hex(v.owner), { owner: v.owner, publishers: c.publishers });
    } catch (err) {
      if (!(err instanceof ImageError)) throw err;
      ignored++;
    }
  }
  const claims = [...byOwner.values()];
  if (claims.length === 0) throw new ImageError('NOT_FOUND', `no app ${app} (nobody has claimed it)`);
  let chosen = claims.length === 1 ? claims[0] : undefined;
  if (!chosen && knownOwner) chosen = byOwner.get(hex(knownOwner));
  if (!chosen) throw new ImageError('CONTESTED', `app ${app} is claimed by ${claims.length} keys (${claims.map((c) => keyPrefix(c.owner)).sort().join(', ')}): name the owner you trust`);
  return { owner: chosen.owner, publishers: chosen.publishers, ignored: ignored + claims.length - 1 };
}

/** The VersionsRecords written by keys allowed to publish `app`, decoded; the rest counted. */
export function allowedVersionRecords(app: string, claim: AppClaim, values: DhtRecord[]): { records: Array<{ owner: Uint8Array; record: VersionsRecord }>; ignored: number } {
  const allowed = new Set([claim.owner, ...claim.publishers].map(hex));
  const records: Array<{ owner: Uint8Array; record: VersionsRecord }> = [];
  let ignored = 0;
  for (const v of values) {
    if (!allowed.has(hex(v.owner))) {
      ignored++;
      continue;
    }
    try {
      const record = decodeVersionsRecord(v.value).value;
      if (record.app !== app) throw new ImageError('BAD_RECORD', 'versions of another app');
      records.push({ owner: v.owner, record });
    } catch (err) {
      if (!(err instanceof ImageError)) throw err;
      ignored++;
    }
  }
  return { records, ignored };
}

/** Merges the allowed records into one view of the app. */
export function buildAppView(app: string, claim: AppClaim, records: Array<{ owner: Uint8Array; record: VersionsRecord }>, ignored: number): AppView {
  const isOwner = (k: Uint8Array) => bytesEqual(k, claim.owner);
  // Owner first, then by key: the order in which a version name is taken.
  const ordered = [...records].sort((a, b) => Number(isOwner(b.owner)) - Number(isOwner(a.owner)) || compareKeys(a.owner, b.owner));
  const byVersion = new Map<string, PublishedVersion>();
  for (const { owner, record } of ordered) {
    for (const v of record.versions) {
      const held = byVersion.get(v.version);
      if (!held || (!isOwner(held.publisher) && v.publishedAtMs < held.publishedAtMs)) byVersion.set(v.version, { ...v, publisher: owner });
    }
  }
  const versions = [...byVersion.values()].sort((a, b) => compareVersions(b.version, a.version));
  const choices = [...ordered].sort((a, b) => b.record.updatedAtMs - a.record.updatedAtMs);
  const latest = choices.find((c) => byVersion.has(c.record.latest))?.record.latest ?? versions[0]?.version;
  return { app, owner: claim.owner, publishers: claim.publishers, latest, versions, ignored: claim.ignored + ignored };
}
