// One server of an image version (`overlay image publish` / `serve`): the embedded NFSv3 server,
// read-only, on the node's virtual IP (reachable through the overlay from behind any NAT), the
// manifest over HTTP beside it, and the registry records that make it findable, refreshed while it
// runs. It stops by itself (and says why) when its version is withdrawn (gc, unpublish).
//
//   start: registry check -> embedded server + manifest server on the vIP -> announce to the node
//          -> server record (publish: claim + version record first)
//   every refreshMs: re-put what we wrote (TTLs), re-announce, check that the version still exists
//   stop:  remove the server record (or hand it to another serve process of the version here)
//          -> close the servers -> withdraw the announcement
import { startEmbeddedServer, type EmbeddedServer } from '../../rowfs/server/embedded-server.js';
import type { ImageRegistry } from '../../rowfs/image/registry.js';
import { MAX_EXPORT_PATH_BYTES, type ServerRecord, type VersionInfo } from '../../rowfs/image/records.js';
import { isIpv4Address } from '../../lib/ipv4.js';
import type { Clock } from '../../lib/clock.js';
import { RefreshLoop } from './refresh-loop.js';
import { networkInterfaces } from 'node:os';
import { serveManifest, type ManifestServer } from './manifest-http.js';
import type { LocalNode } from './local-node.js';
import { isAnnouncedPort, recordTtlOf } from './local-images.js';

export interface ServingOptions {
  app: string;
  version: string;
  /** Directory served read-only by the embedded server, or an existing NFS export to announce. */
  dir?: string;
  external?: ExternalExport;
  node: LocalNode;
  registry: ImageRegistry;
  /** The version's manifest (encoded) and its digest. */
  manifestBytes: Uint8Array;
  digest: Uint8Array;
  /** publish: also claim the app and record the version; serve: one more server of a known version. */
  publish?: { info: VersionInfo; makeLatest: boolean; publishers: Uint8Array[] };
  /** Ports on the virtual IP (0 = any free port). */
  nfsPort?: number;
  mountPort?: number;
  manifestPort?: number;
  refreshMs: number;
  clock: Clock;
  log: (line: string) => void;
}

/**
 * An NFS export served by another server on this machine (e.g. nfs-ganesha listening on all
 * addresses, so on the virtual IP too) or on a virtual IP of the network.
 */
export interface ExternalExport {
  host: string;
  exportPath: string;
  nfsPort: number;
  mountPort: number;
}

/** How often a publisher re-puts the week-long claim and version record. */
const LONG_LIVED_REFRESH_MS = 24 * 3600 * 1000;

/** Path clients (the proxies) MNT on a server. */
export const imageExportPath = (app: string, version: string) => `/images/${app}/${version}`;

export class ImageServing {
  private readonly loop: RefreshLoop;
  private resolveEnded!: (why: string) => void;
  /** Resolves with the reason once the version was withdrawn by its publisher (the serving stopped). */
  readonly ended = new Promise<string>((r) => (this.resolveEnded = r));
  readonly announceId: string;
  /** When the claim and the version record were last written. */
  private longLivedAt: number;

  private constructor(
    private readonly o: ServingOptions,
    readonly record: ServerRecord,
    private readonly nfs: EmbeddedServer | undefined,
    private readonly manifest: ManifestServer,
  ) {
    this.announceId = `serve:${o.app}@${o.version}:${process.pid}`;
    this.longLivedAt = o.clock.now();
    // refresh() reports its own failures.
    this.loop = new RefreshLoop(o.clock, o.refreshMs, () => this.refresh(), () => undefined);
  }

  static async start(o: ServingOptions): Promise<ImageServing> {
    const info = await o.node.info();
    if (!info.vip) throw new Error('the node has no virtual IP yet (is `overlay up` running with its virtual network?)');
    if (o.publish) {
      await o.registry.claim(o.app, o.publish.publishers);
      await o.registry.publishVersion(o.app, o.publish.info, { makeLatest: o.publish.makeLatest });
    }
    let nfs: EmbeddedServer | undefined;
    let where: ExternalExport;
    if (o.external) {
      // A server on this machine is reached by the others on our virtual IP.
      where = { ...o.external, host: isLocalAddress(o.external.host) ? info.vip : o.external.host };
    } else {
      const exportPath = imageExportPath(o.app, o.version);
      nfs = await startEmbeddedServer({ exportDir: o.dir!, exportPath, readOnly: true, host: info.vip, nfsPort: o.nfsPort ?? 0, mountPort: o.mountPort ?? 0 });
      where = { host: info.vip, exportPath, nfsPort: nfs.nfsPort, mountPort: nfs.mountPort };
    }
    let manifest: ManifestServer;
    try {
      manifest = await serveManifest(info.vip, o.manifestPort ?? 0, o.manifestBytes, o.digest);
    } catch (e) {
      await nfs?.stop();
      throw e;
    }
    const record: ServerRecord = {
      app: o.app,
      version: o.version,
      vip: where.host,
      nfsPort: where.nfsPort,
      mountPort: where.mountPort,
      exportPath: where.exportPath,
      ring: new Uint8Array(Buffer.from(info.address, 'hex')),
      digest: o.digest,
      manifestPort: manifest.port,
    };
    const s = new ImageServing(o, record, nfs, manifest);
    try {
      // Listed first: a serve process of the version stopping here leaves the record to one it sees.
      await s.announce();
      await o.registry.addServer(record);
    } catch (e) {
      await s.stop();
      throw e;
    }
    s.loop.start();
    return s;
  }

  private announce(): Promise<void> {
    const o = this.o;
    // vip, the ports, exportPath and recordTtlMs are read by another serve process of the version here when it stops (stop()).
    const r = this.record;
    const detail = { ...(o.dir ? { dir: o.dir } : { nfs: `${o.external!.host}:${o.external!.exportPath}` }), vip: r.vip, nfsPort: r.nfsPort, mountPort: r.mountPort, manifestPort: r.manifestPort, exportPath: r.exportPath, recordTtlMs: o.registry.ttls.serverMs, published: !!o.publish };
    return o.node.announce(this.announceId, 'serve', o.app, o.version, detail, Math.ceil((o.refreshMs * 3) / 1000));
  }

  /** Re-puts our records before their TTLs run out; stops when the version has been withdrawn. */
  private async refresh(): Promise<void> {
    const o = this.o;
    // Listed whatever the DHT does (the listing keeps the node's record from a sibling's stop).
    await this.announce().catch((e: Error) => o.log(`telling the node we run failed: ${e.message}`));
    try {
      const view = await o.registry.resolveApp(o.app);
      if (!view.versions.some((v) => v.version === o.version)) {
        o.log(`${o.app} ${o.version} was withdrawn by its publisher: no longer serving it`);
        // Stopped by the process, which waits for `ended` (stop() waits for this run to end).
        this.resolveEnded(`${o.app} ${o.version} withdrawn`);
        return;
      }
      // The claim and the version record live a week; a publisher re-puts them once a day. The
      // version record goes back unchanged (refreshVersions), so a refresh never undoes another
      // publish process's newer version or latest.
      if (o.publish && o.clock.now() - this.longLivedAt >= LONG_LIVED_REFRESH_MS) {
        await o.registry.claim(o.app, o.publish.publishers);
        await o.registry.refreshVersions(o.app);
        this.longLivedAt = o.clock.now();
      }
      await o.registry.addServer(this.record);
    } catch (e) {
      // A DHT hiccup: the records live on until their TTL; the next refresh tries again.
      o.log(`refreshing the records of ${o.app} ${o.version} failed: ${(e as Error).message}`);
    }
  }

  /**
   * Withdraws the server record (unless another serve process of the version here stands behind
   * it, then it names that process's export from now on) and stops serving. Idempotent.
   */
  async stop(): Promise<void> {
    if (!(await this.loop.stop())) return;
    const o = this.o;
    // The server record is the node's, one per version: another serve process of it listed here
    // keeps it, and the record names that one's ports from now on, not ours that close now (before,
    // until its next refresh). Withdrawn from the node's list last: `gc --delete-data` deletes a
    // served copy once its process is no longer listed, so not before the export has stopped.
    const others = await o.node.othersOf({ id: this.announceId, role: 'serve', app: o.app, version: o.version }).catch(() => []);
    if (others.length > 0) {
      o.log(`another serve process of ${o.app} ${o.version} on this node keeps its server record`);
      const theirs = serverPartOf(others[0]!.detail);
      if (theirs) await o.registry.addServer({ ...this.record, ...theirs }, recordTtlOf(others[0]!.detail)).catch((e: Error) => o.log(`handing the server record over failed (the other's next refresh does it): ${e.message}`));
    } else await o.registry.removeServer(o.app, o.version).catch((e: Error) => o.log(`removing the server record failed (it expires by itself): ${e.message}`));
    await this.manifest.close();
    await this.nfs?.stop();
    await o.node.withdraw(this.announceId).catch(() => undefined);
  }
}

/** Where another serve process of the version serves it, as it announced it to the node. */
type ServerPart = Pick<ServerRecord, 'vip' | 'nfsPort' | 'mountPort' | 'manifestPort' | 'exportPath'>;

/** The export another serve process announced (`detail`), checked; undefined when it is not one. */
export function serverPartOf(detail: Record<string, unknown>): ServerPart | undefined {
  const { vip, nfsPort, mountPort, manifestPort, exportPath } = detail;
  if (typeof vip !== 'string' || !isIpv4Address(vip) || !isAnnouncedPort(nfsPort) || !isAnnouncedPort(mountPort) || !isAnnouncedPort(manifestPort)) return undefined;
  if (typeof exportPath !== 'string' || !exportPath.startsWith('/') || exportPath.includes('\0') || Buffer.byteLength(exportPath) > MAX_EXPORT_PATH_BYTES) return undefined;
  return { vip, nfsPort, mountPort, manifestPort, exportPath };
}

/** Loopback, or an address of one of this machine's interfaces. */
function isLocalAddress(host: string): boolean {
  if (host === 'localhost' || host.startsWith('127.') || host === '::1') return true;
  return Object.values(networkInterfaces()).some((list) => list?.some((a) => a.address === host));
}
