// The image registry over the overlay DHT: claim an app, publish and withdraw versions, announce
// servers and sharers, resolve what readers should believe, plan and run gc. Stateless apart from
// its options: refreshing values before their TTL runs out is the caller's loop (it calls the same
// methods again). Each method is one read-modify-write of this node's own values; two writers on
// one node must not run the same method for the same app at once (the last put wins).
import { DhtConflictError, type Dht, type DhtRecord } from '../../overlay/api.js';
import { createHash } from 'node:crypto';
import type { Clock } from '../../lib/clock.js';
import { ImageError, keyPrefix } from './errors.js';
import { checkAppName, checkVersion, compareVersions, registryKeys } from './names.js';
import {
  encodeClaimRecord, decodeClaimRecord, encodeVersionsRecord, decodeVersionsRecord, encodeServerRecord, decodeServerRecord,
  encodeSharerRecord, decodeSharerRecord, MAX_VERSIONS_PER_RECORD, encodeTraceRecord, decodeTraceRecord, type TraceRecord,
  type ServerRecord, type SharerRecord, type VersionInfo, type VersionsRecord,
} from './records.js';
import { bytesEqual } from './fields.js';
import { claimOf, allowedVersionRecords, buildAppView, type AppView } from './app-view.js';
import { planGc, type GcOptions, type GcStep } from './gc-plan.js';

export interface RegistryTtls {
  /** How long an app name outlives its owner's last refresh (default 7 days, the DHT's maximum). */
  claimMs: number;
  /** How long a publisher's versions outlive its last refresh (default 7 days). */
  versionsMs: number;
  /** How long a server stays listed after its last refresh (default 2 min). */
  serverMs: number;
  /** How long a sharer counts after its last refresh (default 2 min): also gc's grace period. */
  sharerMs: number;
}

export const DEFAULT_REGISTRY_TTLS: RegistryTtls = { claimMs: 7 * 24 * 3600_000, versionsMs: 7 * 24 * 3600_000, serverMs: 120_000, sharerMs: 120_000 };

export interface ImageRegistryOptions {
  /** This node's 32-byte Ed25519 public key (the DHT's owner of every value we write). */
  self: Uint8Array;
  /** Also the wall time of publishedAtMs, updatedAtMs and gc's minimum age. */
  clock: Clock;
  ttls?: Partial<RegistryTtls>;
  /** The ring address of an owner key (overlay/identity addressOfKey as 20 bytes): when given, server and sharer records naming another node's ring address are ignored. */
  ringAddressOf?: (ownerKey: Uint8Array) => Uint8Array;
}

export type ServerEntry = ServerRecord & { owner: Uint8Array };
export type SharerEntry = SharerRecord & { owner: Uint8Array };

const isConflict = (err: unknown) => err instanceof DhtConflictError;
/** Sharer lookups in flight at once during gc. */
const SHARER_LOOKUPS_IN_FLIGHT = 8;

export class ImageRegistry {
  private readonly dht: Dht;
  private readonly self: Uint8Array;
  /** The TTLs this registry writes with (after defaults). */
  readonly ttls: Readonly<RegistryTtls>;

  constructor(dht: Dht, private readonly o: ImageRegistryOptions) {
    if (!(o.self instanceof Uint8Array) || o.self.length !== 32) throw new RangeError('self must be a 32-byte public key');
    this.dht = dht;
    this.self = o.self;
    this.ttls = { ...DEFAULT_REGISTRY_TTLS, ...o.ttls };
  }

  /** Milliseconds since 1970, from the injected clock. */
  wallNow(): number {
    return this.o.clock.wallNow();
  }

  /**
   * Claims `app` for this node (exclusive create), or refreshes our claim. Without `publishers`,
   * a refresh keeps the ones our current claim names. NOT_OWNER when another key holds it.
   */
  async claim(app: string, publishers?: Uint8Array[]): Promise<void> {
    const key = registryKeys.claim(app);
    let names = publishers;
    if (!names) {
      const mine = (await this.dht.get(key)).find((r) => bytesEqual(r.owner, this.self));
      names = mine ? this.decodeOr(() => decodeClaimRecord(mine.value).value.publishers, []) : [];
    }
    const value = encodeClaimRecord({ app, publishers: names });
    try {
      await this.dht.create(key, value, this.ttls.claimMs);
    } catch (err) {
      if (!isConflict(err)) throw err;
      const other = (await this.dht.get(key)).find((r) => !bytesEqual(r.owner, this.self));
      throw new ImageError('NOT_OWNER', `app ${app} is owned by ${other ? keyPrefix(other.owner) : 'another node'}`);
    }
  }

  /** What readers should believe about `app`. `knownOwner` settles a contested claim. */
  async resolveApp(app: string, opts: { knownOwner?: Uint8Array } = {}): Promise<AppView> {
    checkAppName(app);
    const [claimValues, versionValues] = await Promise.all([this.dht.get(registryKeys.claim(app)), this.dht.get(registryKeys.versions(app))]);
    const claim = claimOf(app, claimValues, opts.knownOwner);
    const { records, ignored } = allowedVersionRecords(app, claim, versionValues);
    return buildAppView(app, claim, records, ignored);
  }

  /**
   * Adds (or replaces) `info` in our VersionsRecord of `app`; with makeLatest it becomes our
   * choice of latest. We must own the app or be named by its owner, and the version must not be
   * another publisher's with a different manifest.
   */
  async publishVersion(app: string, info: VersionInfo, opts: { makeLatest: boolean; knownOwner?: Uint8Array }): Promise<VersionsRecord> {
    checkVersion(info.version);
    const view = await this.resolveApp(app, { knownOwner: opts.knownOwner ?? this.self });
    if (!bytesEqual(view.owner, this.self) && !view.publishers.some((p) => bytesEqual(p, this.self))) {
      throw new ImageError('NOT_OWNER', `app ${app} is owned by ${keyPrefix(view.owner)}, which has not named this node (${keyPrefix(this.self)}) as a publisher`);
    }
    const held = view.versions.find((v) => v.version === info.version);
    if (held && !bytesEqual(held.publisher, this.self) && !bytesEqual(held.digest, info.digest)) {
      throw new ImageError('NOT_OWNER', `version ${info.version} of ${app} is already published by ${keyPrefix(held.publisher)} with another manifest`);
    }
    const own = await this.ownVersions(app);
    const versions = [...(own?.versions.filter((v) => v.version !== info.version) ?? []), info];
    if (versions.length > MAX_VERSIONS_PER_RECORD) {
      throw new ImageError('TOO_LARGE', `a publisher lists at most ${MAX_VERSIONS_PER_RECORD} versions of an app: withdraw old ones first (gc)`);
    }
    versions.sort((a, b) => compareVersions(a.version, b.version));
    let latest = own?.latest ?? info.version;
    let updatedAtMs = own?.updatedAtMs ?? 0; // 0: not chosen, only a default (any explicit choice wins)
    if (opts.makeLatest) {
      latest = info.version;
      updatedAtMs = Math.max(this.wallNow(), updatedAtMs + 1);
    }
    const record: VersionsRecord = { app, latest, versions, updatedAtMs };
    await this.dht.put(registryKeys.versions(app), encodeVersionsRecord(record), this.ttls.versionsMs);
    return record;
  }

  /**
   * Drops `version` from our VersionsRecord (the record goes when it was the last). If it was our
   * latest, ours becomes the newest remaining. With ifUnshared, IN_USE while it has sharers.
   */
  async withdrawVersion(app: string, version: string, opts: { ifUnshared?: boolean } = {}): Promise<void> {
    checkVersion(version);
    const own = await this.ownVersions(app);
    if (!own?.versions.some((v) => v.version === version)) throw new ImageError('NOT_FOUND', `version ${version} of ${app} is not among this node's published versions`);
    if (opts.ifUnshared) {
      const n = await this.sharers(app, version);
      if (n > 0) throw new ImageError('IN_USE', `version ${version} of ${app} has ${n} sharer${n === 1 ? '' : 's'}`);
    }
    const versions = own.versions.filter((v) => v.version !== version);
    const key = registryKeys.versions(app);
    if (versions.length === 0) return this.dht.remove(key);
    const latest = own.latest === version ? versions.reduce((a, b) => (compareVersions(a.version, b.version) >= 0 ? a : b)).version : own.latest;
    await this.dht.put(key, encodeVersionsRecord({ ...own, latest, versions }), this.ttls.versionsMs);
  }

  /** Puts our VersionsRecord of `app` again unchanged (a TTL refresh); false when we have none. */
  async refreshVersions(app: string): Promise<boolean> {
    const own = await this.ownVersions(app);
    if (!own) return false;
    await this.dht.put(registryKeys.versions(app), encodeVersionsRecord(own), this.ttls.versionsMs);
    return true;
  }

  /**
   * Announces (or refreshes) this node as a server of rec.app rec.version; `ttlMs` for a record
   * written on behalf of another process of this node, which refreshes it at its own pace.
   */
  async addServer(rec: ServerRecord, ttlMs: number = this.ttls.serverMs): Promise<void> {
    await this.dht.put(registryKeys.servers(rec.app, rec.version), encodeServerRecord(rec), ttlMs);
  }

  async removeServer(app: string, version: string): Promise<void> {
    await this.dht.remove(registryKeys.servers(app, version));
  }

  /** Live servers of the version whose record matches its key and names `digest`; the rest counted. */
  async servers(app: string, version: string, digest: Uint8Array): Promise<{ servers: ServerEntry[]; ignored: number }> {
    const values = await this.dht.get(registryKeys.servers(app, version));
    const { kept, ignored } = this.keepMatching(values, decodeServerRecord, app, version, (r) => bytesEqual(r.digest, digest));
    return { servers: kept, ignored };
  }

  /** Announces (or refreshes) this node as a sharer (a client mounting the version); `ttlMs` as in addServer. */
  async addSharer(rec: SharerRecord, ttlMs: number = this.ttls.sharerMs): Promise<void> {
    await this.dht.put(registryKeys.sharers(rec.app, rec.version), encodeSharerRecord(rec), ttlMs);
  }

  async removeSharer(app: string, version: string): Promise<void> {
    await this.dht.remove(registryKeys.sharers(app, version));
  }

  /** Live, well-formed sharer records of the version (one per node); the rest counted. */
  async sharerRecords(app: string, version: string): Promise<{ sharers: SharerEntry[]; ignored: number }> {
    const values = await this.dht.get(registryKeys.sharers(app, version));
    const { kept, ignored } = this.keepMatching(values, decodeSharerRecord, app, version, () => true);
    return { sharers: kept, ignored };
  }

  /** Attaches (or replaces) this node's boot trace of the version; it lives as long as a sharer record. */
  async putTrace(rec: TraceRecord): Promise<void> {
    await this.dht.put(registryKeys.trace(rec.app, rec.version), encodeTraceRecord(rec), this.ttls.versionsMs);
  }

  /**
   * The trace new mounts of the version should prefetch, and whether its writer is `trusted` (the
   * app's owner or a publisher): a trusted one if any (the earliest recorded), else the one whose
   * writer key has the smallest SHA-256 with the digest: a rule every reader applies alike and no
   * writer sets by a field it writes (a recordedAtMs of 0 won before). A writer may grind keys to
   * win it, so an untrusted trace gets only a small prefetch window (image-mounting.ts). Only
   * traces of `digest` signed by the node they name.
   */
  async trace(app: string, version: string, digest: Uint8Array, trusted: Uint8Array[]): Promise<(TraceRecord & { owner: Uint8Array; trusted: boolean }) | undefined> {
    const values = await this.dht.get(registryKeys.trace(app, version));
    const { kept } = this.keepMatching(values, decodeTraceRecord, app, version, (r) => bytesEqual(r.digest, digest));
    const byTrusted = kept.filter((t) => trusted.some((k) => bytesEqual(k, t.owner)));
    if (byTrusted.length) return { ...byTrusted.sort((a, b) => a.recordedAtMs - b.recordedAtMs)[0]!, trusted: true };
    const rank = (owner: Uint8Array) => createHash('sha256').update(owner).update(digest).digest('hex');
    const best = kept
      .map((t) => ({ t, r: rank(t.owner) }))
      .sort((a, b) => (a.r < b.r ? -1 : a.r > b.r ? 1 : 0))[0];
    return best && { ...best.t, trusted: false };
  }

  /** The version's reference count: distinct nodes with a live, well-formed sharer record. */
  async sharers(app: string, version: string): Promise<number> {
    return (await this.sharerRecords(app, version)).sharers.length;
  }

  /** What gc would do (see gc-plan.ts), with each version's sharer count. */
  async gcPlan(app: string, opts: GcOptions & { knownOwner?: Uint8Array }): Promise<GcStep[]> {
    const view = await this.resolveApp(app, { knownOwner: opts.knownOwner });
    const counts = new Map<string, number>();
    const names = view.versions.map((v) => v.version);
    for (let i = 0; i < names.length; i += SHARER_LOOKUPS_IN_FLIGHT) {
      const batch = names.slice(i, i + SHARER_LOOKUPS_IN_FLIGHT);
      const found = await Promise.all(batch.map((v) => this.sharers(app, v)));
      batch.forEach((v, j) => counts.set(v, found[j]!));
    }
    return planGc(view, counts, this.self, this.wallNow(), opts);
  }

  /**
   * Withdraws what the plan allows (nothing with dryRun). Each version's sharers are counted again
   * right before it goes: one that gained a sharer since the plan is kept.
   */
  async gc(app: string, opts: GcOptions & { dryRun: boolean; knownOwner?: Uint8Array }): Promise<GcStep[]> {
    const plan = await this.gcPlan(app, opts);
    if (opts.dryRun) return plan;
    for (const step of plan) {
      if (step.action !== 'withdraw') continue;
      try {
        await this.withdrawVersion(app, step.version, { ifUnshared: true });
      } catch (err) {
        if (!(err instanceof ImageError) || err.code !== 'IN_USE') throw err;
        step.action = 'keep';
        step.reason = err.message;
        step.sharers = await this.sharers(app, step.version);
      }
    }
    return plan;
  }

  /** Our own VersionsRecord of `app`, if we have a readable one. */
  private async ownVersions(app: string): Promise<VersionsRecord | undefined> {
    const mine = (await this.dht.get(registryKeys.versions(app))).find((r) => bytesEqual(r.owner, this.self));
    return mine ? this.decodeOr(() => decodeVersionsRecord(mine.value).value, undefined) : undefined;
  }

  /** A value we wrote that no longer decodes (an older format) is treated as absent and overwritten. */
  private decodeOr<T, D>(decode: () => T, fallback: D): T | D {
    try {
      return decode();
    } catch (err) {
      if (err instanceof ImageError) return fallback;
      throw err;
    }
  }

  /** Decodes server/sharer values, keeping those about (app, version), from the node they name, passing `accept`. */
  private keepMatching<R extends { app: string; version: string; ring: Uint8Array }>(
    values: DhtRecord[],
    decode: (b: Uint8Array) => { value: R },
    app: string,
    version: string,
    accept: (r: R) => boolean,
  ): { kept: Array<R & { owner: Uint8Array }>; ignored: number } {
    const kept: Array<R & { owner: Uint8Array }> = [];
    const owners = new Set<string>();
    let ignored = 0;
    for (const v of values) {
      const r = this.decodeOr(() => decode(v.value).value, undefined);
      const ringOk = r && (!this.o.ringAddressOf || bytesEqual(this.o.ringAddressOf(v.owner), r.ring));
      const owner = Buffer.from(v.owner).toString('hex');
      if (r && ringOk && r.app === app && r.version === version && accept(r) && !owners.has(owner)) {
        owners.add(owner);
        kept.push({ ...r, owner: v.owner });
      } else ignored++;
    }
    return { kept, ignored };
  }
}
