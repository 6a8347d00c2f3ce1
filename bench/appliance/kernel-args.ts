// The appliance's kernel command line in the benchmark: the boot line, the workload runs after
// multi-user, the power-off. One rule checked here: Debian's initramfs (initramfs-tools `init`)
// reads the line as `for x in $(cat /proc/cmdline)`, split on blanks with quotes ignored, and the
// last bare `ro` or `rw` decides how it mounts the NFS root; a word `ro` inside a quoted
// `systemd.run=` command counts too (run 6's `mount -o ro /dev/vda` booted its cold VM read-only).

/** The appliance's boot line: serial console, the lease and root path by DHCP, the root read-write. */
const BASE_ARGS = 'console=ttyS0 ip=dhcp rw panic=-1';
/**
 * The workload six times, each announced on the console (`APPLIANCE workload-from ...`): over NFS
 * (bc and its libraries out of the VM's page cache: first cold, read through the proxy from the
 * image server across the delay), from the page cache (ram), from the VM's local disk after
 * dropping the page cache (local: a read-only virtio disk holding the workload's programs and
 * libraries, `workload-disk.ts`, run in a chroot on it), then over NFS again after a drop (from the
 * proxy's block cache), ram, local. nfs, local and ram are each the mean of a pair; alternating
 * shares the machine's load drift between them. The disk is mounted (ext4 and virtio modules
 * loaded) before the first run, read-only by `-r` (a word `ro` would make the initramfs mount the
 * root read-only: above). No `$` or `%`: systemd would expand them.
 */
const WORKLOAD_RUNS =
  'mkdir -p /run/wl; mount -r /dev/vda /run/wl; mount -t proc proc /run/wl/proc; ' +
  'D() { sync; echo 3 > /proc/sys/vm/drop_caches; }; ' +
  'N() { echo APPLIANCE workload-from nfs; /usr/local/bin/appliance-workload; }; ' +
  'R() { echo APPLIANCE workload-from ram; /usr/local/bin/appliance-workload; }; ' +
  'L() { D; echo APPLIANCE workload-from local; chroot /run/wl /usr/local/bin/appliance-workload; }; ' +
  'N; R; L; D; N; R; L;';

/**
 * The whole line for one boot. After multi-user: (the workload runs:) then power off. systemd.run's
 * generator makes its own target the default and, by default, powers off once the command
 * succeeded; so the boot goes to multi-user.target (systemd.unit) and wants the command's unit
 * (systemd.wants), and the command starts a transient unit ordered after the appliance's
 * multi-user report (so the boot does not wait for it, and it starts once the mark is out) and idle
 * (it starts once systemd has no more jobs to dispatch, at most 5 s later: the workload does not
 * share the VM with the boot's tail). It powers off with SIGRTMIN+4 to PID 1 (38 with glibc's
 * SIGRTMIN, what `systemctl poweroff` asks for), so the harness reads no systemctl (1.3 MB) from
 * the image: it used to wait with `systemctl is-system-running --wait` in every boot.
 */
export function applianceKernelArgs(workload: boolean): string {
  return `${BASE_ARGS} systemd.unit=multi-user.target systemd.wants=kernel-command-line.service systemd.run_success_action=none ` +
    `systemd.run="/usr/bin/systemd-run --no-block -p After=appliance-ready.service -p Type=idle -p StandardOutput=journal+console /bin/sh -c '${workload ? `${WORKLOAD_RUNS} ` : ''}kill -38 1'"`;
}

/**
 * How initramfs-tools mounts the root for this line: the last blank-separated word `ro` or `rw`
 * (quotes ignored, as its `init` splits it); `ro` when there is neither (its default).
 */
export function initramfsRootMode(cmdline: string): 'ro' | 'rw' {
  let mode: 'ro' | 'rw' = 'ro';
  for (const word of cmdline.split(/\s+/)) if (word === 'ro' || word === 'rw') mode = word;
  return mode;
}
