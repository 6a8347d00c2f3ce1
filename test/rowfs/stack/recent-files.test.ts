// SETATTR of a file just created, through the write descriptor the exclusive create kept
// (recent-files.ts): the same attributes as the path-based SETATTR, and never applied to a file
// that is no longer the handle's.
import test from 'ava';
import { lstatSync, mkdtempSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLocalShadow } from '../../../rowfs/proxy/local-shadow.js';
import { CreateMode, Nfs3Status, TimeHow, type FileHandle, type Sattr3 } from '../../../rowfs/nfs3/types.js';
import { DEFAULT_RECENT_FILES } from '../../../rowfs/server/recent-files.js';

async function shadowFixture(t: { teardown(fn: () => void | Promise<void>): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'rowfs-recent-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const s = await openLocalShadow(dir);
  t.teardown(() => s.close());
  let n = 0;
  const create = async (name: string): Promise<FileHandle> => {
    const verf = Buffer.alloc(8);
    verf.writeUInt32BE(++n, 4);
    const r = await s.caller.call('CREATE', { where: { dir: s.root, name }, how: { mode: CreateMode.EXCLUSIVE, verf } });
    if (r.status !== Nfs3Status.OK) throw new Error(`CREATE ${name}: ${r.status}`);
    return r.obj!;
  };
  const setattr = (object: FileHandle, newAttributes: Sattr3, guard?: { seconds: number; nseconds: number }) => s.caller.call('SETATTR', { object, newAttributes, guard });
  return { dir, s, create, setattr };
}

const ATTRS: Sattr3 = { mode: 0o640, size: 10n, atime: { how: TimeHow.SET_TO_CLIENT_TIME, time: { seconds: 1_000_000, nseconds: 5 } }, mtime: { how: TimeHow.SET_TO_SERVER_TIME } };

test('a SETATTR right after an exclusive create sets what the path-based one sets', async (t) => {
  const f = await shadowFixture(t);
  const fast = await f.create('fast');
  const fastRes = await f.setattr(fast, ATTRS);
  // 'slow' is pushed out of the kept descriptors by later creates: its SETATTR takes the path.
  const slow = await f.create('slow');
  for (let i = 0; i < DEFAULT_RECENT_FILES + 1; i++) await f.create(`other${i}`);
  const slowRes = await f.setattr(slow, ATTRS);
  t.is(fastRes.status, Nfs3Status.OK);
  t.is(slowRes.status, Nfs3Status.OK);
  for (const name of ['fast', 'slow']) {
    const st = lstatSync(join(f.dir, name));
    t.is(st.mode & 0o7777, 0o640, name);
    t.is(st.size, 10, name);
    t.is(Math.floor(st.atimeMs / 1000), 1_000_000, name);
    t.true(Math.abs(st.mtimeMs - Date.now()) < 60_000, `${name}: mtime is the server's time`);
  }
  // Both replies carry the attributes after the change.
  for (const r of [fastRes, slowRes]) {
    const after = r.objWcc.after!;
    t.is(after.mode, 0o640);
    t.is(after.size, 10n);
    t.truthy(r.objWcc.before);
  }
  // Setting one time keeps the other (taken from the file, not the client's request).
  const keep = await f.create('keep');
  const before = lstatSync(join(f.dir, 'keep'), { bigint: true });
  t.is((await f.setattr(keep, { mtime: { how: TimeHow.SET_TO_CLIENT_TIME, time: { seconds: 2_000_000, nseconds: 0 } } })).status, Nfs3Status.OK);
  const st = lstatSync(join(f.dir, 'keep'), { bigint: true });
  t.is(st.atimeNs, before.atimeNs, 'atime (the verifier half) unchanged');
  t.is(st.mtimeNs, 2_000_000n * 1_000_000_000n);
});

test('the kept descriptor is never used for a file that is gone: removed, its SETATTR is STALE; renamed, it follows the file', async (t) => {
  const f = await shadowFixture(t);
  const gone = await f.create('gone');
  t.is((await f.s.caller.call('REMOVE', { object: { dir: f.s.root, name: 'gone' } })).status, Nfs3Status.OK);
  t.is((await f.setattr(gone, { mode: 0o600 })).status, Nfs3Status.STALE);
  // Removed behind the server's back: the descriptor's file has no links, so it is not used.
  const behind = await f.create('behind');
  unlinkSync(join(f.dir, 'behind'));
  t.not((await f.setattr(behind, { mode: 0o600 })).status, Nfs3Status.OK);
  const moved = await f.create('moved');
  t.is((await f.s.caller.call('RENAME', { from: { dir: f.s.root, name: 'moved' }, to: { dir: f.s.root, name: 'there' } })).status, Nfs3Status.OK);
  t.is((await f.setattr(moved, { mode: 0o604 })).status, Nfs3Status.OK);
  t.is(lstatSync(join(f.dir, 'there')).mode & 0o7777, 0o604);
});

test('a guarded SETATTR through the kept descriptor checks the ctime', async (t) => {
  const f = await shadowFixture(t);
  const fh = await f.create('g');
  const wrong = await f.setattr(fh, { mode: 0o640 }, { seconds: 1, nseconds: 2 });
  t.is(wrong.status, Nfs3Status.NOT_SYNC);
  t.not(lstatSync(join(f.dir, 'g')).mode & 0o7777, 0o640);
  const st = lstatSync(join(f.dir, 'g'), { bigint: true });
  const ctime = { seconds: Number(st.ctimeNs / 1_000_000_000n), nseconds: Number(st.ctimeNs % 1_000_000_000n) };
  t.is((await f.setattr(fh, { mode: 0o640 }, ctime)).status, Nfs3Status.OK);
  t.is(lstatSync(join(f.dir, 'g')).mode & 0o7777, 0o640);
});

test('at most DEFAULT_RECENT_FILES descriptors stay open: the oldest is closed once the create that let it go is done', async (t) => {
  const f = await shadowFixture(t);
  const openFds = () => readdirSync('/proc/self/fd').length;
  await f.create('first');
  const base = openFds();
  for (let i = 0; i < DEFAULT_RECENT_FILES * 3; i++) await f.create(`more${i}`);
  await new Promise((r) => setImmediate(r));
  t.true(openFds() - base <= DEFAULT_RECENT_FILES, `${openFds() - base} more descriptors open after ${DEFAULT_RECENT_FILES * 3} creates`);
  // Every kept one still works (the oldest of them gets the path-based SETATTR's result too).
  const last = await f.create('last');
  t.is((await f.setattr(last, ATTRS)).status, Nfs3Status.OK);
  t.is(lstatSync(join(f.dir, 'last')).mode & 0o7777, 0o640);
});
