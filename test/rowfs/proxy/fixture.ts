// Shared setup for proxy tests: a main export with known content (files, a 3,000-entry directory,
// symlinks, hard links), a shadow export, and helpers to checksum a tree and drive the proxy with
// our own NFSv3 client.
import type { ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, linkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { openExport, type OpenedExport } from '../../../rowfs/mount/open-export.js';
import { RowfsProxy, type RowfsProxyOptions } from '../../../rowfs/proxy/proxy.js';
import { startEmbeddedServer, type EmbeddedServer } from '../../../rowfs/server/embedded-server.js';
import { expectOk } from '../../../rowfs/nfs3/errors.js';
import { CreateMode, Nfs3Status, StableHow, type FileHandle } from '../../../rowfs/nfs3/types.js';

export const BIG_BYTES = 1024 * 1024 + 12345; // not a multiple of any block size
export const MANY_ENTRIES = 3000;

/** Deterministic pseudo-random bytes (so expected content can be recomputed). */
export function pattern(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Populates a main export directory. */
export function populateMain(dir: string): void {
  writeFileSync(join(dir, 'big.bin'), pattern(BIG_BYTES, 1));
  writeFileSync(join(dir, 'small.txt'), 'hello from main\n');
  mkdirSync(join(dir, 'dir', 'sub'), { recursive: true });
  writeFileSync(join(dir, 'dir', 'a.txt'), 'a in dir\n');
  writeFileSync(join(dir, 'dir', 'sub', 'b.txt'), 'b in sub\n');
  mkdirSync(join(dir, 'many'));
  for (let i = 0; i < MANY_ENTRIES; i++) writeFileSync(join(dir, 'many', `f${String(i).padStart(5, '0')}`), `${i}\n`);
  symlinkSync('small.txt', join(dir, 'link'));
  symlinkSync('does/not/exist', join(dir, 'dangling'));
  writeFileSync(join(dir, 'hard1'), 'shared inode\n');
  linkSync(join(dir, 'hard1'), join(dir, 'hard2'));
  mkdirSync(join(dir, 'emptydir'));
}

/** SHA-256 over names, types, modes, sizes, contents and link targets of a tree. */
export function treeChecksum(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      h.update(`${rel}/${name}\0${st.mode}\0${st.size}\0${st.mtimeMs}\0`);
      if (st.isSymbolicLink()) h.update(readlinkSync(p));
      else if (st.isDirectory()) walk(p, `${rel}/${name}`);
      else if (st.isFile()) h.update(readFileSync(p));
    }
  };
  walk(dir, '');
  return h.digest('hex');
}

// ---- client helpers (our client against the proxy) ----

export async function lookup(ex: OpenedExport, dir: FileHandle, name: string): Promise<FileHandle> {
  return expectOk(await ex.nfs.lookup({ what: { dir, name } }), `LOOKUP ${name}`).object;
}

export async function lookupPath(ex: OpenedExport, path: string): Promise<FileHandle> {
  let fh = ex.root;
  for (const part of path.split('/').filter(Boolean)) fh = await lookup(ex, fh, part);
  return fh;
}

export async function status(p: Promise<{ status: Nfs3Status }>): Promise<string> {
  return Nfs3Status[(await p).status]!;
}

export async function readAll(ex: OpenedExport, fh: FileHandle, chunk = 65536): Promise<Buffer> {
  const parts: Buffer[] = [];
  let off = 0n;
  for (let i = 0; i < 100_000; i++) {
    const r = expectOk(await ex.nfs.read({ file: fh, offset: off, count: chunk }), 'READ');
    parts.push(Buffer.from(r.data));
    off += BigInt(r.data.length);
    if (r.eof || r.data.length === 0) break;
  }
  return Buffer.concat(parts);
}

export async function writeAt(ex: OpenedExport, fh: FileHandle, offset: number, data: Buffer, stable = StableHow.FILE_SYNC) {
  return expectOk(await ex.nfs.write({ file: fh, offset: BigInt(offset), count: data.length, stable, data }), 'WRITE');
}

export async function createFile(ex: OpenedExport, dir: FileHandle, name: string, mode = CreateMode.GUARDED): Promise<FileHandle> {
  const how = mode === CreateMode.EXCLUSIVE ? { mode, verf: new Uint8Array(8).fill(7) } : { mode, attributes: { mode: 0o644 } };
  const res = expectOk(await ex.nfs.create({ where: { dir, name }, how } as never), `CREATE ${name}`);
  return res.obj ?? (await lookup(ex, dir, name));
}

export async function size(ex: OpenedExport, fh: FileHandle): Promise<number> {
  return Number(expectOk(await ex.nfs.getattr({ object: fh }), 'GETATTR').objAttributes.size);
}

/** Names in a directory through READDIRPLUS (all pages), without . and .. */
export async function listNames(ex: OpenedExport, dir: FileHandle, plus = true): Promise<string[]> {
  const names: string[] = [];
  let cookie = 0n;
  let cookieverf: Uint8Array = new Uint8Array(8);
  for (let i = 0; i < 10_000; i++) {
    const res = plus
      ? expectOk(await ex.nfs.readdirplus({ dir, cookie, cookieverf, dircount: 8192, maxcount: 32768 }), 'READDIRPLUS')
      : expectOk(await ex.nfs.readdir({ dir, cookie, cookieverf, count: 8192 }), 'READDIR');
    for (const e of res.entries) if (e.name !== '.' && e.name !== '..') names.push(e.name);
    if (res.eof) break;
    cookie = res.entries[res.entries.length - 1]!.cookie;
    cookieverf = res.cookieverf;
  }
  return names.sort();
}

/**
 * An embedded read-only main holding `files` (paths; directories made as needed), and a proxy on
 * it with a local shadow directory `shadowDir` (`options` added); faults the proxy reports are
 * collected; everything is removed in teardown.
 */
export async function proxyOverEmbeddedMain(
  t: ExecutionContext,
  files: Record<string, Buffer>,
  options: Partial<RowfsProxyOptions> = {},
): Promise<{ main: EmbeddedServer; proxy: RowfsProxy; shadowDir: string; faults: string[]; open: () => Promise<OpenedExport> }> {
  const mainDir = mkdtempSync(join(tmpdir(), 'rowfs-main-'));
  const shadowDir = mkdtempSync(join(tmpdir(), 'rowfs-shadow-'));
  const stateDir = mkdtempSync(join(tmpdir(), 'rowfs-state-'));
  t.teardown(() => {
    for (const d of [mainDir, shadowDir, stateDir]) rmSync(d, { recursive: true, force: true });
  });
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(mainDir, path)), { recursive: true });
    writeFileSync(join(mainDir, path), content);
  }
  const main = await startEmbeddedServer({ exportDir: mainDir, readOnly: true, host: '127.0.0.1' });
  t.teardown(() => main.stop());
  const faults: string[] = [];
  const proxy = await RowfsProxy.start({
    main: { host: '127.0.0.1', exportPath: main.exportPath, nfsPort: main.nfsPort, mountPort: main.mountPort },
    shadow: { dir: shadowDir },
    stateDir,
    listenHost: '127.0.0.1',
    onFault: (what, err) => faults.push(`${what}: ${String(err)}`),
    ...options,
  });
  t.teardown(() => proxy.stop());
  const open = () => openExport({ host: '127.0.0.1', exportPath: main.exportPath, nfsPort: proxy.nfsPort, mountPort: proxy.mountPort, timeoutMs: 20_000 });
  return { main, proxy, shadowDir, faults, open };
}
