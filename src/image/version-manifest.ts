// The manifest of one image version, for a mount: kept in the mount's store once fetched (a restart
// needs no server to answer HTTP first), else fetched from the version's servers (best first) and
// checked against the digest in the signed version record.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageRegistry } from '../../rowfs/image/registry.js';
import { ManifestIndex } from '../../rowfs/image/manifest-index.js';
import { hex } from '../../rowfs/state/store.js';
import { ImageError } from '../../rowfs/image/errors.js';
import { rankByPath, type LocalNodeInfo } from './local-node.js';
import { fetchManifest } from './manifest-http.js';


/** The manifest bytes of (app, version) from one of its servers; ImageError NOT_FOUND when none has it. */
export async function manifestFromServers(registry: ImageRegistry, info: LocalNodeInfo, app: string, version: string, digest: Uint8Array): Promise<Uint8Array> {
  const { servers } = await registry.servers(app, version, digest);
  if (servers.length === 0) throw new ImageError('NOT_FOUND', `${app} ${version} has no live server (nobody serves it right now)`);
  const problems: string[] = [];
  for (const s of rankByPath(servers, info, (x) => hex(x.ring))) {
    try {
      return await fetchManifest(s.vip, s.manifestPort, digest);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  throw new ImageError('NOT_FOUND', `could not get the manifest of ${app} ${version} from any server: ${problems.join('; ')}`);
}

/** The version's manifest, from `store` when kept there, else from a server (then kept). */
export async function versionManifest(registry: ImageRegistry, info: LocalNodeInfo, app: string, version: string, digest: Uint8Array, store: string): Promise<ManifestIndex> {
  mkdirSync(store, { recursive: true });
  const file = join(store, 'manifest');
  try {
    const kept = readFileSync(file);
    if (createHash('sha256').update(kept).digest().equals(Buffer.from(digest))) return new ManifestIndex(kept);
  } catch {
    /* first mount of this version here */
  }
  const bytes = await manifestFromServers(registry, info, app, version, digest);
  writeFileSync(`${file}.tmp`, bytes);
  renameSync(`${file}.tmp`, file);
  return new ManifestIndex(bytes);
}
