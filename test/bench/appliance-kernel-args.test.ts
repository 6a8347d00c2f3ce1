// The benchmark's kernel command line boots the appliance's root read-write in every boot: Debian's
// initramfs takes the last blank-separated `ro`/`rw`, quotes ignored (run 6's workload command
// carried `mount -o ro` and its cold VM booted read-only: no writes, systemd-sysusers skipped).
import test from 'ava';
import { applianceKernelArgs, initramfsRootMode } from '../../bench/appliance/kernel-args.js';

test('both boot lines (with and without the workload) leave the initramfs mounting the root rw', (t) => {
  for (const workload of [false, true]) {
    const line = applianceKernelArgs(workload);
    t.is(initramfsRootMode(line), 'rw', line);
    t.true(line.includes('kill -38 1'));
  }
  t.true(applianceKernelArgs(true).includes('appliance-workload'));
  t.false(applianceKernelArgs(false).includes('appliance-workload'));
});

test('initramfsRootMode reads words as initramfs-tools does: the last ro/rw, inside quotes too, ro by default', (t) => {
  t.is(initramfsRootMode('console=ttyS0 rw'), 'rw');
  t.is(initramfsRootMode('console=ttyS0'), 'ro');
  t.is(initramfsRootMode(`rw systemd.run="/bin/sh -c 'mount -o ro /dev/vda /x'"`), 'ro');
  t.is(initramfsRootMode(`rw systemd.run="/bin/sh -c 'mount -o ro,noload /dev/vda /x'"`), 'rw');
  t.is(initramfsRootMode('ro\trw'), 'rw');
});
