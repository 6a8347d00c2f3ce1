// The paper's whole chain (Figure 3 across the overlay) with the small busybox appliance: real
// `overlay up` nodes in network namespaces, a public founder; the image server behind NAT A, whose
// router adds a wide-area delay, running `overlay image publish`; the proxy appliance behind NAT B
// running `overlay boot --image` on a bridge with a TAP (the boot root mounts the image itself); a
// diskless qemu VM (TCG) on that bridge PXE-boots through it, takes the root path with its NFS
// port from DHCP and mounts its root with the kernel NFS client from the proxy, whose main is the
// server's virtual IP. The image's /sbin/init reads (checksums), changes files and powers off; a
// second boot of a new VM on the same proxy must fetch nothing from the server.
//
// Nothing the VM reads comes from anywhere but the overlay: its boot files are on the proxy node,
// its link has no router (`overlay boot` gets no --router), the proxy node cannot reach the
// server's own address (checked), and every byte the mount read from main is counted against the
// server's virtual IP (checked).
import test from 'ava';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ImageNet, waitUntil } from '../../simulations/netns/image-net.js';
import type { CountersSnapshot } from '../../rowfs/counters.js';
import { exitWithin } from '../../simulations/harness/proc.js';
import { Milestones, pxeVmArgs, serialText } from '../../simulations/harness/vm.js';
import { DATA_AFTER, READ_FILES, parseSums, prepareImage, sha256, treeDigest, writeBootFiles } from './appliance.js';

const SERVER = 0;
const PROXY = 1;
/** Each way through the server's NAT router: a 20 ms round trip between server and proxy. */
const ONE_WAY_MS = 10;
const APP = 'appliance';
const VERSION = '1';
const BRIDGE = 'brboot';
const TAP = 'tapvm';
const LINK = '10.98.0';
const IMAGE_PORT = 2060;
const VM_MAC = '52:54:00:98:00:01';
const BOOT_TIMEOUT_MS = 120_000;
/** The only procedures a mount may send the (read-only) image server. */
const READ_ONLY_PROCS = new Set(['NULL', 'GETATTR', 'LOOKUP', 'ACCESS', 'READLINK', 'READ', 'READDIR', 'READDIRPLUS', 'FSINFO', 'FSSTAT', 'PATHCONF', 'MNT', 'UMNT']);

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('a diskless VM boots an image published behind another NAT across a delay, through overlay boot --image; the second boot fetches nothing', async (t) => {
  t.timeout(360_000);
  const t0 = Date.now();
  const net = await ImageNet.create({ nats: ['eim', 'eim'], tag: 'ib' });
  t.teardown(() => net.destroy());
  await net.topo.setDelay(SERVER, ONE_WAY_MS);
  const server = await net.up(SERVER);
  const proxy = await net.up(PROXY);

  // The image, published from behind NAT A.
  const imageDir = join(net.root, 'image');
  const { originalSums, expected, digestBefore } = prepareImage(imageDir);
  const publisher = net.image(SERVER, ['publish', APP, VERSION, imageDir]);
  await publisher.waitFor(new RegExp(`published ${APP} ${esc(VERSION)}`), 60_000);

  // The overlay path between the two is direct and crosses the delayed router.
  const ping = await net.run(PROXY, 'ping', ['-n', '-q', '-c', '5', '-i', '0.2', '-W', '3', server.vip], 30_000);
  const rttMin = Number(/rtt min\/avg\/max\/mdev = ([\d.]+)\//.exec(ping)?.[1]);
  t.log(`overlay ping proxy -> server ${server.vip}: ${/rtt .*/.exec(ping)?.[0]}`);
  t.true(rttMin >= 2 * ONE_WAY_MS, `RTT ${rttMin} ms over the overlay includes the router's delay both ways`);
  // The proxy node has no way to the server's own address but the overlay.
  await t.throwsAsync(net.run(PROXY, 'ping', ['-n', '-c', '1', '-W', '1', net.topo.node(SERVER).lanIp], 10_000));

  // Boot files: iPXE script (no port on the command line: it comes with the root path), the
  // Debian kernel, a busybox initramfs with the virtio and NFS modules.
  const bootDir = join(net.root, 'boot');
  mkdirSync(bootDir);
  await writeBootFiles(bootDir);

  // The proxy appliance's boot link: a bridge with the VM's TAP, no router towards anything.
  const sh = (cmd: string) => net.run(PROXY, 'sh', ['-c', cmd]);
  await sh(`ip link add ${BRIDGE} type bridge forward_delay 0 stp_state 0 && ip addr add ${LINK}.1/24 dev ${BRIDGE}` +
    ` && sysctl -qw net.ipv6.conf.${BRIDGE}.accept_dad=0 && ip link set ${BRIDGE} up` +
    ` && ip tuntap add ${TAP} mode tap && ip link set ${TAP} master ${BRIDGE} && ip link set ${TAP} up`);
  const store = join(net.root, 'boot-store');
  const boot = net.spawn(PROXY, ['boot', '--interface', BRIDGE, '--dir', bootDir, '--range', `${LINK}.100-${LINK}.120`, '--image', APP, '--image-port', String(IMAGE_PORT), '--image-store', store, '--state', proxy.state]);
  await boot.waitFor(/^ready$/m, 60_000);
  const rootPath = `${LINK}.1:/images/${APP}/${VERSION},vers=3,tcp,port=${IMAGE_PORT},mountport=${IMAGE_PORT}`;
  t.regex(boot.output(), new RegExp(`new boots get ${APP} ${esc(VERSION)}: root ${esc(rootPath)}`));
  const countersFile = join(store, VERSION, 'state', 'counters.json');
  t.log(`setup (nodes, publish, boot files, boot root) ${Date.now() - t0} ms`);

  /** One VM from power-on to poweroff; its serial console and milestones. */
  const runVm = async (name: string) => {
    const start = Date.now();
    const vm = net.topo.spawn(PROXY, 'qemu-system-x86_64', pxeVmArgs({ tap: TAP, mac: VM_MAC }));
    const marks = new Milestones(start);
    marks.watch(vm, { lease: /E2E lease/, rootMounted: /E2E mounted/, rootInit: /E2E root-init/, done: /E2E-DONE/ }, BOOT_TIMEOUT_MS);
    const exit = await exitWithin(vm, BOOT_TIMEOUT_MS);
    if (exit === 'timeout') await vm.kill(1000);
    const serial = serialText(vm.output());
    const milestones = await marks.settled();
    if (!/E2E-DONE/.test(serial)) {
      throw new Error(`${name}: the VM did not finish (${exit}); milestones ${JSON.stringify(milestones)}\nVM console:\n${serial.slice(-4000)}\nboot:\n${boot.output().slice(-2000)}`);
    }
    t.log(`${name}: ms after power-on ${JSON.stringify(milestones)}`);
    return serial;
  };
  /** The mount's counters once its 1-second counters file has caught up with the idle proxy. */
  const settledCounters = async () => {
    const idleSince = Date.now();
    return waitUntil('counters written after the VM stopped', async () => (statSync(countersFile).mtimeMs > idleSince + 1000 ? (JSON.parse(readFileSync(countersFile, 'utf8')) as CountersSnapshot) : undefined), 10_000);
  };

  // ---- First boot: the VM reads the image over the overlay and changes it.
  const first = await runVm('boot 1');
  t.notRegex(first, /E2E FAIL/);
  t.regex(first, new RegExp(`E2E lease ip=${esc(LINK)}\\.1\\d\\d rootpath=${esc(rootPath)}`), 'the root path came with DHCP');
  t.regex(first, new RegExp(`E2E rootfs ${esc(`${LINK}.1:/images/${APP}/${VERSION}`)} / nfs .*vers=3.*port=${IMAGE_PORT}`), 'the root is the kernel NFS client mount of the boot root');
  t.regex(first, /E2E root-init pid=1 /);
  const sums = parseSums(first);
  for (const [file, sum] of originalSums) t.is(sums.get('read')?.get(file), sum, `VM read ${file}`);
  for (const [file, bytes] of expected) t.is(sums.get('changed')?.get(file), sha256(bytes), `VM re-read ${file} after its change`);
  t.deepEqual([...first.matchAll(/^E2E ls data (\S+)$/gm)].map((m) => m[1]).sort(), DATA_AFTER);

  // The writes sit in the proxy's shadow; the server's tree is unchanged.
  const shadow = join(store, VERSION, 'shadow');
  for (const file of ['data/append.txt', 'etc/motd', 'data/newdir/new.txt']) t.deepEqual(readFileSync(join(shadow, file)), expected.get(file), `shadow holds ${file}`);
  t.is(treeDigest(imageDir), digestBefore, "the server's image is unchanged byte for byte");
  t.false(existsSync(join(imageDir, 'data/newdir')));

  const c1 = await settledCounters();
  t.log(`boot 1 counters: main=${JSON.stringify(c1.main)} bytes=${JSON.stringify(c1.bytes)} cache=${JSON.stringify(c1.cache)} replicas=${JSON.stringify(c1.replicas)}`);
  const readBytes = READ_FILES.reduce((n, f) => n + statSync(join(imageDir, f)).size, 0);
  t.true(c1.bytes.fromMain >= readBytes - 2 * 65_536, `bytes from the server ${c1.bytes.fromMain} cover the files read (${readBytes})`);
  // Every byte from main came from the server's virtual IP, over the overlay.
  t.deepEqual(Object.keys(c1.replicas?.bytesFrom ?? {}).map((s) => s.split(':')[0]), [server.vip]);
  t.is(Object.values(c1.replicas!.bytesFrom).reduce((a, b) => a + b, 0), c1.bytes.fromMain, 'bytes from main are the bytes from the server');
  t.deepEqual(Object.keys(c1.main).filter((p) => !READ_ONLY_PROCS.has(p)), [], 'the server only saw read-only procedures');
  t.true((c1.shadow.WRITE ?? 0) > 0 && c1.bytes.toShadow > 0, 'writes went to the shadow');

  // ---- Second boot (a new VM, same proxy): everything it reads is cached or in the shadow.
  const second = await runVm('boot 2');
  t.notRegex(second, /E2E FAIL/);
  const sums2 = parseSums(second).get('reboot');
  for (const [file, bytes] of expected) t.is(sums2?.get(file), sha256(bytes), `second boot sees the changed ${file}`);
  t.is(sums2?.get('bin/busybox'), originalSums.get('bin/busybox'));
  t.is(sums2?.get('data/b.txt'), originalSums.get('data/b.txt'));
  const c2 = await settledCounters();
  t.log(`boot 2 counters: main=${JSON.stringify(c2.main)} bytes=${JSON.stringify(c2.bytes)} cache=${JSON.stringify(c2.cache)}`);
  t.is(c2.bytes.fromMain, c1.bytes.fromMain, 'the second boot fetched no bytes from the server');
  t.is(c2.main.READ ?? 0, c1.main.READ ?? 0, 'and sent it no READ');
  t.true(c2.cache.hitBlocks > c1.cache.hitBlocks, 'it read image blocks from the block cache');
  t.is(treeDigest(imageDir), digestBefore);
  t.true(readdirSync(shadow).length > 0);

  await boot.kill(10_000);
  await publisher.kill(10_000);
  t.log(`whole test ${Date.now() - t0} ms`);
});
