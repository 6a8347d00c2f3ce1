// The pieces the end-to-end boot test relies on for its verdicts: the tree digest (the "main is
// unchanged" check must notice any change), console parsing, the module chain and the initramfs
// archive (listed back with cpio).
import test from 'ava';
import { chmodSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildInitramfs, installedKernel, moduleChain } from '../../simulations/harness/initramfs.js';
import { run } from '../../simulations/harness/proc.js';
import { NFSROOT_SPLIT, parseSums, treeDigest, writeImage } from './appliance.js';

function withImage(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'e2e-image-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeImage(dir);
  return dir;
}

test('the tree digest changes with content, mode, name and link target, and only then', (t) => {
  const dir = withImage(t);
  const d0 = treeDigest(dir);
  t.is(treeDigest(dir), d0);
  const changes: Array<[string, () => void, () => void]> = [
    ['one byte', () => writeFileSync(join(dir, 'etc/motd'), 'original motd of the appliance imagE\n'), () => writeFileSync(join(dir, 'etc/motd'), 'original motd of the appliance image\n')],
    ['mode', () => chmodSync(join(dir, 'etc/hostname'), 0o600), () => chmodSync(join(dir, 'etc/hostname'), 0o644)],
    ['rename', () => renameSync(join(dir, 'data/b.txt'), join(dir, 'data/c.txt')), () => renameSync(join(dir, 'data/c.txt'), join(dir, 'data/b.txt'))],
    ['link target', () => { unlinkSync(join(dir, 'bin/cat')); symlinkSync('busyboX', join(dir, 'bin/cat')); }, () => { unlinkSync(join(dir, 'bin/cat')); symlinkSync('busybox', join(dir, 'bin/cat')); }],
  ];
  for (const [what, change, undo] of changes) {
    change();
    t.not(treeDigest(dir), d0, what);
    undo();
    t.is(treeDigest(dir), d0, `${what} undone`);
  }
});

test("the initramfs's root path split: options from an `overlay boot --image` root path, the command line's port for a bare one", async (t) => {
  const split = async (rootPath: string, port: string) =>
    (await run('busybox', ['sh', '-c', `${NFSROOT_SPLIT}\nnfsroot_split "$1" "$2"; printf '%s|%s' "$src" "$opts"`, 'sh', rootPath, port])).stdout;
  t.is(await split('10.98.0.1:/images/app/1.2,vers=3,tcp,port=2060,mountport=2060', '2049'), '10.98.0.1:/images/app/1.2|nolock,mountproto=tcp,vers=3,tcp,port=2060,mountport=2060');
  t.is(await split('10.79.1.1:/export/e2e', '2049'), '10.79.1.1:/export/e2e|nolock,vers=3,tcp,port=2049,mountport=2049,mountproto=tcp');
  // Words and quotes in a hostile root path stay inside the two variables.
  t.is(await split('h:/p;reboot,port=1 $(x)', '1'), 'h:/p;reboot|nolock,mountproto=tcp,port=1 $(x)');
});

test('console checksums are grouped by phase; other lines and noise are ignored', (t) => {
  const a = 'a'.repeat(64);
  const b = 'b'.repeat(64);
  const serial = ['[    3.1] random kernel line', `E2E sum ${a}  data/x`, 'E2E phase read', `E2E sum ${b}  data/x`, `E2E sum ${a}  etc/y`, 'E2E phase changed', `E2E sum ${a}  data/x`, 'E2E sum short  data/z'].join('\n');
  const sums = parseSums(serial);
  t.is(sums.get('none')?.get('data/x'), a);
  t.deepEqual([...sums.get('read')!.entries()], [['data/x', b], ['etc/y', a]]);
  t.deepEqual([...sums.get('changed')!.entries()], [['data/x', a]]);
});

test('the module chain lists each .ko once, dependencies first; the initramfs holds init, busybox and them', async (t) => {
  const kernel = installedKernel();
  const chain = await moduleChain(kernel.version, ['virtio_pci', 'virtio_net', 'nfsv3']);
  const names = chain.map((p) => p.split('/').pop()!);
  t.is(new Set(names).size, names.length);
  for (const [dep, user] of [['virtio_ring.ko', 'virtio_net.ko'], ['sunrpc.ko', 'nfs.ko'], ['nfs.ko', 'nfsv3.ko'], ['virtio.ko', 'virtio_pci.ko']]) {
    t.true(names.indexOf(dep) >= 0 && names.indexOf(dep) < names.indexOf(user), `${dep} before ${user}`);
  }
  await t.throwsAsync(moduleChain(kernel.version, ['no_such_module_e2e']));

  const dir = mkdtempSync(join(tmpdir(), 'e2e-initrd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'initrd.img');
  const loaded = await buildInitramfs({ out, init: 'echo hello', modules: chain, files: { '/bin/hook.sh': '#!/bin/sh\n' } });
  t.deepEqual(loaded, names);
  const { stdout } = await run('sh', ['-c', `zcat '${out}' | cpio -t --quiet`]);
  const listed = new Set(stdout.split('\n'));
  for (const p of ['init', 'bin/busybox', 'bin/sh', 'bin/hook.sh', 'dev/console', 'newroot', ...names.map((n) => `lib/modules/${n}`)]) {
    t.true(listed.has(p), `initramfs has ${p}`);
  }
  const { stdout: init } = await run('sh', ['-c', `zcat '${out}' | cpio -i --to-stdout --quiet init`]);
  t.regex(init, /^#!\/bin\/busybox sh\n\/bin\/busybox --install -s \/bin\n[\s\S]*echo hello/);
});
