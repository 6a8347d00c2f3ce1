// The Linux kernel NFS client removing 4,096-entry directories entry by entry through the ROW-FS
// proxy (issue 15 part 1): busybox `rm -rf` reads a directory and unlinks each entry as it goes,
// so every READDIR after the first resumes with a cookie handed out before removes. With
// positional cookies entries were skipped (1,637 of 4,096 left, rmdir "Directory not empty").
// One directory exists only on main (removes leave whiteouts), one only in the shadow. A qemu VM
// (TCG) boots a Debian kernel with a busybox initramfs and mounts the proxy over NFSv3/TCP through
// qemu's user-mode network (host loopback); the proxy and a read-only embedded main run here.
import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectOk } from '../../rowfs/nfs3/errors.js';
import { buildInitramfs, installedKernel, moduleChain } from '../../simulations/harness/initramfs.js';
import { startProc } from '../../simulations/harness/proc.js';
import { kernelVmArgs, serialText } from '../../simulations/harness/vm.js';
import { proxyOverEmbeddedMain } from '../rowfs/proxy/fixture.js';
import { listAllNames } from '../rowfs/stack/paged-listing.js';

const ENTRIES = 4096;
const DIRS = ['mainonly', 'shadowonly'];
const VM_TIMEOUT_MS = 480_000;

const entryName = (i: number) => `entry-${String(i).padStart(4, '0')}`;

function init(modules: string[], nfsPort: number, exportPath: string): string {
  return `
fail() { echo "RMTEST FAIL $*"; poweroff -f; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in ${modules.join(' ')}; do insmod /lib/modules/$m || fail "insmod $m"; done
ip link set lo up
ip link set eth0 up || fail "no eth0"
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
mkdir -p /mnt
mount -t nfs -o nolock,vers=3,tcp,port=${nfsPort},mountport=${nfsPort},mountproto=tcp 10.0.2.2:${exportPath} /mnt || fail "nfs mount"
echo "RMTEST mounted"
for d in ${DIRS.join(' ')}; do
  rm -rf /mnt/$d
  echo "RMTEST rm $d rc=$?"
  if [ -e /mnt/$d ]; then echo "RMTEST left $d $(ls -A /mnt/$d | wc -l)"; else echo "RMTEST gone $d"; fi
done
umount /mnt
echo "RMTEST done"
poweroff -f
`;
}

test('the kernel client removes 4,096-entry main-only and shadow-only directories entry by entry through the proxy', async (t) => {
  t.timeout(VM_TIMEOUT_MS + 60_000);
  const mainFiles: Record<string, Buffer> = {};
  for (let i = 0; i < ENTRIES; i++) mainFiles[`mainonly/${entryName(i)}`] = Buffer.alloc(0);
  const { main, proxy, shadowDir, faults, open } = await proxyOverEmbeddedMain(t, mainFiles);
  // A directory only the shadow has (made behind the proxy, before any client looks at the root).
  mkdirSync(join(shadowDir, 'shadowonly'));
  for (let i = 0; i < ENTRIES; i++) writeFileSync(join(shadowDir, 'shadowonly', entryName(i)), '');
  const work = mkdtempSync(join(tmpdir(), 'rm-listing-vm-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));

  // Both directories are whole through the proxy before the VM starts.
  const ex = await open();
  t.teardown(() => ex.close());
  for (const name of DIRS) {
    const dir = expectOk(await ex.nfs.lookup({ what: { dir: ex.root, name } }), `LOOKUP ${name}`).object;
    t.is((await listAllNames(ex.nfs, dir, true)).length, ENTRIES, name);
  }

  const kernel = installedKernel();
  const modules = await moduleChain(kernel.version, ['virtio_pci', 'virtio_net', 'nfsv3']);
  const initrd = join(work, 'initrd.img');
  const names = await buildInitramfs({ out: initrd, init: init(modules.map((m) => m.split('/').pop()!), proxy.nfsPort, main.exportPath), modules });
  const started = Date.now();
  const vm = startProc('qemu-system-x86_64', kernelVmArgs({ kernel: kernel.image, initrd, append: 'quiet', memoryMb: 512 }));
  t.teardown(() => vm.kill(2000));
  try {
    await vm.waitFor(/RMTEST (done|FAIL.*)/, VM_TIMEOUT_MS);
  } finally {
    t.log(`kernel ${kernel.version}, ${names.length} modules, VM ran ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  const serial = serialText(vm.output());
  const lines = serial.split('\n').filter((l) => l.startsWith('RMTEST'));
  t.log(lines.join('\n'));
  for (const name of DIRS) {
    t.true(lines.includes(`RMTEST rm ${name} rc=0`), `rm -rf ${name} succeeded (rmdir included)`);
    t.true(lines.includes(`RMTEST gone ${name}`), `${name} is gone`);
  }
  // And from outside: neither name is left in the merged root.
  const left = await listAllNames(ex.nfs, ex.root, true);
  for (const name of DIRS) t.false(left.includes(name));
  t.deepEqual(faults, []);
});
