// The manifest of an NFSv3 export (`overlay image publish|serve --nfs HOST:PATH`, e.g. nfs-ganesha),
// built over the protocol: READDIRPLUS for the entries and their attributes, READLINK for symlink
// targets, READ for the block hashes. The same entries and hashes as buildManifest on the exported
// directory, so a ganesha replica of a published directory matches its manifest.
import { createHash } from 'node:crypto';
import type { Nfs3Client } from '../nfs3/client.js';
import { Ftype3, Nfs3Status, type Fattr3, type FileHandle } from '../nfs3/types.js';
import { ImageError, quote } from './errors.js';
import { MAX_MANIFEST_ENTRIES, checkManifestPath, comparePaths, type Manifest, type ManifestEntry } from './manifest-codec.js';
import type { TreeOptions, TreeProgress } from './manifest-tree.js';

/** Bytes asked per READ (servers may answer fewer). */
const READ_BYTES = 1024 * 1024;
const READDIR_MAXCOUNT = 256 * 1024;
const DEFAULT_BLOCK_SIZE = 65536;
const PROGRESS_BYTES = 8 << 20;

const fail = (what: string, status: Nfs3Status) => new ImageError('IO', `${what}: NFS3ERR_${Nfs3Status[status] ?? status}`);

function entryOf(path: string, a: Fattr3): ManifestEntry {
  const base = { path, mode: a.mode & 0o7777, uid: a.uid, gid: a.gid };
  if (a.type === Ftype3.DIR) return { ...base, type: 'dir', size: 0 };
  if (a.type === Ftype3.REG) return { ...base, type: 'file', size: Number(a.size) };
  if (a.type === Ftype3.LNK) return { ...base, type: 'symlink', size: Number(a.size) };
  return { ...base, type: 'other', size: 0 };
}

/** The manifest of the export whose root handle is `root`, read through `nfs`. */
export async function buildExportManifest(nfs: Nfs3Client, root: FileHandle, opts: TreeOptions = {}): Promise<Manifest> {
  const blockSize = opts.blockSize ?? DEFAULT_BLOCK_SIZE;
  const rootAttrs = await nfs.getattr({ object: root });
  if (rootAttrs.status !== Nfs3Status.OK) throw fail('GETATTR of the export root', rootAttrs.status);
  const entries: ManifestEntry[] = [{ ...entryOf('', rootAttrs.objAttributes), type: 'dir', size: 0 }];
  const handles = new Map<string, FileHandle>();
  const pending: Array<{ path: string; fh: FileHandle }> = [{ path: '', fh: root }];
  while (pending.length > 0) {
    opts.signal?.throwIfAborted();
    const dir = pending.pop()!;
    let cookie = 0n;
    let cookieverf: Uint8Array = new Uint8Array(8);
    for (;;) {
      const r = await nfs.readdirplus({ dir: dir.fh, cookie, cookieverf, dircount: READDIR_MAXCOUNT, maxcount: READDIR_MAXCOUNT });
      if (r.status !== Nfs3Status.OK) throw fail(`READDIRPLUS ${quote(dir.path || '/')}`, r.status);
      for (const e of r.entries) {
        if (e.name === '.' || e.name === '..') continue;
        const path = checkManifestPath(dir.path === '' ? e.name : `${dir.path}/${e.name}`);
        let fh = e.nameHandle;
        let attrs = e.nameAttributes;
        if (!fh || !attrs) {
          const l = await nfs.lookup({ what: { dir: dir.fh, name: e.name } });
          if (l.status !== Nfs3Status.OK) throw fail(`LOOKUP ${quote(path)}`, l.status);
          fh = l.object;
          attrs = l.objAttributes ?? (await getattr(nfs, fh, path));
        }
        const entry = entryOf(path, attrs);
        if (entry.type === 'symlink') {
          const l = await nfs.readlink({ symlink: fh });
          if (l.status !== Nfs3Status.OK) throw fail(`READLINK ${quote(path)}`, l.status);
          entry.target = l.data;
          entry.size = Buffer.byteLength(l.data);
        }
        entries.push(entry);
        if (entries.length > MAX_MANIFEST_ENTRIES) throw new ImageError('TOO_LARGE', `the export has more than ${MAX_MANIFEST_ENTRIES} entries`);
        if (entry.type === 'dir') pending.push({ path, fh });
        if (entry.type === 'file') handles.set(path, fh);
      }
      if (r.eof || r.entries.length === 0) break;
      cookie = r.entries[r.entries.length - 1]!.cookie;
      cookieverf = r.cookieverf;
    }
  }
  entries.sort((a, b) => comparePaths(a.path, b.path));
  const files = entries.filter((e) => e.type === 'file');
  const progress: TreeProgress = { files: 0, bytes: 0, totalBytes: files.reduce((n, e) => n + e.size, 0) };
  let reported = 0;
  for (const e of files) {
    opts.signal?.throwIfAborted();
    e.blockHashes = await hashFile(nfs, handles.get(e.path)!, e.path, e.size, blockSize, (n) => {
      progress.bytes += n;
      if (opts.onProgress && progress.bytes - reported >= PROGRESS_BYTES) {
        reported = progress.bytes;
        opts.onProgress({ ...progress });
      }
    });
    progress.files++;
  }
  opts.onProgress?.({ ...progress });
  return { blockSize, entries };
}

async function getattr(nfs: Nfs3Client, fh: FileHandle, path: string): Promise<Fattr3> {
  const g = await nfs.getattr({ object: fh });
  if (g.status !== Nfs3Status.OK) throw fail(`GETATTR ${quote(path)}`, g.status);
  return g.objAttributes;
}

/** SHA-256 of each block of the file, read in order; the file must have exactly `size` bytes. */
async function hashFile(nfs: Nfs3Client, fh: FileHandle, path: string, size: number, blockSize: number, onBytes: (n: number) => void): Promise<Uint8Array> {
  const blocks = Math.ceil(size / blockSize);
  const out = new Uint8Array(blocks * 32);
  let block = 0;
  let pending = Buffer.alloc(0);
  let offset = 0;
  while (offset < size) {
    const r = await nfs.read({ file: fh, offset: BigInt(offset), count: Math.min(READ_BYTES, size - offset) });
    if (r.status !== Nfs3Status.OK) throw fail(`READ ${quote(path)}`, r.status);
    if (r.data.length === 0) throw new ImageError('MISMATCH', `${quote(path)} ended at ${offset} bytes, its attributes say ${size}`);
    offset += r.data.length;
    onBytes(r.data.length);
    pending = pending.length === 0 ? Buffer.from(r.data) : Buffer.concat([pending, r.data]);
    while (pending.length >= blockSize || (offset >= size && pending.length > 0)) {
      const n = Math.min(blockSize, pending.length);
      out.set(createHash('sha256').update(pending.subarray(0, n)).digest(), block * 32);
      block++;
      pending = pending.subarray(n);
    }
  }
  if (block !== blocks) throw new ImageError('MISMATCH', `${quote(path)} changed while it was read`);
  return out;
}
