// The appliance of the end-to-end boot test: a small root tree (the "image" on the main server),
// the initramfs /init that mounts it over NFSv3 from the ROW-FS proxy and switch_roots into it,
// the image's own /sbin/init that reads, changes and checks files, and what the test expects the
// VM to print. Scripts print `E2E ...` lines on the serial console for the test to parse.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUSYBOX, buildInitramfs, installedKernel, moduleChain, type Kernel } from '../../simulations/harness/initramfs.js';

/** busybox applets the image's scripts use, as symlinks in the image's /bin. */
const APPLETS = ['sh', 'cat', 'chmod', 'cp', 'cut', 'dd', 'echo', 'grep', 'ln', 'ls', 'mkdir', 'mv', 'poweroff', 'printf', 'readlink', 'rm', 'sed', 'sha256sum', 'sleep', 'stat', 'sync', 'uname'];

export const A_BIN_BYTES = 300_000;
/** Names in data/ after the VM's changes. */
export const DATA_AFTER = ['a.bin', 'append.txt', 'b-link', 'b.txt', 'copy', 'newdir', 'renamed', 'symlink'];
/** The VM overwrites PATCH at PATCH_OFFSET of data/a.bin: inside block 1 of a 64 KiB block size. */
export const PATCH = 'PATCHED!!!';
export const PATCH_OFFSET = 100_000;
export const APPENDED = 'appended in the vm\n';
export const NEW_MOTD = 'new motd from the vm\n';
export const NEW_FILE = 'made in the vm\n';
/** Written by the second boot after the test killed and restarted the proxy under the mounted root. */
export const AFTER_RESTART = 'written after the proxy restart\n';
/** Seconds the second boot idles (root mounted, handles held) while the test kills and restarts the proxy. */
export const PAUSE_S = 6;

/** Files whose checksums the VM prints before changing anything (relative to the root). */
export const READ_FILES = ['bin/busybox', 'data/a.bin', 'data/b.txt', 'etc/motd', 'data/append.txt'];

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Writes the image tree into `dir` (empty, existing). */
export function writeImage(dir: string): void {
  for (const d of ['bin', 'sbin', 'etc', 'data', 'proc', 'sys', 'dev', 'tmp']) mkdirSync(join(dir, d));
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  for (const a of APPLETS) symlinkSync('busybox', join(dir, 'bin', a));
  writeFileSync(join(dir, 'sbin/init'), IMAGE_INIT, { mode: 0o755 });
  writeFileSync(join(dir, 'etc/motd'), 'original motd of the appliance image\n');
  writeFileSync(join(dir, 'etc/hostname'), 'appliance\n');
  writeFileSync(join(dir, 'data/a.bin'), randomBytes(A_BIN_BYTES));
  writeFileSync(join(dir, 'data/b.txt'), 'line of text\n'.repeat(5000));
  writeFileSync(join(dir, 'data/append.txt'), 'first line from the image\n');
  writeFileSync(join(dir, 'data/remove-me'), 'to be removed\n');
  writeFileSync(join(dir, 'data/rename-me'), 'to be renamed\n');
}

/** Makes `dir` and writes the image into it; returns what the tests check against: the checksums of READ_FILES, the changed files after the VM's first boot, and the tree's digest. */
export function prepareImage(dir: string): { originalSums: Map<string, string>; expected: Map<string, Buffer>; digestBefore: string } {
  mkdirSync(dir);
  writeImage(dir);
  return { originalSums: imageSums(dir, READ_FILES), expected: expectedAfterChanges(dir), digestBefore: treeDigest(dir) };
}

/**
 * Boot files in `bootDir` for iPXE: boot.ipxe (the kernel gets `console=ttyS0 quiet panic=-1` and
 * `kernelArgs`), the installed Debian kernel as vmlinuz, and initrd.img with busybox, the lease hook,
 * the /init of initramfsInit and the virtio and NFSv3 modules. Returns the kernel and module names.
 */
export async function writeBootFiles(bootDir: string, kernelArgs = ''): Promise<{ kernel: Kernel; modules: string[] }> {
  const kernel = installedKernel();
  const chain = await moduleChain(kernel.version, ['virtio_pci', 'virtio_net', 'nfsv3']);
  copyFileSync(kernel.image, join(bootDir, 'vmlinuz'));
  const modules = await buildInitramfs({
    out: join(bootDir, 'initrd.img'),
    init: initramfsInit(chain.map((m) => m.split('/').pop()!)),
    modules: chain,
    files: { '/bin/lease.sh': LEASE_SCRIPT },
  });
  writeFileSync(join(bootDir, 'boot.ipxe'), [
    '#!ipxe',
    'echo e2e: boot script from ${next-server} as ${ip}',
    `kernel vmlinuz console=ttyS0 quiet panic=-1 ${kernelArgs}`.trimEnd(),
    'initrd initrd.img',
    'boot',
    '',
  ].join('\n'));
  return { kernel, modules };
}

/** Checksums of the image's files as they are now. */
export function imageSums(dir: string, files: string[]): Map<string, string> {
  return new Map(files.map((f) => [f, sha256(readFileSync(join(dir, f)))]));
}

/** What the changed files hold after the VM's first boot, given the image's original bytes. */
export function expectedAfterChanges(dir: string): Map<string, Buffer> {
  const a = Buffer.from(readFileSync(join(dir, 'data/a.bin')));
  a.write(PATCH, PATCH_OFFSET, 'latin1');
  return new Map<string, Buffer>([
    ['data/a.bin', a],
    ['data/append.txt', Buffer.concat([readFileSync(join(dir, 'data/append.txt')), Buffer.from(APPENDED)])],
    ['etc/motd', Buffer.from(NEW_MOTD)],
    ['data/renamed', readFileSync(join(dir, 'data/rename-me'))],
    ['data/newdir/new.txt', Buffer.from(NEW_FILE)],
    ['data/copy', readFileSync(join(dir, 'bin/busybox'))],
  ]);
}

/** One digest of a whole tree: names, types, modes, sizes, link targets and file contents. */
export function treeDigest(dir: string): string {
  const h = createHash('sha256');
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const p = join(rel, name);
      const st = lstatSync(join(dir, p));
      h.update(`${p}\0${st.mode}\0${st.size}\0`);
      if (st.isSymbolicLink()) h.update(readlinkSync(join(dir, p)));
      else if (st.isFile()) h.update(readFileSync(join(dir, p)));
      else if (st.isDirectory()) walk(p);
    }
  };
  walk('');
  return h.digest('hex');
}

/** `E2E sum HEX  PATH` lines of one console, keyed by the phase given by the preceding `E2E phase` line. */
export function parseSums(serial: string): Map<string, Map<string, string>> {
  const phases = new Map<string, Map<string, string>>();
  let phase = 'none';
  for (const line of serial.split('\n')) {
    const p = /^E2E phase (\S+)/.exec(line);
    if (p) phase = p[1]!;
    const s = /^E2E sum ([0-9a-f]{64})\s+(\S+)/.exec(line);
    if (s) {
      if (!phases.has(phase)) phases.set(phase, new Map());
      phases.get(phase)!.set(s[2]!, s[1]!);
    }
  }
  return phases;
}

/**
 * Shell function for /init: splits a DHCP root path (option 17) into the NFS source `$src` and the
 * mount options `$opts`. `SERVER:PATH,OPTION,...` (what `overlay boot --image` sends, e.g.
 * `10.0.0.1:/images/app/1,vers=3,tcp,port=2060,mountport=2060`) brings its own options; a bare
 * `SERVER:PATH` gets NFSv3 over TCP on port $2 (from the kernel command line).
 */
export const NFSROOT_SPLIT = `nfsroot_split() {
  src=\${1%%,*}
  if [ "$src" != "$1" ]; then opts="nolock,mountproto=tcp,\${1#*,}"; else opts="nolock,vers=3,tcp,port=$2,mountport=$2,mountproto=tcp"; fi
}`;

/**
 * Initramfs /init: load the modules, DHCP (our server; the root path comes in option 17), mount
 * the root over NFSv3/TCP with the kernel client from the proxy, switch_root into its /sbin/init.
 * The NFS and MOUNT port come with the root path, or else from the kernel command line
 * (`e2e.port=`, set by the iPXE script).
 */
export function initramfsInit(modules: string[]): string {
  return `
up() { cut -d' ' -f1 /proc/uptime; }
${NFSROOT_SPLIT}
fail() { echo "E2E FAIL $*"; poweroff -f; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "E2E initramfs kernel=$(uname -r) t=$(up)"
for m in ${modules.join(' ')}; do insmod /lib/modules/$m || fail "insmod $m"; done
port=
for w in $(cat /proc/cmdline); do case $w in e2e.port=*) port=\${w#e2e.port=};; esac; done
ip link set lo up
ip link set eth0 up || fail "no eth0"
udhcpc -i eth0 -s /bin/lease.sh -O rootpath -q -f -n -t 10 -T 2 >/dev/null 2>&1 || fail "no DHCP lease"
. /tmp/lease
echo "E2E lease ip=$ip rootpath=$rootpath t=$(up)"
nfsroot_split "$rootpath" "$port"
mount -t nfs -o "$opts" "$src" /newroot || fail "nfs mount of $src with $opts"
echo "E2E mounted t=$(up)"
mount -o move /proc /newroot/proc
mount -o move /sys /newroot/sys
mount -o move /dev /newroot/dev
exec switch_root /newroot /sbin/init
fail "switch_root"
`;
}

/** udhcpc hook: configure the address, remember the lease for /init. */
export const LEASE_SCRIPT = `#!/bin/sh
case "$1" in
bound|renew)
  ifconfig "$interface" "$ip" netmask "$subnet" up
  { echo "ip=$ip"; echo "rootpath=$rootpath"; } > /tmp/lease
  ;;
esac
exit 0
`;

/**
 * The image's /sbin/init, run as PID 1 from the NFS root. First boot: checksums, then append,
 * overwrite, partial in-place write, remove, rename, mkdir + create, sync, checksums again.
 * Later boots (data/renamed exists): checksums of the changed files only.
 */
const IMAGE_INIT = `#!/bin/sh
export PATH=/bin
up() { cut -d' ' -f1 /proc/uptime; }
cd /
report() {
  echo "E2E readlink $(readlink data/symlink)"
  echo "E2E links $(stat -c %h data/b.txt) $(stat -c %h data/b-link) same-inode $([ data/b.txt -ef data/b-link ] && echo yes)"
  echo "E2E mode $(stat -c %a etc/hostname)"
}
echo "E2E root-init pid=$$ t=$(up)"
grep ' / ' /proc/mounts | sed 's/^/E2E rootfs /'
if [ -e data/renamed ]; then
  echo "E2E phase reboot"
  sha256sum bin/busybox data/a.bin data/b.txt etc/motd data/append.txt data/renamed data/newdir/new.txt data/copy | sed 's/^/E2E sum /'
  ls data | sed 's/^/E2E ls data /'
  report
  echo "E2E pause"
  sleep ${PAUSE_S}
  # Forget cached data and dentries: what follows goes to the restarted proxy with the old handles.
  sync
  echo 3 > /proc/sys/vm/drop_caches
  echo "E2E phase after-restart"
  sha256sum bin/busybox data/a.bin data/append.txt data/copy data/newdir/new.txt | sed 's/^/E2E sum /'
  echo '${AFTER_RESTART.trimEnd()}' > data/after-restart.txt
  sync
  sha256sum data/after-restart.txt | sed 's/^/E2E sum /'
else
  echo "E2E phase read"
  sha256sum ${READ_FILES.join(' ')} | sed 's/^/E2E sum /'
  echo '${APPENDED.trimEnd()}' >> data/append.txt
  echo '${NEW_MOTD.trimEnd()}' > etc/motd
  printf '${PATCH}' | dd of=data/a.bin bs=1 seek=${PATCH_OFFSET} conv=notrunc 2>/dev/null
  rm data/remove-me
  mv data/rename-me data/renamed
  mkdir data/newdir
  echo '${NEW_FILE.trimEnd()}' > data/newdir/new.txt
  cp bin/busybox data/copy
  ln -s renamed data/symlink
  ln data/b.txt data/b-link
  chmod 600 etc/hostname
  sync
  echo "E2E phase changed"
  sha256sum data/a.bin etc/motd data/append.txt data/renamed data/newdir/new.txt data/copy | sed 's/^/E2E sum /'
  ls data | sed 's/^/E2E ls data /'
  report
fi
sync
echo "E2E-DONE t=$(up)"
poweroff -f
`;
