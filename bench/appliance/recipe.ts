// The real appliance image of issue 12 (the paper's ~900 MB Debian appliance): what debootstrap
// installs and how the tree is configured to boot as an NFS root. Pure data and functions: the
// recipe's digest names the cached build, so a changed recipe builds anew and an unchanged one is
// reused (bench/appliance/build.ts).
import { createHash } from 'node:crypto';

export interface ApplianceRecipe {
  suite: string;
  mirror: string;
  variant: 'minbase';
  arch: string;
  /** Packages on top of minbase (debootstrap --include). */
  packages: readonly string[];
  /** Shell run as root inside the chroot after debootstrap, /proc mounted. */
  configure: string;
}

/** Printed on the serial console once systemd reached multi-user (the benchmark's boot-done mark). */
export const MULTI_USER_MARK = 'APPLIANCE multi-user';
/**
 * The NFS root's page-cache readahead, set by the initramfs once the root is mounted (Linux's
 * default for NFS is 128 KiB). Every page fault in a mapped library or program reads a window this
 * size around the faulting page and chains the next window when a process reaches the end of one,
 * so with 128 KiB the boot read the libraries systemd links nearly whole; docs/appliance.md (run 7)
 * has the bytes, READs and boot seconds at 128, 32 and 16 KiB.
 */
export const ROOT_READ_AHEAD_KB = 16;

export const APPLIANCE_RECIPE: ApplianceRecipe = {
  suite: 'bookworm',
  mirror: 'http://deb.debian.org/debian',
  variant: 'minbase',
  arch: 'amd64',
  packages: [
    // boot and run as a diskless NFS-root machine
    'systemd', 'systemd-sysv', 'udev', 'kmod', 'iproute2', 'procps', 'linux-image-amd64', 'initramfs-tools', 'busybox',
    // the workload (bc: digits of pi, CPU-bound, standing in for the paper's simplescalar) and
    // what makes the image the paper's size (a compiler tool chain and python, ~900 MB in all)
    'bc', 'build-essential', 'python3',
  ],
  configure: `set -e
echo appliance > /etc/hostname
passwd -d root
printf 'proc /proc proc defaults 0 0\\n' > /etc/fstab
# The initramfs mounts the root over NFS (nfsroot / DHCP option 17) with the netboot modules.
sed -i 's/^MODULES=.*/MODULES=netboot/; s/^BOOT=.*/BOOT=nfs/' /etc/initramfs-tools/initramfs.conf
grep -q '^BOOT=nfs' /etc/initramfs-tools/initramfs.conf || echo BOOT=nfs >> /etc/initramfs-tools/initramfs.conf
# Once the root is mounted, its readahead (the NFS mount's bdi, named major:minor in mountinfo)
# drops to ${ROOT_READ_AHEAD_KB} KiB: the VM faults its programs and libraries in across the wide area.
mkdir -p /etc/initramfs-tools/scripts/nfs-bottom
cat > /etc/initramfs-tools/scripts/nfs-bottom/appliance-readahead <<'S'
#!/bin/sh
case "$1" in prereqs) exit 0 ;; esac
bdi=
while read -r _id _parent dev _root mnt _rest; do
	[ "$mnt" = "$rootmnt" ] && bdi=$dev
done < /proc/self/mountinfo
if [ -n "$bdi" ] && [ -w "/sys/class/bdi/$bdi/read_ahead_kb" ]; then
	echo ${ROOT_READ_AHEAD_KB} > "/sys/class/bdi/$bdi/read_ahead_kb"
	echo "appliance: root readahead $(cat "/sys/class/bdi/$bdi/read_ahead_kb") KiB"
fi
S
chmod 755 /etc/initramfs-tools/scripts/nfs-bottom/appliance-readahead
# Before DHCP, the network device is brought up and given up to 5 s to report its link: ipconfig
# sent its first DISCOVER before the link was ready in every boot (the kernel drops what is sent
# before then), gave up on that attempt and asked again, which cost 1-10 s a boot (docs/appliance.md).
mkdir -p /etc/initramfs-tools/scripts/nfs-premount
cat > /etc/initramfs-tools/scripts/nfs-premount/appliance-link-up <<'S'
#!/bin/sh
case "$1" in prereqs) exit 0 ;; esac
tries=0
while [ $tries -lt 50 ]; do
	for d in /sys/class/net/*; do
		n=\${d##*/}
		[ "$n" = lo ] && continue
		[ "$(cat "$d/operstate" 2>/dev/null)" = up ] && { echo "appliance: $n link up after $tries tenths of a second"; exit 0; }
		ip link set dev "$n" up 2>/dev/null
	done
	sleep 0.1
	tries=$((tries + 1))
done
echo "appliance: no link up after 5 s; DHCP goes on"
S
chmod 755 /etc/initramfs-tools/scripts/nfs-premount/appliance-link-up
update-initramfs -u -k all
cat > /usr/local/bin/appliance-workload <<'W'
#!/bin/sh
# CPU-bound: 3,000 digits of pi with bc; prints the seconds it took and a checksum of the digits.
start=$(cut -d' ' -f1 /proc/uptime)
sum=$(echo 'scale=3000; 4*a(1)' | bc -l | md5sum | cut -d' ' -f1)
echo "APPLIANCE workload $sum $start $(cut -d' ' -f1 /proc/uptime)"
W
chmod 755 /usr/local/bin/appliance-workload
cat > /etc/systemd/system/appliance-ready.service <<'U'
[Unit]
Description=Report multi-user on the console
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo "${MULTI_USER_MARK} $(cut -d" " -f1 /proc/uptime)" > /dev/console'
[Install]
WantedBy=multi-user.target
U
systemctl enable appliance-ready.service
# A diskless appliance keeps its journal in RAM (/run/log/journal): nothing written to the NFS
# root at every boot.
mkdir -p /etc/systemd/journald.conf.d
printf '[Journal]\\nStorage=volatile\\n' > /etc/systemd/journald.conf.d/appliance.conf
rm -rf /var/log/journal
# udev's hardware database without its vendor and model name tables (PCI, USB, OUI, ACPI,
# Bluetooth: 12 of its 13 MB), which only give devices names; the input and sensor entries stay.
rm -f /usr/lib/udev/hwdb.d/20-*.hwdb
systemd-hwdb update --usr
# No disks, no package updates, no crash store, one serial console: no scrub, trim, apt or dpkg
# timers, no pstore, no getty on a VGA console, no gettys on virtual consoles at all (getty-static
# starts them with systemctl: 1.3 MB read in every boot).
systemctl disable e2scrub_reap.service e2scrub_all.timer fstrim.timer apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer systemd-pstore.service getty@tty1.service
systemctl mask getty-static.service
# No disks, device mapper, loop devices, FUSE, configfs or CPU frequency scaling in a VM
# appliance: udev and systemd load none of those drivers (its root is NFS, its hardware qemu's).
cat > /etc/modprobe.d/appliance.conf <<'M'
blacklist ata_piix
blacklist ata_generic
blacklist pata_acpi
blacklist floppy
blacklist powernow_k8
blacklist acpi_cpufreq
blacklist edac_mce_amd
M
systemctl mask modprobe@dm_mod.service modprobe@loop.service modprobe@fuse.service modprobe@configfs.service modprobe@efi_pstore.service
apt-get clean
rm -rf /var/lib/apt/lists/*
# /etc and /var are up to date with /usr: dpkg ran at install time what systemd's boot-time
# update units would (systemd-sysusers by dh_installsysusers, the journal catalog, the hwdb above).
# Say so as systemd-update-done would (Debian 12 does not ship it): /usr's timestamp as the file's
# mtime and as TIMESTAMP_NSEC, so ConditionNeedsUpdate= is false in every boot of the image rather
# than true (no .updated file) unless the root happens to be read-only. Last: nothing may touch /usr after.
for d in /etc /var; do
	printf '# Written by the appliance build in place of systemd-update-done: %s matches /usr.\nTIMESTAMP_NSEC=%s\n' "$d" "$(stat -c %.9Y /usr | tr -d .)" > "$d/.updated"
	touch -r /usr "$d/.updated"
done
`,
};

/** 16 hex digits of SHA-256 over the recipe's canonical JSON: the cache key. */
export function recipeDigest(r: ApplianceRecipe): string {
  const canonical = JSON.stringify({ suite: r.suite, mirror: r.mirror, variant: r.variant, arch: r.arch, packages: [...r.packages], configure: r.configure });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

/** debootstrap's arguments for building the recipe into `target`. */
export function debootstrapArgs(r: ApplianceRecipe, target: string): string[] {
  return [`--variant=${r.variant}`, `--arch=${r.arch}`, `--include=${r.packages.join(',')}`, r.suite, target, r.mirror];
}
