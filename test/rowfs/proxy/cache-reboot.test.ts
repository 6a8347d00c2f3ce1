// The block cache after a crash. Its data files and index are not synced while it runs, so a
// process crash (same boot) keeps every entry, while a machine that went down with the cache open
// (a different boot id in <dir>/open-boot) leaves bits that may point at data never written: the
// cache starts empty then. A clean close leaves no mark, and one process holds a cache at a time.
import test, { type ExecutionContext } from 'ava';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockCache, BlockCacheError, currentBootId } from '../../../rowfs/cache/block-cache.js';
import { systemClock } from '../../../lib/clock.js';
import { FS_PACK_IO } from '../../../rowfs/cache/small-file-pack.js';
import { pattern } from './fixture.js';

const BS = 64 * 1024;

function tmp(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'rowfs-reboot-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A cache holding one two-block file and one packed small file, closed cleanly, under boot `boot`. */
async function filled(t: ExecutionContext, dir: string, boot: string): Promise<void> {
  const c = BlockCache.open(dir, BS, systemClock, FS_PACK_IO, boot);
  t.is(readFileSync(join(dir, 'open-boot'), 'utf8'), boot, 'marked open with its boot id');
  await c.writeRun('big', 0, pattern(2 * BS, 1));
  await c.writeRun('small', 0, pattern(100, 2));
  await c.close();
}

test('a clean close leaves no mark; a reopen in the same boot (a process crash) keeps every entry', async (t) => {
  const dir = tmp(t);
  await filled(t, dir, 'boot-a');
  t.false(existsSync(join(dir, 'open-boot')), 'closed cleanly: no mark');
  writeFileSync(join(dir, 'open-boot'), 'boot-a'); // as a process crash leaves it
  const c = BlockCache.open(dir, BS, systemClock, FS_PACK_IO, 'boot-a');
  t.true(c.has('big', 1));
  t.deepEqual(await c.readRange('small', 0, 100), pattern(100, 2));
  await c.close();
});

test('left open by an earlier boot (a machine crash): the cache starts empty, data files and pack gone', async (t) => {
  const dir = tmp(t);
  await filled(t, dir, 'boot-a');
  t.is(readdirSync(join(dir, 'blocks')).length, 1);
  writeFileSync(join(dir, 'open-boot'), 'boot-a'); // the machine went down with the cache open
  const c = BlockCache.open(dir, BS, systemClock, FS_PACK_IO, 'boot-b');
  t.false(c.has('big', 0));
  t.false(c.has('big', 1));
  t.false(c.has('small', 0));
  t.is(readdirSync(join(dir, 'blocks')).length, 0);
  t.is(readFileSync(join(dir, 'open-boot'), 'utf8'), 'boot-b');
  // It works as a fresh cache.
  await c.writeRun('big', 0, pattern(BS, 3));
  t.deepEqual(await c.readRange('big', 0, BS), pattern(BS, 3));
  await c.close();
});

test('currentBootId: this boot of the machine, stable within it', (t) => {
  const id = currentBootId();
  t.regex(id, /^[0-9a-f-]{36}$/);
  t.is(currentBootId(), id);
});

test('one holder at a time: a second open is refused with IN_USE until the first closes', async (t) => {
  const dir = tmp(t);
  const first = BlockCache.open(dir, BS, systemClock, FS_PACK_IO, 'boot-a');
  const err = t.throws(() => BlockCache.open(dir, BS, systemClock, FS_PACK_IO, 'boot-a'), { instanceOf: BlockCacheError });
  t.is(err?.code, 'IN_USE');
  t.regex(err!.message, new RegExp(`block cache ${dir} is in use by process ${process.pid}`));
  t.is(readFileSync(join(dir, 'open-boot'), 'utf8'), 'boot-a', 'the refused open left the mark alone');
  await first.writeRun('big', 0, pattern(BS, 4));
  await first.close();
  t.false(existsSync(join(dir, 'cache.lock')), 'a clean close releases the lock');
  const second = BlockCache.open(dir, BS, systemClock, FS_PACK_IO, 'boot-a');
  t.deepEqual(await second.readRange('big', 0, BS), pattern(BS, 4));
  await second.close();
});

test('no boot id to compare: a mark left behind counts as a machine crash', async (t) => {
  const dir = tmp(t);
  await filled(t, dir, '');
  writeFileSync(join(dir, 'open-boot'), '');
  const c = BlockCache.open(dir, BS, systemClock, FS_PACK_IO, '');
  t.false(c.has('big', 0));
  await c.close();
});
