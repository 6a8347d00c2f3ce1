// Scenarios of overlayfs's unionmount-testsuite (exclusive create, opening through symlinks,
// dangling symlinks, whiteouts, rename of populated directories, hard links), re-expressed for the
// proxy: main = nfs-ganesha holding the lower layer, shadow = a local directory served by the
// embedded server (the upper layer). Each scenario works on its own copy of the lower layout:
//   a = ":xxx:yyy:zzz"   ndir/{a, pop/b}   edir/   sym1 -> a   sym2 -> sym1   symx -> nowhere
import anyTest, { type TestFn, type ExecutionContext } from 'ava';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGanesha, type Ganesha } from '../../../simulations/harness/ganesha.js';
import { openExport, type OpenedExport } from '../../../rowfs/mount/open-export.js';
import { RowfsProxy } from '../../../rowfs/proxy/proxy.js';
import { treeChecksum } from './fixture.js';
import { UnionFs } from './union-fs.js';

const test = anyTest as TestFn<unknown>;
const LOWER = ':xxx:yyy:zzz';
let mainDir = '';
let shadowDir = '';
let stateDir = '';
let before = '';
let g: Ganesha | undefined;
let proxy: RowfsProxy | undefined;
let ex: OpenedExport | undefined;
let fs: UnionFs;
const faults: string[] = [];
let scenario = 0;

function lowerLayout(dir: string): void {
  mkdirSync(join(dir, 'ndir', 'pop'), { recursive: true });
  mkdirSync(join(dir, 'edir'));
  writeFileSync(join(dir, 'a'), LOWER);
  writeFileSync(join(dir, 'ndir', 'a'), '');
  writeFileSync(join(dir, 'ndir', 'pop', 'b'), 'in pop');
  symlinkSync('a', join(dir, 'sym1'));
  symlinkSync('sym1', join(dir, 'sym2'));
  symlinkSync('nowhere', join(dir, 'symx'));
}

const SCENARIOS = 40;

test.before(async () => {
  mainDir = mkdtempSync(join(tmpdir(), 'rowfs-union-main-'));
  shadowDir = mkdtempSync(join(tmpdir(), 'rowfs-union-shadow-'));
  stateDir = mkdtempSync(join(tmpdir(), 'rowfs-union-state-'));
  for (let i = 0; i < SCENARIOS; i++) {
    mkdirSync(join(mainDir, `s${i}`));
    lowerLayout(join(mainDir, `s${i}`));
  }
  before = treeChecksum(mainDir);
  g = await startGanesha({ exportDir: mainDir });
  proxy = await RowfsProxy.start({
    main: { host: g.host, exportPath: g.exportPath, nfsPort: g.nfsPort, mountPort: g.mountPort },
    shadow: { dir: shadowDir },
    stateDir,
    listenHost: '127.0.0.1',
    onFault: (what, err) => faults.push(`${what}: ${(err as Error)?.stack ?? String(err)}`),
  });
  ex = await openExport({ host: '127.0.0.1', exportPath: g.exportPath, nfsPort: proxy.nfsPort, mountPort: proxy.mountPort, timeoutMs: 20_000 });
  fs = new UnionFs(ex);
});

test.after.always(async () => {
  await ex?.close().catch(() => undefined);
  await proxy?.stop();
  await g?.stop();
  for (const d of [mainDir, shadowDir, stateDir]) if (d) rmSync(d, { recursive: true, force: true });
});

/** One scenario on a fresh copy of the lower layout; `p(x)` names x inside it. */
function scenarioTest(title: string, body: (t: ExecutionContext, p: (x: string) => string) => Promise<void>) {
  const dir = `s${scenario++}`;
  if (scenario > SCENARIOS) throw new Error('raise SCENARIOS');
  test.serial(title, async (t) => {
    await body(t, (x) => `${dir}/${x}`);
    t.deepEqual(faults, []);
  });
}

// ---- exclusive create (noent-creat-excl, open-creat-excl, sym*-creat-excl) ----

scenarioTest('O_CREAT|O_EXCL of a new file, then again: EEXIST; content kept', async (t, p) => {
  t.is(await fs.outcome(() => fs.write(p('new'), 'q', { create: true, excl: true })), 'OK');
  t.is(await fs.read(p('new')), 'q');
  t.is(await fs.outcome(() => fs.open(p('new'), { create: true, excl: true })), 'EEXIST');
  t.is(await fs.read(p('new')), 'q');
});

scenarioTest('O_CREAT|O_EXCL of a lower file: EEXIST, lower content intact', async (t, p) => {
  t.is(await fs.outcome(() => fs.open(p('a'), { create: true, excl: true })), 'EEXIST');
  t.is(await fs.read(p('a')), LOWER);
});

scenarioTest('O_CREAT|O_EXCL on symlinks (to a file, to a symlink, dangling): EEXIST', async (t, p) => {
  for (const s of ['sym1', 'sym2', 'symx']) t.is(await fs.outcome(() => fs.open(p(s), { create: true, excl: true })), 'EEXIST', s);
  t.is(await fs.read(p('a')), LOWER);
  t.false(await fs.exists(p('nowhere')));
});

scenarioTest('O_CREAT|O_EXCL after unlinking a lower file (whiteout) succeeds with an empty file', async (t, p) => {
  await fs.unlink(p('a'));
  t.is(await fs.outcome(() => fs.open(p('a'), { create: true, excl: true })), 'OK');
  t.is(await fs.read(p('a')), '');
  t.is(await fs.outcome(() => fs.open(p('a'), { create: true, excl: true })), 'EEXIST');
});

// ---- opening through symlinks, truncation (sym1-*, sym2-*, open-trunc) ----

scenarioTest('write through sym2 -> sym1 -> a changes a; truncate through sym1', async (t, p) => {
  await fs.write(p('sym2'), 'NEW', {});
  t.is(await fs.read(p('a')), 'NEWx:yyy:zzz');
  t.is(await fs.read(p('sym1')), 'NEWx:yyy:zzz');
  await fs.write(p('sym1'), 'T', { trunc: true });
  t.is(await fs.read(p('a')), 'T');
  await fs.write(p('a'), '+app', { append: true });
  t.is(await fs.read(p('sym2')), 'T+app');
});

// ---- dangling symlinks (symx-*) ----

scenarioTest('dangling symlink: open ENOENT, O_CREAT through it creates the target, readlink unchanged', async (t, p) => {
  t.is(await fs.readlink(p('symx')), 'nowhere');
  t.is(await fs.outcome(() => fs.read(p('symx'))), 'ENOENT');
  await fs.write(p('symx'), 'made via symx', { create: true });
  t.is(await fs.read(p('nowhere')), 'made via symx');
  t.is(await fs.read(p('symx')), 'made via symx');
  t.is(await fs.readlink(p('symx')), 'nowhere');
});

scenarioTest('dangling symlink: unlink it, re-create it pointing elsewhere; symlink over a name: EEXIST', async (t, p) => {
  t.is(await fs.outcome(() => fs.symlink('a', p('symx'))), 'EEXIST');
  await fs.unlink(p('symx'));
  t.false((await fs.readdir(p(''))).includes('symx'));
  t.is(await fs.outcome(() => fs.readlink(p('symx'))), 'ENOENT');
  await fs.symlink('a', p('symx'));
  t.is(await fs.read(p('symx')), LOWER);
});

// ---- whiteouts (unlink, rmdir, rmtree) ----

scenarioTest('unlink lower file: gone from lookup and readdir; unlink again ENOENT; re-create is new', async (t, p) => {
  await fs.unlink(p('a'));
  t.is(await fs.outcome(() => fs.read(p('a'))), 'ENOENT');
  t.is(await fs.outcome(() => fs.unlink(p('a'))), 'ENOENT');
  t.deepEqual(await fs.readdir(p('')), ['edir', 'ndir', 'sym1', 'sym2', 'symx']);
  t.is(await fs.outcome(() => fs.read(p('sym1'))), 'ENOENT', 'symlink to a whited-out file dangles');
  await fs.write(p('a'), 'reborn', { create: true });
  t.is(await fs.read(p('sym2')), 'reborn');
});

scenarioTest('rmdir: populated lower dir ENOTEMPTY, after emptying it works; mkdir again is opaque', async (t, p) => {
  t.is(await fs.outcome(() => fs.rmdir(p('ndir'))), 'ENOTEMPTY');
  t.is(await fs.outcome(() => fs.unlink(p('ndir'))), 'EISDIR');
  await fs.unlink(p('ndir/a'));
  t.is(await fs.outcome(() => fs.rmdir(p('ndir'))), 'ENOTEMPTY');
  await fs.unlink(p('ndir/pop/b'));
  await fs.rmdir(p('ndir/pop'));
  t.deepEqual(await fs.readdir(p('ndir')), []);
  await fs.rmdir(p('ndir'));
  t.is(await fs.outcome(() => fs.readdir(p('ndir'))), 'ENOENT');
  await fs.mkdir(p('ndir'));
  t.deepEqual(await fs.readdir(p('ndir')), [], 'lower entries do not show through a re-created directory');
  t.is(await fs.outcome(() => fs.read(p('ndir/a'))), 'ENOENT');
  await fs.rmdir(p('edir'));
  t.is(await fs.outcome(() => fs.mkdir(p('edir/x'))), 'ENOENT');
});

// ---- rename of populated directories (rename-pop-dir) ----

scenarioTest('rename populated dir and back', async (t, p) => {
  await fs.rename(p('ndir'), p('d2'));
  t.is(await fs.outcome(() => fs.rename(p('ndir'), p('d2'))), 'ENOENT');
  t.deepEqual(await fs.readdir(p('d2')), ['a', 'pop']);
  t.is(await fs.read(p('d2/pop/b')), 'in pop');
  await fs.rename(p('d2'), p('ndir'));
  t.is(await fs.outcome(() => fs.rename(p('d2'), p('ndir'))), 'ENOENT');
  t.deepEqual(await fs.readdir(p('ndir')), ['a', 'pop']);
  t.is(await fs.outcome(() => fs.readdir(p('d2'))), 'ENOENT');
});

scenarioTest('rename populated dir, rmdir/unlink old name ENOENT, rename back, rmdir ENOTEMPTY', async (t, p) => {
  await fs.rename(p('ndir'), p('d2'));
  t.is(await fs.outcome(() => fs.rmdir(p('ndir'))), 'ENOENT');
  t.is(await fs.outcome(() => fs.unlink(p('ndir'))), 'ENOENT');
  await fs.rename(p('d2'), p('ndir'));
  t.is(await fs.outcome(() => fs.rmdir(p('ndir'))), 'ENOTEMPTY');
  t.is(await fs.outcome(() => fs.unlink(p('ndir'))), 'EISDIR');
  t.deepEqual(await fs.readdir(p('ndir')), ['a', 'pop']);
});

scenarioTest('rename populated dir twice; into a new subdirectory; contents follow', async (t, p) => {
  await fs.rename(p('ndir'), p('d2'));
  await fs.rename(p('d2'), p('d3'));
  t.is(await fs.outcome(() => fs.readdir(p('ndir'))), 'ENOENT');
  t.is(await fs.outcome(() => fs.readdir(p('d2'))), 'ENOENT');
  t.is(await fs.read(p('d3/pop/b')), 'in pop');
  await fs.mkdir(p('newparent'));
  await fs.rename(p('d3'), p('newparent/inner'));
  t.deepEqual(await fs.readdir(p('newparent/inner/pop')), ['b']);
  // files written after the move land in the moved directory
  await fs.write(p('newparent/inner/pop/c'), 'cc', { create: true });
  t.deepEqual(await fs.readdir(p('newparent/inner/pop')), ['b', 'c']);
});

scenarioTest('rename dir over an empty dir works; over a populated dir ENOTEMPTY; over itself is a no-op', async (t, p) => {
  await fs.rename(p('ndir'), p('edir'));
  t.is(await fs.outcome(() => fs.readdir(p('ndir'))), 'ENOENT');
  t.deepEqual(await fs.readdir(p('edir')), ['a', 'pop']);
  await fs.mkdir(p('other'));
  await fs.write(p('other/x'), 'x', { create: true });
  t.is(await fs.outcome(() => fs.rename(p('edir'), p('other'))), 'ENOTEMPTY');
  await fs.rename(p('edir'), p('edir'));
  t.deepEqual(await fs.readdir(p('edir')), ['a', 'pop']);
});

scenarioTest('rename dir over a file: ENOTDIR; into its own child: EINVAL; over its parent: ENOTEMPTY', async (t, p) => {
  t.is(await fs.outcome(() => fs.rename(p('ndir'), p('a'))), 'ENOTDIR');
  t.is(await fs.outcome(() => fs.rename(p('ndir'), p('ndir/a'))), 'EINVAL');
  t.is(await fs.outcome(() => fs.rename(p('ndir/pop'), p('ndir/a'))), 'ENOTDIR');
  t.is(await fs.outcome(() => fs.rename(p('ndir/pop'), p(''))), 'ENOTEMPTY');
  t.is(await fs.outcome(() => fs.rename(p('a'), p('ndir'))), 'EISDIR');
  t.deepEqual(await fs.readdir(p('ndir')), ['a', 'pop']);
});

// ---- hard links (hard-link) ----

scenarioTest('hard link a lower file; both names read the lower content; writes are shared', async (t, p) => {
  await fs.link(p('a'), p('a2'));
  t.is(await fs.read(p('a')), LOWER);
  t.is(await fs.read(p('a2')), LOWER);
  await fs.write(p('a2'), 'XYZ');
  t.is(await fs.read(p('a')), 'XYZx:yyy:zzz');
  await fs.unlink(p('a'));
  t.is(await fs.read(p('a2')), 'XYZx:yyy:zzz');
});

scenarioTest('hard link errors: missing source ENOENT, existing target EEXIST (lower and new), itself EEXIST', async (t, p) => {
  t.is(await fs.outcome(() => fs.link(p('none'), p('none2'))), 'ENOENT');
  t.is(await fs.outcome(() => fs.link(p('none'), p('a'))), 'ENOENT');
  t.is(await fs.outcome(() => fs.link(p('a'), p('ndir/a'))), 'EEXIST');
  await fs.write(p('a-new'), 'aaaa', { create: true });
  t.is(await fs.outcome(() => fs.link(p('a'), p('a-new'))), 'EEXIST');
  t.is(await fs.outcome(() => fs.link(p('a-new'), p('a'))), 'EEXIST');
  t.is(await fs.outcome(() => fs.link(p('a'), p('a'))), 'EEXIST');
  t.is(await fs.read(p('a')), LOWER);
  t.is(await fs.read(p('a-new')), 'aaaa');
  t.is(await fs.read(p('ndir/a')), '');
});

scenarioTest('hard link an unlinked file: ENOENT; link a renamed file back to the old name', async (t, p) => {
  await fs.unlink(p('a'));
  t.is(await fs.outcome(() => fs.link(p('a'), p('b'))), 'ENOENT');
  await fs.rename(p('ndir/pop/b'), p('moved'));
  t.is(await fs.outcome(() => fs.link(p('ndir/pop/b'), p('m3'))), 'ENOENT');
  await fs.link(p('moved'), p('ndir/pop/b'));
  t.is(await fs.read(p('ndir/pop/b')), 'in pop');
  t.is(await fs.read(p('moved')), 'in pop');
  t.is(await fs.outcome(() => fs.read(p('m3'))), 'ENOENT');
});

scenarioTest('hard link to a directory is refused; rename a hard link over its twin is a no-op', async (t, p) => {
  t.not(await fs.outcome(() => fs.link(p('ndir'), p('dl'))), 'OK');
  await fs.link(p('a'), p('twin'));
  await fs.rename(p('a'), p('twin'));
  t.is(await fs.read(p('a')), LOWER);
  t.is(await fs.read(p('twin')), LOWER);
});

test.serial('the lower layer (main export) is unchanged after all scenarios', (t) => {
  t.is(treeChecksum(mainDir), before);
  t.deepEqual(faults, []);
});
