// Directory cookies through the proxy (issue 15, part 1), over NFS RPC on loopback: a listing that
// resumes after removes, creates, renames, links and whiteouts returns every entry that existed
// throughout exactly once, a cookie never names another entry, and the verifier is checked
// (RFC 1813 s3.3.16-17), on shadow-only, main-only and merged directories, also across a restart.
import anyTest, { type TestFn } from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openExport } from '../../../rowfs/mount/open-export.js';
import { expectOk } from '../../../rowfs/nfs3/errors.js';
import { CreateMode, type FileHandle } from '../../../rowfs/nfs3/types.js';
import { RowfsProxy } from '../../../rowfs/proxy/proxy.js';
import { startEmbeddedServer } from '../../../rowfs/server/embedded-server.js';
import type { Nfs3Client } from '../../../rowfs/nfs3/client.js';
import { checkPagingAgainstModel, initialNames, isBadCookie, listAllNames, NO_VERF, PAGE, readPage, removeWhileListing } from '../stack/paged-listing.js';
import { lookup, proxyOverEmbeddedMain } from './fixture.js';

const test = anyTest as TestFn<unknown>;

const RUNS = 25;
const INITIAL = 12;
/** Directories made on main for the property runs (each run takes a fresh one). */
const MAIN_DIRS = 3 * RUNS;

function mainFiles(): Record<string, Buffer> {
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 20; i++) for (const plus of [false, true]) files[`repro-${plus}/f${String(i).padStart(3, '0')}`] = Buffer.from(`${i}\n`);
  for (let k = 0; k < MAIN_DIRS; k++) {
    for (const n of initialNames(INITIAL)) files[`mainonly${k}/${n}`] = Buffer.from(n);
    for (const n of initialNames(INITIAL / 2)) files[`merged${k}/${n}`] = Buffer.from(n);
  }
  return files;
}

async function remove(nfs: Nfs3Client, dir: FileHandle, name: string): Promise<void> {
  expectOk(await nfs.remove({ object: { dir, name } }), `REMOVE ${name}`);
}

async function create(nfs: Nfs3Client, dir: FileHandle, name: string): Promise<void> {
  expectOk(await nfs.create({ where: { dir, name }, how: { mode: CreateMode.GUARDED, attributes: { mode: 0o644 } } }), `CREATE ${name}`);
}

const twenty = Array.from({ length: 20 }, (_, i) => `f${String(i).padStart(3, '0')}`);

test('removing listed entries between pages skips nothing (shadow-only and main-only, READDIR and READDIRPLUS)', async (t) => {
  const { open, faults } = await proxyOverEmbeddedMain(t, mainFiles());
  const ex = await open();
  t.teardown(() => ex.close());
  for (const plus of [false, true]) {
    const shadowDir = expectOk(await ex.nfs.mkdir({ where: { dir: ex.root, name: `made-${plus}` }, attributes: { mode: 0o755 } }), 'MKDIR').obj!;
    for (const n of twenty) await create(ex.nfs, shadowDir, n);
    t.deepEqual((await removeWhileListing(ex.nfs, shadowDir, plus, (name) => remove(ex.nfs, shadowDir, name))).sort(), twenty, `shadow-only, plus=${plus}`);
    t.deepEqual(await listAllNames(ex.nfs, shadowDir, plus), []);
    expectOk(await ex.nfs.rmdir({ object: { dir: ex.root, name: `made-${plus}` } }), 'RMDIR');
  }
  // Directories only main has, removed entry by entry while listing (whiteouts).
  for (const plus of [false, true]) {
    const repro = await lookup(ex, ex.root, `repro-${plus}`);
    t.deepEqual((await removeWhileListing(ex.nfs, repro, plus, (name) => remove(ex.nfs, repro, name))).sort(), twenty, `main-only, plus=${plus}`);
    t.deepEqual(await listAllNames(ex.nfs, repro, !plus), []);
    expectOk(await ex.nfs.rmdir({ object: { dir: ex.root, name: `repro-${plus}` } }), 'RMDIR');
  }
  t.deepEqual(faults, []);
});

for (const kind of ['shadow-only', 'main-only', 'merged'] as const) {
  test(`paged listings of a ${kind} directory under random changes match the model`, async (t) => {
    const { open, faults } = await proxyOverEmbeddedMain(t, mainFiles());
    const ex = await open();
    t.teardown(() => ex.close());
    let next = 0;
    const freshDir = async (): Promise<{ dir: FileHandle; names: string[] }> => {
      const k = next++;
      if (k >= MAIN_DIRS) throw new Error('out of prepared directories');
      const names = initialNames(INITIAL);
      if (kind === 'shadow-only') {
        const dir = expectOk(await ex.nfs.mkdir({ where: { dir: ex.root, name: `run${k}` }, attributes: { mode: 0o755 } }), 'MKDIR').obj!;
        for (const n of names) await create(ex.nfs, dir, n);
        return { dir, names };
      }
      if (kind === 'main-only') return { dir: await lookup(ex, ex.root, `mainonly${k}`), names };
      // Merged: half from main, half created through the proxy, one main entry whited out.
      const dir = await lookup(ex, ex.root, `merged${k}`);
      for (const n of names.slice(INITIAL / 2)) await create(ex.nfs, dir, n);
      expectOk(await ex.nfs.remove({ object: { dir, name: names[1]! } }), 'REMOVE');
      return { dir, names: names.filter((n) => n !== names[1]) };
    };
    await checkPagingAgainstModel(ex.nfs, freshDir, { runs: RUNS, dots: true });
    t.deepEqual(faults, []);
  });
}

test('the verifier is checked; cookies handed out before a proxy restart still resume correctly', async (t) => {
  const mainDir = mkdtempSync(join(tmpdir(), 'rowfs-main-'));
  const shadowDir = mkdtempSync(join(tmpdir(), 'rowfs-shadow-'));
  const stateDir = mkdtempSync(join(tmpdir(), 'rowfs-state-'));
  t.teardown(() => {
    for (const d of [mainDir, shadowDir, stateDir]) rmSync(d, { recursive: true, force: true });
  });
  for (let i = 0; i < 10; i++) writeFileSync(join(mainDir, `m${i}`), '');
  const main = await startEmbeddedServer({ exportDir: mainDir, readOnly: true, host: '127.0.0.1' });
  t.teardown(() => main.stop());
  const start = async () => {
    const proxy = await RowfsProxy.start({
      main: { host: '127.0.0.1', exportPath: main.exportPath, nfsPort: main.nfsPort, mountPort: main.mountPort },
      shadow: { dir: shadowDir },
      stateDir,
      listenHost: '127.0.0.1',
    });
    const ex = await openExport({ host: '127.0.0.1', exportPath: main.exportPath, nfsPort: proxy.nfsPort, mountPort: proxy.mountPort, timeoutMs: 20_000 });
    const stop = async () => {
      await ex.close();
      await proxy.stop();
    };
    t.teardown(stop); // stopping twice is harmless
    return { ex, stop };
  };
  let s = await start();
  for (let i = 0; i < 10; i++) await create(s.ex.nfs, s.ex.root, `s${i}`);
  const all = await listAllNames(s.ex.nfs, s.ex.root, true);
  const first = await readPage(s.ex.nfs, s.ex.root, true, 0n, NO_VERF);
  const last = first.entries[first.entries.length - 1]!;
  const foreign = Buffer.from('notavrf!');
  t.true(isBadCookie(await s.ex.nfs.readdir({ dir: s.ex.root, cookie: last.cookie, cookieverf: foreign, count: PAGE.count })), 'foreign verifier');
  t.true(isBadCookie(await s.ex.nfs.readdirplus({ dir: s.ex.root, cookie: last.cookie, cookieverf: foreign, dircount: PAGE.dircount, maxcount: PAGE.maxcount })));
  t.true(isBadCookie(await s.ex.nfs.readdir({ dir: s.ex.root, cookie: 0xffff_ffff_ffff_fff0n, cookieverf: first.verf, count: PAGE.count })), 'a cookie never handed out');
  // A zero verifier asks nothing of the cookie: accepted, like the verifier the proxy gave.
  t.deepEqual(await readPage(s.ex.nfs, s.ex.root, true, last.cookie, NO_VERF), await readPage(s.ex.nfs, s.ex.root, true, last.cookie, first.verf));
  await s.stop();
  s = await start();
  const rest: string[] = [];
  let cookie = last.cookie;
  for (let i = 0; i < 100; i++) {
    const p = await readPage(s.ex.nfs, s.ex.root, true, cookie, first.verf);
    rest.push(...p.entries.map((e) => e.name));
    if (p.eof) break;
    cookie = p.entries[p.entries.length - 1]!.cookie;
  }
  const before = first.entries.map((e) => e.name).filter((n) => n !== '.' && n !== '..');
  t.deepEqual([...before, ...rest].sort(), [...all].sort());
});
