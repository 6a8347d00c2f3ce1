// nfs-ganesha's own user-level proxy (FSAL PROXY_V4, Debian nfs-ganesha-proxy-v4) as a peer of
// ours in bench:rowfs: it runs in main's namespace on other ports and talks NFSv4 to main
// (which then serves NFSv3 and 4 with its pseudo path equal to its real path); clients reach it
// over NFSv3 at main's address. It has no data cache and no redirect-on-write: a baseline for what
// a plain pass-through proxy costs. The phases measured on both proxies, with one client and one
// connection: a cold sequential read (bench/rowfs.ts), a first listing of a LIST_ENTRIES directory
// (READDIRPLUS pages), and reading SMALL_FILES files of SMALL_FILE_BYTES one after another (LOOKUP,
// ACCESS, READ each, as the kernel client does on open and read), after the same read of other
// directories, unmeasured (SMALL_WARMUP_DIRS).
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startGanesha, type Ganesha } from '../../simulations/harness/ganesha.js';
import type { OpenedExport } from '../../rowfs/mount/open-export.js';
import { expectOk } from '../../rowfs/nfs3/errors.js';
import type { FileHandle } from '../../rowfs/nfs3/types.js';

/**
 * The measured directories, one of each per proxy: the same names and bytes, but the first proxy to
 * read a directory would leave main's caches (ganesha's MDCACHE, the page cache) warm for the other.
 */
export const LIST_DIRS = { ours: 'list2000', peer: 'list2000-peer' } as const;
export const LIST_ENTRIES = 2000;
export const SMALL_DIRS = { ours: 'small2000', peer: 'small2000-peer' } as const;
/**
 * Directories of files of the same shape read through each proxy, unmeasured, one after another
 * right before SMALL_DIRS': both proxies are fresh processes, and ours (Node) spends its first
 * several thousand calls compiling the small-file path (TurboFan threads, GC heap growth) where a
 * long-running proxy would not. As many as it takes ours to stop getting faster per pass: in
 * small-alone.js (19:57 UTC, load 2.4) its CPU per 2,000 files was 2.12, 1.18, 1.07, 0.92, 0.94 s
 * in passes 1-5, so the figure is the fourth pass.
 */
export const SMALL_WARMUP_DIRS = ['small2000-warmup', 'small2000-warmup1', 'small2000-warmup2'];
export const SMALL_FILES = 2000;
export const SMALL_FILE_BYTES = 4096;
const PEER_NFS_PORT = 20491;
const PEER_MOUNT_PORT = 20049;
const ACCESS_READ = 0x1;
const NO_VERF = new Uint8Array(8);

/** The listing directories and the small files, in main's tree (before main's ganesha starts). */
export function preparePeerTree(mainDir: string): void {
  for (const dir of Object.values(LIST_DIRS)) {
    mkdirSync(join(mainDir, dir));
    for (let i = 0; i < LIST_ENTRIES; i++) writeFileSync(join(mainDir, dir, `entry-${i}`), '');
  }
  for (const dir of [...Object.values(SMALL_DIRS), ...SMALL_WARMUP_DIRS]) writeSmallDir(mainDir, dir);
}

/** Directory `name` of main's tree with SMALL_FILES files s0, s1, ... of SMALL_FILE_BYTES (file i filled with i & 0xff). */
export function writeSmallDir(mainDir: string, name: string): void {
  mkdirSync(join(mainDir, name));
  for (let i = 0; i < SMALL_FILES; i++) writeFileSync(join(mainDir, name, `s${i}`), Buffer.alloc(SMALL_FILE_BYTES, i & 0xff));
}

/** How main's ganesha must be started for the peer: NFSv3 and v4, pseudo path = path. */
export function mainOptionsForPeer(mainDir: string): { protocols: number[]; pseudo: string } {
  return { protocols: [3, 4], pseudo: realpathSync(mainDir) };
}

export interface PeerProxy {
  ganesha: Ganesha;
  /** Where NFSv3 clients reach it (main's namespace address, the peer's ports). */
  host: string;
  nfsPort: number;
  mountPort: number;
  pid(): number;
}

export async function startPeerProxy(main: Ganesha): Promise<PeerProxy> {
  const ganesha = await startGanesha({
    exportDir: main.exportPath,
    ns: main.ns,
    nfsPort: PEER_NFS_PORT,
    mountPort: PEER_MOUNT_PORT,
    readOnly: true,
    fsal: `Name = PROXY_V4; Srv_Addr = 127.0.0.1; NFS_Port = ${main.nfsPort};`,
  });
  return { ganesha, host: main.host, nfsPort: PEER_NFS_PORT, mountPort: PEER_MOUNT_PORT, pid: () => ganesha.proc().pid };
}

/** Seconds to list `dir` whole with READDIRPLUS (the kernel client's page sizes); checks the count. */
export async function listSeconds(ex: OpenedExport, dir: FileHandle, expected: number): Promise<number> {
  const t = performance.now();
  let cookie = 0n;
  let verf: Uint8Array = NO_VERF;
  let names = 0;
  for (let page = 0; ; page++) {
    if (page > 100_000) throw new Error('listing did not finish');
    const r = expectOk(await ex.nfs.readdirplus({ dir, cookie, cookieverf: verf, dircount: 32768, maxcount: 131072 }), 'READDIRPLUS');
    for (const e of r.entries) if (e.name !== '.' && e.name !== '..') names++;
    if (r.eof) break;
    if (r.entries.length === 0) throw new Error('a page with no entries and no eof');
    cookie = r.entries[r.entries.length - 1]!.cookie;
    verf = r.cookieverf;
  }
  if (names !== expected) throw new Error(`listing returned ${names} entries, expected ${expected}`);
  return (performance.now() - t) / 1000;
}

/** Seconds to read every small file once, one after another: LOOKUP, ACCESS, READ each. */
export async function smallFilesSeconds(ex: OpenedExport, dir: FileHandle): Promise<number> {
  const t = performance.now();
  for (let i = 0; i < SMALL_FILES; i++) {
    const fh = expectOk(await ex.nfs.lookup({ what: { dir, name: `s${i}` } }), 'LOOKUP').object;
    expectOk(await ex.nfs.access({ object: fh, access: ACCESS_READ }), 'ACCESS');
    const r = expectOk(await ex.nfs.read({ file: fh, offset: 0n, count: SMALL_FILE_BYTES }), 'READ');
    if (r.data.length !== SMALL_FILE_BYTES || r.data[0] !== (i & 0xff)) throw new Error(`small file s${i}: wrong content`);
  }
  return (performance.now() - t) / 1000;
}
