// The paper's Figure 3 end to end (section 3, steps 1-9): a diskless qemu VM (TCG) on a TAP in a
// bridge this test creates PXE-boots through `overlay boot` (DHCP lease, iPXE script, Debian kernel
// and a busybox initramfs over TFTP), gets a second lease from its initramfs with the root path in
// option 17, mounts its root over NFSv3/TCP with the Linux kernel client from `overlay rowfs`, and
// switch_roots into it. The proxy serves an image exported read-only by nfs-ganesha (main) and
// sends every change to a local shadow. The image's /sbin/init reads, changes and re-reads files
// and powers off. Then the VM boots a second time on the same proxy state with the block cache warm.
//
// Checked from the serial console and from outside: checksums the VM read; the main export is
// unchanged byte for byte; the changes sit in the shadow and are visible through the proxy to
// libnfs; the proxy's counters (reads from main, writes to the shadow only; second boot served
// from the cache).
import test from 'ava';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BootLink, OVERLAY_BIN, lastStats } from '../../simulations/harness/boot-link.js';
import { startGanesha, type Ganesha } from '../../simulations/harness/ganesha.js';
import { nfsCat, nfsLsNames, type NfsTarget } from '../../simulations/harness/libnfs.js';
import { Netns, vethPair } from '../../simulations/harness/netns.js';
import { exitWithin, run, type Proc } from '../../simulations/harness/proc.js';
import { Milestones, serialText, startPxeVm } from '../../simulations/harness/vm.js';
import { A_BIN_BYTES, AFTER_RESTART, DATA_AFTER, READ_FILES, parseSums, prepareImage, sha256, treeDigest, writeBootFiles } from './appliance.js';

const SUBNET = '10.79.1';
/** /30 between the proxy's namespace and the main server's. */
const MAIN_LINK = '10.79.2';
const PROXY_PORT = 2049;
const MAIN_NFS_PORT = 20490;
const MAIN_MOUNT_PORT = 20048;
const VM_MAC = '52:54:00:79:01:01';
const BOOT_TIMEOUT_MS = 150_000;
const BLOCK_BYTES = 65_536;
/** The only procedures the proxy may send the read-only main server (docs/rowfs.md). */
const MAIN_READ_ONLY_PROCS = new Set(['NULL', 'GETATTR', 'LOOKUP', 'ACCESS', 'READLINK', 'READ', 'READDIR', 'READDIRPLUS', 'FSINFO', 'FSSTAT', 'PATHCONF', 'MNT', 'UMNT']);

interface BootResult {
  serial: string;
  milestones: Record<string, number | undefined>;
  /** Counters of the proxy process serving the end of the boot. */
  counters: any;
  /** With a crash: the killed proxy's last counters snapshot (written every second). */
  countersBeforeCrash?: any;
}

test('a diskless VM PXE-boots through our boot services and runs from an NFS root served by the ROW-FS proxy', async (t) => {
  t.timeout(420_000);
  const link = await BootLink.create('e2e', SUBNET);
  let ganesha: Ganesha | undefined;
  let mainNs: Netns | undefined;
  const owned: Proc[] = [];
  const vethTag = `${process.pid % 100000}`;
  t.teardown(async () => {
    for (const p of owned) await p.kill(2000).catch(() => undefined);
    await ganesha?.stop().catch(() => undefined);
    await mainNs?.destroy();
    await link.destroy();
    // Only left in the root namespace if setting up the pair failed half way.
    await run('ip', ['link', 'del', `e2p${vethTag}`]).catch(() => undefined);
  });

  // The image (main export), its checksums and the expected state after the VM's changes.
  const imageDir = join(link.work, 'image');
  const { originalSums, expected, digestBefore } = prepareImage(imageDir);
  // The image server (the paper's VM3) in its own namespace, one link away from the proxy appliance
  // (VM2, the namespace with the boot bridge), as the proxy's second NIC.
  mainNs = await Netns.create('e2em');
  await vethPair({ ns: link.srv, ifname: `e2p${vethTag}`, cidr: `${MAIN_LINK}.1/30` }, { ns: mainNs, ifname: `e2m${vethTag}`, cidr: `${MAIN_LINK}.2/30` });
  ganesha = await startGanesha({ exportDir: imageDir, ns: mainNs, readOnly: true, nfsPort: MAIN_NFS_PORT, mountPort: MAIN_MOUNT_PORT });
  const exportPath = ganesha.exportPath;

  // Boot files: iPXE script, the Debian kernel, an initramfs with busybox + virtio/NFS modules.
  const { kernel, modules: moduleNames } = await writeBootFiles(link.dir, `e2e.port=${PROXY_PORT}`);
  t.log(`kernel ${kernel.version}, ${moduleNames.length} modules, initrd ${statSync(join(link.dir, 'initrd.img')).size} bytes`);

  const server = await link.startServer([
    '--range', `${SUBNET}.100-${SUBNET}.120`, '--root-path', `${SUBNET}.1:${exportPath}`, '--stats-interval', '1',
  ]);
  await link.addTap('tap0');

  const stateDir = join(link.work, 'state');
  const shadowDir = join(link.work, 'shadow');
  mkdirSync(shadowDir);
  const startProxy = async (): Promise<Proc> => {
    const p = link.start(link.srv, 'node', [
      OVERLAY_BIN, 'rowfs', '--main', `${MAIN_LINK}.2:${exportPath}`, '--main-nfs-port', String(MAIN_NFS_PORT),
      '--main-mount-port', String(MAIN_MOUNT_PORT), '--shadow', shadowDir, '--listen', String(PROXY_PORT), '--state', stateDir,
    ]);
    owned.push(p);
    await p.waitFor(/rowfs: NFS port \d+, MOUNT port \d+/, 20_000);
    return p;
  };
  /** Stops the proxy (SIGTERM: it writes its final counters) and returns them. */
  const stopProxy = async (p: Proc): Promise<any> => {
    await p.kill(5000);
    return JSON.parse(readFileSync(join(stateDir, 'counters.json'), 'utf8'));
  };

  /** With `crashProxy`, SIGKILLs the proxy when the VM prints `E2E pause` and starts it again on the same state. */
  const boot = async (name: string, crashProxy = false): Promise<BootResult> => {
    let proxy = await startProxy();
    const t0 = Date.now();
    const vm = startPxeVm(link.srv, { tap: 'tap0', mac: VM_MAC });
    owned.push(vm);
    const marks = new Milestones(t0);
    marks.watch(server, {
      ipxeLease: /REQUEST from \S+ -> ACK /,
      bootScript: /RRQ 'boot\.ipxe'/,
      kernelSent: /sent 'vmlinuz'/,
      initrdSent: /sent 'initrd\.img'/,
    }, BOOT_TIMEOUT_MS);
    marks.watch(vm, {
      initramfs: /E2E initramfs/,
      linuxLease: /E2E lease/,
      rootMounted: /E2E mounted/,
      rootInit: /E2E root-init/,
      done: /E2E-DONE/,
    }, BOOT_TIMEOUT_MS);
    let countersBeforeCrash: any;
    if (crashProxy) {
      const paused = await vm.waitFor(/E2E pause/, BOOT_TIMEOUT_MS).then(() => true, () => false);
      if (paused) {
        // Let the 1-second counters file catch up with the (idle) proxy, then crash it.
        await new Promise((r) => setTimeout(r, 1500));
        countersBeforeCrash = JSON.parse(readFileSync(join(stateDir, 'counters.json'), 'utf8'));
        proxy.child.kill('SIGKILL');
        await proxy.exited;
        proxy = await startProxy();
        t.log(`${name}: proxy killed and restarted ${Date.now() - t0} ms after qemu start`);
      }
    }
    const exit = await exitWithin(vm, BOOT_TIMEOUT_MS);
    if (exit === 'timeout') await vm.kill(1000);
    const milestones = { ...(await marks.settled()), poweredOff: exit === 'exited' ? Date.now() - t0 : undefined };
    const serial = serialText(vm.output());
    const counters = await stopProxy(proxy);
    if (!/E2E-DONE/.test(serial)) {
      throw new Error(`${name}: the VM did not finish (${exit}); milestones ${JSON.stringify(milestones)}\nVM console:\n${serial.slice(-4000)}\nboot server:\n${server.output().slice(-1500)}\nproxy:\n${proxy.output().slice(-1500)}`);
    }
    t.log(`${name}: milestones (ms after qemu start) ${JSON.stringify(milestones)}`);
    t.log(`${name}: proxy counters main=${JSON.stringify(counters.main)} shadow=${JSON.stringify(counters.shadow)} bytes=${JSON.stringify(counters.bytes)} cache=${JSON.stringify(counters.cache)}`);
    return { serial, milestones, counters, countersBeforeCrash };
  };

  // ---- First boot: read, then change the root file system.
  const first = await boot('boot 1');
  t.notRegex(first.serial, /E2E FAIL/);
  t.regex(first.serial, new RegExp(`E2E lease ip=${SUBNET.replace(/\./g, '\\.')}\\.1\\d\\d rootpath=${SUBNET.replace(/\./g, '\\.')}\\.1:${exportPath}`));
  t.regex(first.serial, new RegExp(`E2E rootfs \\S+ / nfs .*vers=3.*port=${PROXY_PORT}`), 'the root is the kernel NFS client mount');
  t.regex(first.serial, /E2E root-init pid=1 /, "the image's /sbin/init runs as PID 1 after switch_root");
  const sums1 = parseSums(first.serial);
  for (const [file, sum] of originalSums) t.is(sums1.get('read')?.get(file), sum, `VM read ${file}`);
  for (const [file, bytes] of expected) t.is(sums1.get('changed')?.get(file), sha256(bytes), `VM re-read ${file} after its change`);
  const lsFirst = [...first.serial.matchAll(/^E2E ls data (\S+)$/gm)].map((m) => m[1]).sort();
  t.deepEqual(lsFirst, DATA_AFTER);
  const checkReport = (serial: string) => {
    t.regex(serial, /^E2E readlink renamed$/m, 'symlink made by the VM');
    t.regex(serial, /^E2E links 2 2 same-inode yes$/m, 'hard link of an image file made by the VM');
    t.regex(serial, /^E2E mode 600$/m, 'chmod of an image file');
  };
  checkReport(first.serial);

  // Main untouched; the changes sit in the shadow (sparse copy-up: only the patched block of a.bin).
  t.is(treeDigest(imageDir), digestBefore, 'main export byte-for-byte unchanged');
  t.true(existsSync(join(imageDir, 'data/remove-me')) && existsSync(join(imageDir, 'data/rename-me')));
  for (const file of ['data/append.txt', 'etc/motd', 'data/newdir/new.txt', 'data/copy']) {
    t.deepEqual(readFileSync(join(shadowDir, file)), expected.get(file), `shadow holds ${file}`);
  }
  t.is(readlinkSync(join(shadowDir, 'data/symlink')), 'renamed');
  t.is(statSync(join(shadowDir, 'etc/hostname')).mode & 0o777, 0o600);
  t.is(statSync(join(imageDir, 'etc/hostname')).mode & 0o777, 0o644);
  // A rename copies up metadata only: a sparse file of the right size, its data still read from main.
  t.is(statSync(join(shadowDir, 'data/renamed')).size, expected.get('data/renamed')!.length);
  const shadowA = readFileSync(join(shadowDir, 'data/a.bin'));
  t.is(shadowA.length, A_BIN_BYTES);
  const patchedBlock = Math.floor(100_000 / BLOCK_BYTES);
  t.deepEqual(
    shadowA.subarray(patchedBlock * BLOCK_BYTES, (patchedBlock + 1) * BLOCK_BYTES),
    expected.get('data/a.bin')!.subarray(patchedBlock * BLOCK_BYTES, (patchedBlock + 1) * BLOCK_BYTES),
    'the patched block is complete in the shadow',
  );
  t.true(statSync(join(shadowDir, 'data/a.bin')).blocks * 512 < A_BIN_BYTES, 'shadow a.bin is sparse (no full copy-up)');
  t.false(existsSync(join(shadowDir, 'data/remove-me')));
  t.false(readdirSync(join(shadowDir, 'data')).includes('rename-me'));

  // Counters: the kernel's reads came from main, its writes went to the shadow only.
  const c1 = first.counters;
  const readBytes = READ_FILES.reduce((n, f) => n + statSync(join(imageDir, f)).size, 0);
  t.true((c1.main.READ ?? 0) > 0 && c1.bytes.fromMain >= readBytes - 2 * BLOCK_BYTES, `bytes from main ${c1.bytes.fromMain} cover the files read (${readBytes})`);
  t.true((c1.shadow.WRITE ?? 0) > 0 && c1.bytes.toShadow > 0, 'writes went to the shadow');
  t.true((c1.client.WRITE ?? 0) > 0 && (c1.client.REMOVE ?? 0) > 0 && (c1.client.RENAME ?? 0) > 0 && (c1.client.MKDIR ?? 0) > 0);
  t.deepEqual(Object.keys(c1.main).filter((p) => !MAIN_READ_ONLY_PROCS.has(p)), [], 'main only saw read-only procedures');

  // ---- Second boot of the same VM on the same proxy state, block cache warm; the proxy is
  // SIGKILLed and restarted under the mounted root, then the VM goes on with its old handles.
  const second = await boot('boot 2', true);
  t.notRegex(second.serial, /E2E FAIL/);
  t.regex(second.serial, /E2E phase reboot/);
  const sums2 = parseSums(second.serial).get('reboot');
  for (const [file, bytes] of expected) t.is(sums2?.get(file), sha256(bytes), `second boot sees the changed ${file}`);
  t.is(sums2?.get('bin/busybox'), originalSums.get('bin/busybox'));
  t.is(sums2?.get('data/b.txt'), originalSums.get('data/b.txt'));
  const lsSecond = [...second.serial.matchAll(/^E2E ls data (\S+)$/gm)].map((m) => m[1]).sort();
  t.deepEqual(lsSecond, lsFirst);
  checkReport(second.serial);
  t.truthy(second.countersBeforeCrash, 'the proxy was killed mid-boot');
  const sums2b = parseSums(second.serial).get('after-restart');
  for (const file of ['data/a.bin', 'data/append.txt', 'data/copy', 'data/newdir/new.txt']) {
    t.is(sums2b?.get(file), sha256(expected.get(file)!), `after the proxy restart the VM re-reads ${file}`);
  }
  t.is(sums2b?.get('bin/busybox'), originalSums.get('bin/busybox'));
  t.is(sums2b?.get('data/after-restart.txt'), sha256(AFTER_RESTART));
  t.is(readFileSync(join(shadowDir, 'data/after-restart.txt'), 'utf8'), AFTER_RESTART);
  const c2a = second.countersBeforeCrash;
  const c2 = second.counters;
  t.true(c2a.cache.hitBlocks > 0, 'second boot read image blocks from the block cache');
  t.true((c2.client.READ ?? 0) > 0 && (c2.client.WRITE ?? 0) > 0, 'the VM went on reading and writing through the restarted proxy');
  const fromMain2 = c2a.bytes.fromMain + c2.bytes.fromMain;
  t.true(fromMain2 * 10 <= c1.bytes.fromMain, `second boot fetched ${fromMain2} bytes from main (first: ${c1.bytes.fromMain})`);
  t.log(`boot 2: counters before the crash: main=${JSON.stringify(c2a.main)} bytes=${JSON.stringify(c2a.bytes)} cache=${JSON.stringify(c2a.cache)}`);
  t.is(treeDigest(imageDir), digestBefore, 'main export still unchanged');

  // ---- From outside, through the proxy: libnfs sees the VM's changes.
  const proxy = await startProxy();
  const target: NfsTarget = { host: `${SUBNET}.1`, exportPath, nfsPort: PROXY_PORT, mountPort: PROXY_PORT, ns: link.srv };
  for (const file of ['data/append.txt', 'etc/motd', 'data/newdir/new.txt', 'data/a.bin', 'data/renamed']) {
    t.is(sha256(await nfsCat(target, file)), sha256(expected.get(file)!), `libnfs reads the VM's ${file} through the proxy`);
  }
  t.is((await nfsCat(target, 'data/after-restart.txt')).toString(), AFTER_RESTART);
  t.deepEqual(await nfsLsNames(target, 'data'), [...lsFirst, 'after-restart.txt'].sort());
  await proxy.kill(5000);

  const stats = lastStats(server.output());
  t.log(`boot services: ${JSON.stringify(stats?.dhcp?.sent)} tftp bytes ${stats?.tftp?.bytesSent}`);
});
