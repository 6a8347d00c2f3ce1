// `overlay boot --image APP --image-portmap` for the initramfs NFS client of a stock Debian
// appliance: klibc's nfsmount (initramfs-tools' NFS root) knows no mountport= and would send a DHCP
// root path with options to the server whole, so the boot root offers a plain SERVER:PATH root path
// and a portmapper on the boot link that points NFSv3 and MOUNTv3 at the image mount. Real parts:
// `overlay up` nodes in namespaces (publisher behind NAT A, proxy behind NAT B), rpcinfo asking
// the portmapper, and a qemu VM (TCG) on the boot link whose initramfs runs the very nfsmount of
// Debian's initramfs (klibc-utils) as scripts/nfs does, then reads and writes through the kernel
// NFS client, with the READ size --image-max-io offers. (This machine's own kernel has no NFS
// client: the mount has to happen in a VM.)
import test from 'ava';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ImageNet } from '../../simulations/netns/image-net.js';
import { exitWithin } from '../../simulations/harness/proc.js';
import { buildInitramfs, installedKernel, moduleChain } from '../../simulations/harness/initramfs.js';
import { serialText } from '../../simulations/harness/vm.js';

const PUBLISHER = 0;
const PROXY = 1;
const NFSMOUNT = '/usr/lib/klibc/bin/nfsmount';
const LINK = '10.96.0';
const IMAGE_PORT = 2070;
const VM_TIMEOUT_MS = 150_000;
/** --image-max-io: the largest READ/WRITE the mount offers (the client's rsize/wsize). */
const MAX_IO = 65_536;

/** klibc's shared library (nfsmount's ELF interpreter), e.g. /usr/lib/klibc-XXXX.so. */
function klibcSo(): string | undefined {
  const name = readdirSync('/usr/lib').find((n) => /^klibc-.*\.so$/.test(n));
  return name && join('/usr/lib', name);
}

test('boot --image-portmap: a plain root path, and Debian initramfs nfsmount in a VM finds the image mount through the portmapper', async (t) => {
  const so = klibcSo();
  if (!existsSync(NFSMOUNT) || !so) return t.fail(`${NFSMOUNT} or /usr/lib/klibc-*.so missing (klibc-utils, installed with initramfs-tools)`);
  t.timeout(300_000);
  const net = await ImageNet.create({ nats: ['eim', 'eim'], tag: 'bp' });
  t.teardown(() => net.destroy());
  await net.up(PUBLISHER);
  const proxy = await net.up(PROXY);
  const image = join(net.root, 'image');
  mkdirSync(join(image, 'etc'), { recursive: true });
  writeFileSync(join(image, 'etc', 'motd'), 'served through the portmapper\n');
  const publisher = net.image(PUBLISHER, ['publish', 'app', '1', image]);
  await publisher.waitFor(/published app 1/, 60_000);

  await net.run(PROXY, 'sh', ['-c', `ip link add brbp type bridge forward_delay 0 stp_state 0 && ip addr add ${LINK}.1/24 dev brbp && ip link set brbp up` +
    ' && ip tuntap add tapbp mode tap && ip link set tapbp master brbp && ip link set tapbp up']);
  const bootDir = join(net.root, 'boot');
  mkdirSync(bootDir);
  const boot = net.spawn(PROXY, ['boot', '--interface', 'brbp', '--dir', bootDir, '--image', 'app', '--image-port', String(IMAGE_PORT), '--image-store', join(net.root, 'store'), '--image-portmap', '--image-max-io', String(MAX_IO), '--state', proxy.state]);
  await boot.waitFor(/^ready$/m, 60_000);
  t.regex(boot.output(), new RegExp(`new boots get app 1: root ${LINK.replace(/\./g, '\\.')}\\.1:/images/app/1\\n`), 'the root path carries no options');

  const rpcinfo = await net.run(PROXY, 'rpcinfo', ['-p', `${LINK}.1`], 20_000);
  t.regex(rpcinfo, new RegExp(`100003\\s+3\\s+tcp\\s+${IMAGE_PORT}\\s`), 'NFSv3/TCP maps to the image mount');
  t.regex(rpcinfo, new RegExp(`100005\\s+3\\s+tcp\\s+${IMAGE_PORT}\\s`), 'MOUNTv3/TCP maps to the image mount');

  // What Debian's initramfs runs for an NFS root (scripts/nfs) with the DHCP root path, here with a static address.
  const kernel = installedKernel();
  const chain = await moduleChain(kernel.version, ['virtio_pci', 'virtio_net', 'nfsv3']);
  const initrd = join(net.root, 'initrd.img');
  const mods = await buildInitramfs({
    out: initrd,
    modules: chain,
    // nfsmount's ELF interpreter is /lib/klibc-*.so.
    files: { '/bin/nfsmount': readFileSync(NFSMOUNT), [`/lib/${basename(so)}`]: readFileSync(so) },
    init: `
fail() { echo "E2E FAIL $*"; poweroff -f; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in ${chain.map((m) => m.split('/').pop()).join(' ')}; do insmod /lib/modules/$m || fail "insmod $m"; done
ip link set lo up
ip link set eth0 up || fail "no eth0"
ip addr add ${LINK}.50/24 dev eth0
/bin/nfsmount -o nolock -o rw -o retrans=10 ${LINK}.1:/images/app/1 /newroot || fail "nfsmount"
echo "E2E motd $(cat /newroot/etc/motd)"
grep ' /newroot ' /proc/mounts | sed 's/^/E2E mount /'
echo 'changed in the vm' > /newroot/etc/motd
sync
umount /newroot || fail "umount"
echo E2E-DONE
poweroff -f
`,
  });
  t.true(mods.length > 0);
  const vm = net.topo.spawn(PROXY, 'qemu-system-x86_64', ['-accel', 'tcg', '-m', '256', '-nographic', '-no-reboot',
    '-kernel', kernel.image, '-initrd', initrd, '-append', 'console=ttyS0 quiet panic=-1',
    '-netdev', 'tap,id=n0,ifname=tapbp,script=no,downscript=no', '-device', 'virtio-net-pci,netdev=n0,mac=52:54:00:96:00:01']);
  if ((await exitWithin(vm, VM_TIMEOUT_MS)) === 'timeout') await vm.kill(1000);
  const console = serialText(vm.output());
  t.notRegex(console, /E2E FAIL/, console.slice(-3000));
  t.regex(console, /E2E motd served through the portmapper/, 'the kernel client read the image through the mount nfsmount found');
  t.regex(console, new RegExp(`E2E mount ${LINK.replace(/\./g, '\\.')}\\.1:/images/app/1 /newroot nfs .*rsize=${MAX_IO},wsize=${MAX_IO}`), 'the client took the offered READ/WRITE size');
  t.regex(console, /E2E-DONE/);
  t.is(readFileSync(join(image, 'etc', 'motd'), 'utf8'), 'served through the portmapper\n', "the publisher's tree is unchanged");
  t.is(readFileSync(join(net.root, 'store', '1', 'shadow', 'etc', 'motd'), 'utf8'), 'changed in the vm\n', 'the write landed in the shadow');
  await boot.kill(10_000);
  await publisher.kill(10_000);
});
