// libnfs's command-line client (nfs-ls, nfs-cat, nfs-cp from libnfs-utils) as unmodified NFSv3
// clients in tests. URLs carry the ports, so no portmapper is needed; with `ns` the tool runs
// inside that network namespace.
import type { Netns } from './netns.js';
import { run } from './proc.js';

export interface NfsTarget {
  host: string;
  /** Exported path to mount (e.g. ganesha's exportPath, or the embedded server's export name). */
  exportPath: string;
  nfsPort: number;
  mountPort: number;
  ns?: Netns;
}

/** nfs://HOST/EXPORT/PATH?version=3&nfsport=N&mountport=M (extra query args appended). */
export function nfsUrl(t: NfsTarget, path = '', extra: Record<string, string | number> = {}): string {
  const base = `/${t.exportPath}/${path}`.replace(/\/+/g, '/');
  const q = new URLSearchParams({ version: '3', nfsport: String(t.nfsPort), mountport: String(t.mountPort) });
  for (const [k, v] of Object.entries(extra)) q.set(k, String(v));
  return `nfs://${t.host}${base}?${q.toString()}`;
}

function exec(t: NfsTarget, cmd: string, args: string[], timeoutMs: number) {
  return t.ns ? t.ns.exec(cmd, args, timeoutMs) : run(cmd, args, timeoutMs);
}

/** Lines of `nfs-ls` for a directory (path relative to the export). */
export async function nfsLs(t: NfsTarget, dir = '', timeoutMs = 30_000): Promise<string[]> {
  const url = nfsUrl(t, dir.endsWith('/') || dir === '' ? dir : `${dir}/`);
  const { stdout } = await exec(t, 'nfs-ls', [url], timeoutMs);
  return stdout.split('\n').filter((l) => l.trim() !== '');
}

/** Names listed by `nfs-ls` (last column), without . and .. */
export async function nfsLsNames(t: NfsTarget, dir = '', timeoutMs = 30_000): Promise<string[]> {
  return (await nfsLs(t, dir, timeoutMs))
    .map((l) => l.trim().split(/\s+/).slice(-1)[0]!)
    .filter((n) => n !== '.' && n !== '..')
    .sort();
}

/** File content via `nfs-cat`. */
export async function nfsCat(t: NfsTarget, path: string, timeoutMs = 60_000): Promise<Buffer> {
  const url = nfsUrl(t, path);
  const { execFile } = await import('node:child_process');
  const argv = t.ns ? ['ip', ['netns', 'exec', t.ns.name, 'nfs-cat', url]] : ['nfs-cat', [url]];
  return new Promise((resolve, reject) => {
    execFile(argv[0] as string, argv[1] as string[], { encoding: 'buffer', timeout: timeoutMs, maxBuffer: 1 << 30 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`nfs-cat ${url}: ${err.message} ${stderr.toString()}`));
      else resolve(stdout);
    });
  });
}

/** Uploads a local file with `nfs-cp LOCAL nfs://...`. */
export async function nfsCpIn(t: NfsTarget, localFile: string, path: string, timeoutMs = 120_000): Promise<void> {
  await exec(t, 'nfs-cp', [localFile, nfsUrl(t, path)], timeoutMs);
}

/** Downloads with `nfs-cp nfs://... LOCAL`. */
export async function nfsCpOut(t: NfsTarget, path: string, localFile: string, timeoutMs = 120_000): Promise<void> {
  await exec(t, 'nfs-cp', [nfsUrl(t, path), localFile], timeoutMs);
}
