// What `overlay image <verb>` does, verb by verb (argument parsing is in src/commands/image.ts).
// Every failure a user can cause or meet is an ImageError, a ManifestFetchError, a ProxyStartError
// or a control-socket error, and asCliError turns each into one line with an exit code.
import { rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { systemClock } from '../../lib/clock.js';
import { addressOfKey } from '../../overlay/identity.js';
import { hex } from '../../rowfs/state/store.js';
import { ImageError } from '../../rowfs/image/errors.js';
import { buildManifest, checkTree, type TreeProgress } from '../../rowfs/image/manifest-tree.js';
import { decodeManifest, encodeManifest, manifestDigest, type Manifest } from '../../rowfs/image/manifest-codec.js';
import { checkAppName, checkVersion } from '../../rowfs/image/names.js';
import { ImageRegistry } from '../../rowfs/image/registry.js';
import type { VersionInfo } from '../../rowfs/image/records.js';
import { ProxyStartError } from '../../rowfs/proxy/errors.js';
import { StateStoreError } from '../../rowfs/state/store.js';
import { ControlClientError } from '../control/client.js';
import { CliError, lockShadowDir, lockStateDir } from '../commands/command.js';
import { indexApp, indexedApps } from './app-index.js';
import { ImageBootRoot } from './image-boot-root.js';
import { ImageMounting, type MountingOptions } from './image-mounting.js';
import { ImageServing, type ExternalExport } from './image-serving.js';
import { buildExportManifest } from '../../rowfs/image/export-manifest.js';
import { openExport } from '../../rowfs/mount/open-export.js';
import { LocalNode, rankByPath, type LocalNodeInfo } from './local-node.js';
import { ManifestFetchError } from './manifest-http.js';
import { manifestFromServers, versionManifest } from './version-manifest.js';
import { tuneProxyV8 } from '../proxy-v8.js';

export const IMAGE_STORE_ROOT = '/var/lib/overlay-images';

interface Common {
  socket: string;
  /** Life of server and sharer records; refreshed every third of it. */
  ttlMs: number;
}

const mb = (n: number) => (n / 1e6).toFixed(1);
const say = (line: string) => console.log(`image: ${line}`);
const warn = (line: string) => console.error(`image: ${line}`);

async function connect(c: Common): Promise<{ node: LocalNode; info: LocalNodeInfo; registry: ImageRegistry }> {
  const node = new LocalNode(c.socket);
  const info = await node.info();
  const registry = new ImageRegistry(node.dht, {
    self: info.publicKey,
    clock: systemClock,
    ttls: { serverMs: c.ttlMs, sharerMs: c.ttlMs },
    // A server or sharer record must name its writer's own ring address.
    ringAddressOf: (key) => new Uint8Array(Buffer.from(addressOfKey(key).toString(16).padStart(40, '0'), 'hex')),
  });
  return { node, info, registry };
}

/** Progress of long tree work on stderr: at most one line a second, and a summary at the end. */
function progress(what: string): { onProgress: (p: TreeProgress) => void; done: (p?: TreeProgress) => void } {
  const t0 = Date.now();
  let shown = 0;
  let last: TreeProgress | undefined;
  const line = (p: TreeProgress) => {
    const s = Math.max(0.001, (Date.now() - t0) / 1000);
    const pct = p.totalBytes > 0 ? ` (${Math.floor((100 * p.bytes) / p.totalBytes)}%)` : '';
    return `${what}: ${p.files} files, ${mb(p.bytes)} of ${mb(p.totalBytes)} MB${pct}, ${mb(p.bytes / s)} MB/s`;
  };
  return {
    onProgress: (p) => {
      last = p;
      if (Date.now() - shown < 1000) return;
      shown = Date.now();
      warn(line(p));
    },
    done: (p = last) => {
      if (p) warn(`${line(p)}, done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    },
  };
}

function checkDir(dir: string): string {
  const abs = resolve(dir);
  let st;
  try {
    st = statSync(abs);
  } catch (e) {
    throw new CliError(`${dir}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (e as Error).message}`);
  }
  if (!st.isDirectory()) throw new CliError(`${dir} is not a directory`);
  return abs;
}

/** Resolves once the process is asked to stop (SIGINT/SIGTERM) or `ended` settles. */
function untilStopped(ended?: Promise<string>): Promise<string> {
  return new Promise((done) => {
    const stop = (sig: string) => () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      done(sig);
    };
    const onInt = stop('SIGINT');
    const onTerm = stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    void ended?.then((why) => done(why));
  });
}

// ---- publish / serve ----

/** An existing NFS export to announce instead of a directory (ports from its portmapper unless given). */
export interface NfsSource {
  host: string;
  exportPath: string;
  nfsPort?: number;
  mountPort?: number;
}

/** The export opened, its manifest built over NFS, the export closed again. */
async function exportManifest(src: NfsSource, blockSize: number): Promise<{ manifest: Manifest; where: ExternalExport }> {
  let ex;
  try {
    ex = await openExport({ ...src, timeoutMs: 10_000 });
  } catch (e) {
    throw new CliError(`cannot mount ${src.host}:${src.exportPath}: ${(e as Error).message}`, 1);
  }
  try {
    const p = progress(`hashing ${src.host}:${src.exportPath} over NFS`);
    const manifest = await buildExportManifest(ex.nfs, ex.root, { blockSize, onProgress: p.onProgress });
    p.done();
    return { manifest, where: { host: src.host, exportPath: src.exportPath, nfsPort: ex.nfsPort, mountPort: ex.mountPort } };
  } finally {
    await ex.close().catch(() => undefined);
  }
}

/** Up to three differences between two manifests, one phrase each. */
function manifestDifferences(got: Manifest, want: Manifest): string[] {
  const byPath = new Map(want.entries.map((e) => [e.path, e]));
  const out: string[] = [];
  for (const e of got.entries) {
    const w = byPath.get(e.path);
    byPath.delete(e.path);
    if (!w) out.push(`${e.path || '/'} is not in the version`);
    else if (w.type !== e.type || w.size !== e.size || w.mode !== e.mode || w.target !== e.target || !Buffer.from(w.blockHashes ?? []).equals(Buffer.from(e.blockHashes ?? []))) out.push(`${e.path || '/'} differs`);
    if (out.length >= 3) return out;
  }
  for (const p of byPath.keys()) if (out.length < 3) out.push(`${p || '/'} is missing`);
  return out;
}

export async function serveImage(o: Common & { app: string; version: string; dir?: string; nfs?: NfsSource; publish?: { makeLatest: boolean; publishers: string[]; blockSize: number } }): Promise<number> {
  const app = checkAppName(o.app);
  const version = checkVersion(o.version);
  const dir = o.dir === undefined ? undefined : checkDir(o.dir);
  const what = dir ?? `${o.nfs!.host}:${o.nfs!.exportPath}`;
  let external: ExternalExport | undefined;
  const { node, info, registry } = await connect(o);
  let manifest: Manifest;
  let bytes: Uint8Array;
  let digest: Uint8Array;
  let publish: { info: VersionInfo; makeLatest: boolean; publishers: Uint8Array[] } | undefined;
  const view = await registry.resolveApp(app).catch((e: unknown) => {
    if (e instanceof ImageError && e.code === 'NOT_FOUND') return undefined;
    throw e;
  });
  const known = view?.versions.find((v) => v.version === version);
  if (o.publish) {
    // Refuse before hashing what cannot be published.
    if (view && !Buffer.from(view.owner).equals(Buffer.from(info.publicKey)) && !view.publishers.some((k) => Buffer.from(k).equals(Buffer.from(info.publicKey)))) {
      throw new ImageError('NOT_OWNER', `${app} is owned by node key ${hex(view.owner).slice(0, 16)}…, and this node (${hex(info.publicKey).slice(0, 16)}…) is not one of its publishers`);
    }
    if (dir) {
      const p = progress(`hashing ${dir}`);
      manifest = await buildManifest(dir, { blockSize: o.publish.blockSize, onProgress: p.onProgress });
      p.done();
    } else {
      ({ manifest, where: external } = await exportManifest(o.nfs!, o.publish.blockSize));
    }
    bytes = encodeManifest(manifest);
    digest = manifestDigest(bytes);
    if (known && !Buffer.from(known.digest).equals(Buffer.from(digest))) {
      throw new CliError(`${app} ${version} is already published with other content (digest ${hex(known.digest).slice(0, 16)}…); publish it as a new version`, 1);
    }
    const files = manifest.entries.filter((e) => e.type === 'file');
    const infoV: VersionInfo = known ?? { version, digest, bytes: files.reduce((n, e) => n + e.size, 0), files: files.length, blockSize: manifest.blockSize, publishedAtMs: Date.now() };
    publish = { info: infoV, makeLatest: o.publish.makeLatest, publishers: o.publish.publishers.map((k) => new Uint8Array(Buffer.from(k, 'hex'))) };
  } else {
    if (!view) throw new CliError(`no app named ${app} is published (publish it first)`, 1);
    if (!known) throw new CliError(`${app} has no version ${version} (versions: ${view.versions.map((v) => v.version).join(', ') || 'none'})`, 1);
    digest = known.digest;
    bytes = await manifestFromServers(registry, info, app, version, digest);
    manifest = decodeManifest(bytes);
    if (dir) {
      const p = progress(`checking ${dir} against ${app} ${version}`);
      const check = await checkTree(dir, manifest, { onProgress: p.onProgress });
      p.done();
      if (!check.ok) throw new CliError(`${dir} does not match ${app} ${version}: ${check.problems.slice(0, 3).join('; ')}${check.problems.length > 3 ? ` (and ${check.problems.length - 3} more)` : ''}`, 1);
    } else {
      const got = await exportManifest(o.nfs!, manifest.blockSize);
      external = got.where;
      if (!Buffer.from(manifestDigest(encodeManifest(got.manifest))).equals(Buffer.from(digest))) {
        throw new CliError(`${what} does not match ${app} ${version}: ${manifestDifferences(got.manifest, manifest).join('; ') || 'metadata differs'}`, 1);
      }
    }
  }
  const serving = await ImageServing.start({
    app,
    version,
    dir,
    external,
    node,
    registry,
    manifestBytes: bytes,
    digest,
    publish,
    refreshMs: Math.max(1000, Math.floor(o.ttlMs / 3)),
    clock: systemClock,
    log: warn,
  });
  if (publish) await indexApp(node.dht, info.publicKey, app).catch((e: Error) => warn(`listing ${app} in the app index failed: ${e.message}`));
  const r = serving.record;
  const files = manifest.entries.filter((e) => e.type === 'file').length;
  say(`${publish ? 'published' : 'serving'} ${app} ${version} (${files} files, digest ${hex(digest).slice(0, 16)}) from ${what}`);
  say(`NFS on ${r.vip}:${r.nfsPort} (MOUNT ${r.mountPort}) export ${r.exportPath}, manifest on port ${r.manifestPort}; stop with Ctrl-C`);
  const why = await untilStopped(serving.ended);
  await serving.stop();
  say(`stopped serving ${app} ${version} (${why})`);
  return 0;
}

// ---- ls ----

export async function listImages(o: Common & { app?: string; json: boolean }): Promise<number> {
  const { node, info, registry } = await connect(o);
  const apps = o.app ? [checkAppName(o.app)] : await indexedApps(node.dht);
  const out = [];
  for (const app of apps) {
    let view;
    try {
      view = await registry.resolveApp(app);
    } catch (e) {
      if (e instanceof ImageError && e.code === 'NOT_FOUND') {
        if (o.app) throw new CliError(`no app named ${app} is published`, 1);
        continue;
      }
      throw e;
    }
    const versions = [];
    for (const v of view.versions) {
      const [{ servers, ignored }, sharers] = await Promise.all([registry.servers(app, v.version, v.digest), registry.sharers(app, v.version)]);
      versions.push({
        version: v.version,
        digest: hex(v.digest),
        bytes: v.bytes,
        files: v.files,
        blockSize: v.blockSize,
        publishedAt: new Date(v.publishedAtMs).toISOString(),
        sharers,
        ignoredServerRecords: ignored,
        servers: rankByPath(servers, info, (s) => hex(s.ring)).map((s) => ({ vip: s.vip, nfsPort: s.nfsPort, mountPort: s.mountPort, exportPath: s.exportPath, ring: hex(s.ring), path: s.path, ...(s.rttMs !== undefined ? { rttMs: s.rttMs } : {}) })),
      });
    }
    out.push({ app, owner: hex(view.owner), publishers: view.publishers.map(hex), latest: view.latest ?? null, ignoredRecords: view.ignored, versions });
  }
  if (o.json) {
    console.log(JSON.stringify({ apps: out }, null, 2));
    return 0;
  }
  if (out.length === 0) {
    console.log('no images published');
    return 0;
  }
  for (const a of out) {
    console.log(`${a.app}  latest ${a.latest ?? '-'}  owner ${a.owner.slice(0, 16)}…${a.ignoredRecords ? `  (${a.ignoredRecords} records by others ignored)` : ''}`);
    for (const v of a.versions) {
      console.log(`  ${v.version.padEnd(12)} ${mb(v.bytes).padStart(9)} MB ${String(v.files).padStart(7)} files  digest ${v.digest.slice(0, 16)}  sharers ${v.sharers}  published ${v.publishedAt.slice(0, 19).replace('T', ' ')}`);
      if (v.servers.length === 0) console.log('      no live server');
      for (const s of v.servers) console.log(`      ${`${s.vip}:${s.nfsPort}`.padEnd(21)} ${s.exportPath}  ${s.path}${s.rttMs !== undefined ? ` ${s.rttMs.toFixed(1)} ms` : ''}`);
    }
  }
  return 0;
}

// ---- mount ----

export async function mountImage(o: Common & { app: string; version?: string; nfsPort: number; mountPort?: number; host: string; shadow?: string; store?: string; stallMs?: number; share?: MountingOptions['share']; trace?: MountingOptions['trace'] }): Promise<number> {
  const t0 = performance.now();
  tuneProxyV8();
  const app = checkAppName(o.app);
  const wanted = o.version === undefined ? undefined : checkVersion(o.version);
  const { node, info, registry } = await connect(o);
  const view = await registry.resolveApp(app);
  const version = wanted ?? view.latest;
  if (!version) throw new CliError(`${app} has no published version`, 1);
  const v = view.versions.find((x) => x.version === version);
  if (!v) throw new CliError(`${app} has no version ${version} (versions: ${view.versions.map((x) => x.version).join(', ') || 'none'})`, 1);
  const store = resolve(o.store ?? join(IMAGE_STORE_ROOT, info.network, app, version));
  // One mount per store: two proxies on one state would each see the other's files as STALE.
  lockStateDir(store, '--store');
  const shadowDir = resolve(o.shadow ?? join(store, 'shadow'));
  lockShadowDir(shadowDir, '--shadow');
  const mounting = await ImageMounting.start({
    app,
    version,
    digest: v.digest,
    manifest: await versionManifest(registry, info, app, version, v.digest, store),
    node,
    registry,
    storeDir: join(store, 'state'),
    shadowDir,
    listenHost: o.host,
    nfsPort: o.nfsPort,
    mountPort: o.mountPort,
    refreshMs: Math.max(1000, Math.floor(o.ttlMs / 3)),
    stallMs: o.stallMs,
    share: o.share,
    trace: o.trace,
    clock: systemClock,
    log: warn,
  });
  const p = mounting.proxy;
  say(`mounted ${app} ${version} (digest ${hex(v.digest).slice(0, 16)}) in ${Math.round(performance.now() - t0)} ms${version !== view.latest ? ` (latest is ${view.latest})` : ''}`);
  say(`NFS port ${p.nfsPort}, MOUNT port ${p.mountPort}, export ${mounting.exportPath}; state ${store}`);
  say(`e.g. mount -t nfs -o vers=3,tcp,nolock,port=${p.nfsPort},mountport=${p.mountPort} HOST:${mounting.exportPath} /mnt`);
  say(mounting.sharingLine());
  const why = await untilStopped();
  const sources = mounting.blockSources();
  await mounting.stop();
  say(`unmounted ${app} ${version} (${why}); ${blockSourcesLine(sources)}`);
  return 0;
}

/** `bytes: N from the server, N from peers (…), N from the cache; …` for the mount's last line. */
function blockSourcesLine(d: Record<string, unknown>): string {
  const b = d.bytes as { server: number; peers: number; cache: number };
  const p = d.peers as { used: string[]; bad: string[]; rejectedBlocks: number } | null;
  const pf = d.prefetch as { fetchedBlocks: number; hitBlocks: number; wasteBlocks: number } | undefined;
  return (
    `bytes: ${b.server} from the server, ${b.peers} from peers, ${b.cache} from the cache` +
    (p ? `; peers used ${p.used.length}, blocks rejected ${p.rejectedBlocks}${p.bad.length ? `, bad peers ${p.bad.join(' ')}` : ''}` : '') +
    (pf ? `; prefetch ${pf.fetchedBlocks} blocks, ${pf.hitBlocks} hits, ${pf.wasteBlocks} wasted` : '')
  );
}

// ---- gc / unpublish ----

export async function collectImages(o: Common & { app: string; keep: number; minAgeMs: number; dryRun: boolean; deleteData: boolean }): Promise<number> {
  const app = checkAppName(o.app);
  const { node, registry } = await connect(o);
  const plan = await registry.gc(app, { keep: o.keep, minAgeMs: o.minAgeMs, dryRun: o.dryRun });
  if (plan.length === 0) console.log(`${app}: no versions`);
  for (const p of plan) console.log(`${p.version.padEnd(12)} ${p.action === 'withdraw' ? (o.dryRun ? 'would withdraw' : 'withdrawn') : 'kept'}  sharers ${p.sharers}  ${p.reason}`);
  const withdrawn = plan.filter((p) => p.action === 'withdraw').map((p) => p.version);
  if (o.deleteData && !o.dryRun && withdrawn.length > 0) await deleteServedCopies(o.socket, node, app, withdrawn, o.ttlMs);
  return 0;
}

/** Deletes this node's served copies of withdrawn versions, once their serve processes have stopped. */
async function deleteServedCopies(socket: string, node: LocalNode, app: string, versions: string[], ttlMs: number): Promise<void> {
  const { controlRequest } = await import('../control/client.js');
  const served = async () =>
    ((await controlRequest(socket, { op: 'status' })) as { images: Array<{ role: string; app: string; version: string; detail: { dir?: string } }> }).images.filter(
      (i) => i.role === 'serve' && i.app === app && versions.includes(i.version),
    );
  const dirs = new Set((await served()).map((i) => i.detail.dir).filter((d): d is string => typeof d === 'string'));
  // Serve processes notice the withdrawal at their next refresh (every third of the TTL) and exit.
  const until = Date.now() + ttlMs;
  while ((await served()).length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 500));
  const still = await served();
  for (const dir of dirs) {
    if (still.some((i) => i.detail.dir === dir)) {
      warn(`${dir} is still being served: not deleted`);
      continue;
    }
    rmSync(dir, { recursive: true, force: true });
    say(`deleted ${dir}`);
  }
  void node;
}

export async function unpublishImage(o: Common & { app: string; version: string }): Promise<number> {
  const app = checkAppName(o.app);
  const version = checkVersion(o.version);
  const { registry } = await connect(o);
  await registry.withdrawVersion(app, version);
  await registry.removeServer(app, version).catch(() => undefined);
  say(`withdrew ${app} ${version}; its servers stop within ${Math.round(o.ttlMs / 3000)} s`);
  return 0;
}

/** One line and an exit code for everything a user can meet; other errors are bugs and propagate. */
export function asCliError(e: unknown): unknown {
  if (e instanceof CliError) return e;
  if (e instanceof ImageError) return new CliError(e.message, e.code === 'BAD_NAME' ? 2 : 1);
  if (e instanceof ManifestFetchError || e instanceof ProxyStartError || e instanceof StateStoreError || e instanceof ControlClientError) return new CliError(e.message, 1);
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') return new CliError(`cannot listen: ${(e as Error).message}`, 1);
  if (code === 'ENOENT' || code === 'EACCES' || code === 'ENOTDIR' || code === 'EISDIR') return new CliError((e as Error).message, 1);
  return e;
}

// ---- boot ----

/** The image root of `overlay boot --image APP`: mounts on `host`, the root path following the latest version. */
export async function startImageBootRoot(o: Common & { app: string; version?: string; host: string; firstPort: number; storeRoot?: string; portmap?: boolean; clientIoBytes?: number; log: (line: string) => void }): Promise<ImageBootRoot> {
  const app = checkAppName(o.app);
  const version = o.version === undefined ? undefined : checkVersion(o.version);
  tuneProxyV8();
  const { node, info, registry } = await connect(o);
  return ImageBootRoot.start({
    app,
    version,
    node,
    registry,
    storeRoot: resolve(o.storeRoot ?? join(IMAGE_STORE_ROOT, info.network, app)),
    host: o.host,
    firstPort: o.firstPort,
    refreshMs: Math.max(1000, Math.floor(o.ttlMs / 3)),
    clock: systemClock,
    log: o.log,
    portmap: o.portmap,
    clientIoBytes: o.clientIoBytes,
  });
}
