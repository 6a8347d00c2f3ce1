// A qemu VM (TCG, iPXE ROM from ipxe-qemu) on a TAP in our bridge PXE-boots from `overlay boot`:
// DHCP lease, boot.ipxe over TFTP, then a 2 MB "kernel" over TFTP, sized by iPXE's imgstat. Proven
// from both ends: the server's log and counters, and the VM's serial console (VGA text mirrored
// to the serial line by sgabios).
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BootLink, lastStats, until } from '../../simulations/harness/boot-link.js';

const KERNEL_BYTES = 2_000_000;

/** Serial output with the terminal escape sequences removed. */
export function consoleText(raw: string): string {
  return raw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
}

test('an iPXE VM gets a lease and fetches its boot script and a kernel over our TFTP', async (t) => {
  const link = await BootLink.create('pxe', '10.77.9');
  t.teardown(() => link.destroy());
  await link.addTap('tap0');
  writeFileSync(join(link.dir, 'kernel.bin'), randomBytes(KERNEL_BYTES));
  writeFileSync(join(link.dir, 'boot.ipxe'), [
    '#!ipxe',
    'echo overlay-boot: script loaded from ${next-server} as ${ip}',
    'imgfetch kernel.bin',
    'imgstat',
    'echo overlay-boot: fetched kernel.bin',
    '',
  ].join('\n'));
  const server = await link.startServer(['--range', '10.77.9.100-10.77.9.120', '--stats-interval', '1']);
  const vm = link.start(link.srv, 'qemu-system-x86_64', [
    '-accel', 'tcg', '-m', '256', '-nographic', '-device', 'sga', '-boot', 'n', '-no-reboot',
    '-netdev', 'tap,id=n0,ifname=tap0,script=no,downscript=no', '-device', 'virtio-net-pci,netdev=n0,mac=52:54:00:77:09:01',
  ]);
  await until('VM fetched the kernel', 90_000, () => /overlay-boot: fetched kernel\.bin/.test(consoleText(vm.output())) || undefined)
    .catch((err) => {
      throw new Error(`${(err as Error).message}\nVM:\n${consoleText(vm.output()).slice(-2000)}\nserver:\n${server.output().slice(-2000)}`);
    });
  await vm.kill();
  const serial = consoleText(vm.output());
  t.regex(serial, /overlay-boot: script loaded from 10\.77\.9\.1 as 10\.77\.9\.100/);
  t.regex(serial, new RegExp(`kernel\\.bin : ${KERNEL_BYTES} bytes`));
  const log = server.output();
  t.regex(log, /DISCOVER from id:01525400770901 -> OFFER 10\.77\.9\.100/);
  t.regex(log, /REQUEST from id:01525400770901 -> ACK 10\.77\.9\.100/);
  t.regex(log, /RRQ 'boot\.ipxe' from 10\.77\.9\.100/);
  t.regex(log, new RegExp(`sent 'kernel\\.bin' to 10\\.77\\.9\\.100:\\d+: ${KERNEL_BYTES} bytes`));
  const stats = await until('counters', 5000, () => {
    const s = lastStats(server.output());
    return s?.tftp.completed >= 2 ? s : undefined;
  });
  t.is(stats.dhcp.sent.ACK, 1);
  t.true(stats.tftp.bytesSent >= KERNEL_BYTES);
  t.true(stats.ra.sent >= 1, 'router advertisements went out');
});
