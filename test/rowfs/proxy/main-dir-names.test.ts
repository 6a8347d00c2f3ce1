// A main-only directory in which a client looks up several names is listed once (READDIRPLUS) and
// every name registered with its handle and attributes; from then on LOOKUPs in it, of present and
// of missing names, send nothing to main. The proxy's own changes to the directory (remove, create,
// rename in and out, hard link) are answered correctly afterwards, and a directory a client listed
// needs no main LOOKUP either. MainDirNames' bookkeeping is checked on its own first.
import test from 'ava';
import { CreateMode, Nfs3Status, StableHow, type Fattr3 } from '../../../rowfs/nfs3/types.js';
import { PROXY_FSID } from '../../../rowfs/proxy/attrs.js';
import { LIST_AFTER_LOOKUPS, LIST_AT_ONCE_ENTRIES, MainDirNames } from '../../../rowfs/proxy/main-dir-names.js';
import type { OpenedExport } from '../../../rowfs/mount/open-export.js';
import type { RowfsProxy } from '../../../rowfs/proxy/proxy.js';
import { createFile, listNames, lookup, pattern, proxyOverEmbeddedMain, readAll, status } from './fixture.js';

test('MainDirNames: listed after LIST_AFTER_LOOKUPS lookups, one listing at a time, a failure never retried', async (t) => {
  const d = new MainDirNames();
  for (let i = 1; i < LIST_AFTER_LOOKUPS; i++) t.false(d.countLookup(7));
  t.true(d.countLookup(7));
  let runs = 0;
  let finish!: (ok: boolean) => void;
  const list = () => (runs++, new Promise<boolean>((r) => (finish = r)));
  const a = d.listOnce(7, list);
  const b = d.listOnce(7, list);
  t.false(d.countLookup(7), 'not while a listing runs');
  finish(true);
  await Promise.all([a, b]);
  t.is(runs, 1, 'concurrent callers share one listing');
  t.true(d.isComplete(7));
  t.false(d.countLookup(7));

  for (let i = 0; i < LIST_AFTER_LOOKUPS; i++) d.countLookup(8);
  await d.listOnce(8, async () => false); // too large
  await d.listOnce(9, async () => {
    throw new Error('main went away');
  });
  t.false(d.isComplete(8));
  t.false(d.isComplete(9));
  for (let i = 0; i < 2 * LIST_AFTER_LOOKUPS; i++) t.false(d.countLookup(8), 'not tried again');
});

const FILES = 12;
const content = (i: number) => pattern(100 + i, i + 1);

async function setup(t: Parameters<typeof proxyOverEmbeddedMain>[0]) {
  const files: Record<string, Buffer> = { 'other/x': Buffer.from('x\n'), 'listed/y': Buffer.from('y\n') };
  for (let i = 0; i < FILES; i++) files[`d/f${i}`] = content(i);
  const p = await proxyOverEmbeddedMain(t, files);
  const ex = await p.open();
  t.teardown(() => ex.close());
  return { ...p, ex };
}

const mainCalls = (proxy: RowfsProxy, proc: string) => proxy.counters.snapshot().main[proc] ?? 0;

async function lookupStatus(ex: OpenedExport, dir: Uint8Array, name: string): Promise<string> {
  return status(ex.nfs.lookup({ what: { dir, name } }));
}

test('after a few LOOKUPs a main-only directory is listed once; later LOOKUPs, hits and misses, ask main nothing', async (t) => {
  const { proxy, ex, faults } = await setup(t);
  const d = await lookup(ex, ex.root, 'd');
  const lookups0 = mainCalls(proxy, 'LOOKUP');
  for (let i = 0; i < LIST_AFTER_LOOKUPS; i++) t.deepEqual(await readAll(ex, await lookup(ex, d, `f${i}`)), content(i));
  t.is(mainCalls(proxy, 'LOOKUP') - lookups0, LIST_AFTER_LOOKUPS - 1, 'the last of them came from the listing');
  t.is(mainCalls(proxy, 'READDIRPLUS'), 1);
  const before = mainCalls(proxy, 'LOOKUP') + mainCalls(proxy, 'GETATTR');
  for (let i = 0; i < FILES; i++) {
    const fh = await lookup(ex, d, `f${i}`);
    const a = await ex.nfs.getattr({ object: fh });
    t.is(a.status === Nfs3Status.OK && Number(a.objAttributes.size), 100 + i, 'attributes from the listing');
  }
  t.is(await lookupStatus(ex, d, 'missing'), 'NOENT');
  t.is(await lookupStatus(ex, d, 'f1/..'), 'NOENT');
  t.is(mainCalls(proxy, 'LOOKUP') + mainCalls(proxy, 'GETATTR'), before, 'no LOOKUP or GETATTR to main');
  // Another main directory still gets its LOOKUPs.
  const other = await lookup(ex, ex.root, 'other');
  await lookup(ex, other, 'x');
  t.is(await lookupStatus(ex, other, 'nope'), 'NOENT');
  t.true(mainCalls(proxy, 'LOOKUP') >= before + 2);
  t.deepEqual(faults, []);
});

test('changes through the proxy after the listing: remove, re-create, rename in and out, link', async (t) => {
  const { proxy, ex, faults } = await setup(t);
  const d = await lookup(ex, ex.root, 'd');
  const other = await lookup(ex, ex.root, 'other');
  for (let i = 0; i < LIST_AFTER_LOOKUPS; i++) await lookup(ex, d, `f${i}`);
  t.is(mainCalls(proxy, 'READDIRPLUS'), 1);

  t.is(await status(ex.nfs.remove({ object: { dir: d, name: 'f5' } })), 'OK');
  t.is(await lookupStatus(ex, d, 'f5'), 'NOENT', 'whited out');
  const again = await createFile(ex, d, 'f5', CreateMode.GUARDED);
  t.deepEqual(await readAll(ex, again), Buffer.alloc(0), 'the new, empty f5');
  t.is(await status(ex.nfs.rename({ from: { dir: d, name: 'f6' }, to: { dir: other, name: 'f6-moved' } })), 'OK');
  t.is(await lookupStatus(ex, d, 'f6'), 'NOENT');
  t.deepEqual(await readAll(ex, await lookup(ex, other, 'f6-moved')), content(6));
  t.is(await status(ex.nfs.rename({ from: { dir: other, name: 'x' }, to: { dir: d, name: 'x-in' } })), 'OK');
  t.deepEqual(await readAll(ex, await lookup(ex, d, 'x-in')), Buffer.from('x\n'));
  t.is(await status(ex.nfs.rename({ from: { dir: d, name: 'f7' }, to: { dir: d, name: 'f7b' } })), 'OK');
  t.is(await lookupStatus(ex, d, 'f7'), 'NOENT');
  t.deepEqual(await readAll(ex, await lookup(ex, d, 'f7b')), content(7));
  t.is(await status(ex.nfs.link({ file: await lookup(ex, d, 'f8'), link: { dir: d, name: 'f8-link' } })), 'OK');
  t.deepEqual(await readAll(ex, await lookup(ex, d, 'f8-link')), content(8));
  const expected = Array.from({ length: FILES }, (_, i) => `f${i}`).filter((n) => n !== 'f6' && n !== 'f7');
  t.deepEqual(await listNames(ex, d), [...expected, 'f7b', 'f8-link', 'x-in'].sort());
  t.deepEqual(faults, []);
});

test('a directory a client has listed needs no LOOKUP to main for names missing from it', async (t) => {
  const { proxy, ex } = await setup(t);
  const listed = await lookup(ex, ex.root, 'listed');
  t.deepEqual(await listNames(ex, listed), ['y']);
  const before = mainCalls(proxy, 'LOOKUP');
  t.is(await lookupStatus(ex, listed, 'absent'), 'NOENT');
  await lookup(ex, listed, 'y');
  t.is(mainCalls(proxy, 'LOOKUP'), before);
});

const noAtime = (a: Fattr3 | undefined) => (a ? { ...a, atime: undefined } : undefined);

test("a main-only file's attributes, remembered once, are the same in LOOKUP, ACCESS, GETATTR, READ and READDIRPLUS; a write gives it the shadow's", async (t) => {
  const { proxy, ex } = await setup(t);
  const d = await lookup(ex, ex.root, 'd');
  const fileids = new Set<bigint>();
  const seen: Fattr3[] = [];
  for (let i = 0; i < FILES; i++) {
    const l = await ex.nfs.lookup({ what: { dir: d, name: `f${i}` } });
    if (l.status !== Nfs3Status.OK) return t.fail(`LOOKUP f${i}`);
    const a = await ex.nfs.access({ object: l.object, access: 0x1 });
    const g = await ex.nfs.getattr({ object: l.object });
    const r = await ex.nfs.read({ file: l.object, offset: 0n, count: 4096 });
    if (a.status !== Nfs3Status.OK || g.status !== Nfs3Status.OK || r.status !== Nfs3Status.OK) return t.fail(`f${i}`);
    t.deepEqual(r.data, content(i));
    for (const x of [l.objAttributes, a.objAttributes, r.fileAttributes]) t.deepEqual(x, g.objAttributes, `f${i}: one attribute set`);
    t.is(g.objAttributes.fsid, PROXY_FSID);
    t.is(g.objAttributes.size, BigInt(content(i).length));
    fileids.add(g.objAttributes.fileid);
    seen.push(g.objAttributes);
  }
  t.is(fileids.size, FILES, 'each file its own virtual fileid');
  const plus = await ex.nfs.readdirplus({ dir: d, cookie: 0n, cookieverf: new Uint8Array(8), dircount: 32768, maxcount: 131072 });
  if (plus.status !== Nfs3Status.OK) return t.fail('READDIRPLUS');
  for (const e of plus.entries) {
    const m = /^f(\d+)$/.exec(e.name);
    // A client's listing reads main again: its atimes are main's now (our READs moved them).
    if (m) t.deepEqual(noAtime(e.nameAttributes), noAtime(seen[Number(m[1])]), `${e.name} listed with the same attributes`);
  }
  // Copied up by a write: the shadow's attributes from now on, the remembered main set unchanged.
  const f0 = await lookup(ex, d, 'f0');
  const w = await ex.nfs.write({ file: f0, offset: 0n, count: 3, stable: StableHow.FILE_SYNC, data: Buffer.from('new') });
  t.is(w.status, Nfs3Status.OK);
  const after = await ex.nfs.getattr({ object: f0 });
  if (after.status !== Nfs3Status.OK) return t.fail('GETATTR after the write');
  t.is(after.objAttributes.fileid, seen[0]!.fileid, 'same virtual fileid');
  t.is(after.objAttributes.fsid, PROXY_FSID);
  t.not(after.objAttributes.mtime.nseconds + after.objAttributes.mtime.seconds * 1e9, seen[0]!.mtime.nseconds + seen[0]!.mtime.seconds * 1e9, 'the shadow copy\'s mtime');
  const f1 = await ex.nfs.getattr({ object: await lookup(ex, d, 'f1') });
  t.deepEqual(noAtime(f1.status === Nfs3Status.OK ? f1.objAttributes : undefined), noAtime(seen[1]), 'other files keep theirs');
  t.is(proxy.counters.snapshot().main.GETATTR ?? 0, 0, 'all from the listing');
});

test('a remove in a main-only directory, at the lookup that would list it, does not start a listing of its own (which needs the lock it holds); the directory is listed at a later LOOKUP', async (t) => {
  // More names than are listed at the first LOOKUP (LIST_AT_ONCE_ENTRIES).
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 2 * LIST_AT_ONCE_ENTRIES; i++) files[`d/f${i}`] = content(i);
  const p = await proxyOverEmbeddedMain(t, files);
  const ex = await p.open();
  t.teardown(() => ex.close());
  const faults = p.faults;
  const d = await lookup(ex, ex.root, 'd');
  // One LOOKUP short of the listing: the remove's own resolve of its name (a main file not seen
  // yet) would be the one to start it, and registering the listed names takes the namespace lock
  // the remove holds.
  for (let i = 0; i < LIST_AFTER_LOOKUPS - 1; i++) await lookup(ex, d, `f${i}`);
  t.is(p.proxy.counters.snapshot().main.READDIRPLUS ?? 0, 0, 'not listed yet');
  const victim = `f${LIST_AFTER_LOOKUPS - 1}`;
  const removed = await Promise.race([
    status(ex.nfs.remove({ object: { dir: d, name: victim } })),
    new Promise<string>((resolve) => setTimeout(() => resolve('no reply in 5 s'), 5_000).unref()),
  ]);
  t.is(removed, 'OK');
  // The directory is still listed once, at a later LOOKUP (a listing that failed inside the remove,
  // as when the remove's own resolve started it, is never tried again: every LOOKUP would ask main).
  for (let i = LIST_AFTER_LOOKUPS; i < 2 * LIST_AFTER_LOOKUPS; i++) await lookup(ex, d, `f${i}`);
  const mainLookups = () => p.proxy.counters.snapshot().main.LOOKUP ?? 0;
  const before = mainLookups();
  for (let i = 2 * LIST_AFTER_LOOKUPS; i < 3 * LIST_AFTER_LOOKUPS; i++) await lookup(ex, d, `f${i}`);
  t.is(mainLookups(), before, 'names found in the listing');
  t.is(p.proxy.counters.snapshot().main.READDIRPLUS ?? 0, 1);
  const names = await listNames(ex, d);
  t.false(names.includes(victim));
  t.is(names.length, 2 * LIST_AT_ONCE_ENTRIES - 1);
  t.deepEqual(faults, []);
});

test("a listing's main entries take their attributes from what the proxy keeps; one pushed out since is asked of main, not sent without", async (t) => {
  const names = 40;
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < names; i++) files[`d/f${i}`] = content(i);
  for (const kept of [16_384, 8]) {
    const p = await proxyOverEmbeddedMain(t, files, { mainAttrEntries: kept });
    const ex = await p.open();
    t.teardown(() => ex.close());
    const d = await lookup(ex, ex.root, 'd');
    const getattrs = () => p.proxy.counters.snapshot().main.GETATTR ?? 0;
    const before = getattrs();
    const plus = await ex.nfs.readdirplus({ dir: d, cookie: 0n, cookieverf: new Uint8Array(8), dircount: 32768, maxcount: 131072 });
    if (plus.status !== Nfs3Status.OK) return t.fail('READDIRPLUS');
    const listed = plus.entries.filter((e) => /^f\d+$/.test(e.name));
    t.is(listed.length, names);
    for (const e of listed) {
      const g = await ex.nfs.getattr({ object: e.nameHandle! });
      if (g.status !== Nfs3Status.OK) return t.fail(`GETATTR ${e.name}`);
      t.deepEqual(noAtime(e.nameAttributes), noAtime(g.objAttributes), `${e.name} listed with its attributes (kept ${kept})`);
      t.is(e.nameAttributes?.size, BigInt(content(Number(e.name.slice(1))).length));
    }
    // All kept: none asked of main. Eight kept: the 32 pushed out while the listing was built were
    // asked when the page went out (and the GETATTRs after it, of names pushed out again, too).
    if (kept > names) t.is(getattrs(), before);
    else t.true(getattrs() - before >= names - kept, `${getattrs() - before} GETATTRs to main`);
    t.deepEqual(p.faults, []);
  }
});
