#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian 12 machine (as root), builds what changed
# (scripts/build.sh) and puts the `overlay` command on PATH (scripts/install-command.sh).
# Idempotent: skips apt when every package is present and npm ci when node_modules matches the lock.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: real peers the tests talk to (NFS server/client, STUN/TURN, DHCP/TFTP clients,
# qemu + iPXE for PXE boots, NAT tooling, libnetfilter-queue for the netns harness's wide-area
# delay helper, debootstrap for npm run appliance:build, ganesha's PROXY_V4 peer for bench:rowfs, the
# Prometheus client's parser for the metrics test, matplotlib for npm run plot) and the toolchain for
# the TUN addon (and the static guest program of bench:rowfs's kernel-client phase).
APT_PACKAGES=(
  build-essential python3 iproute2 iptables conntrack kmod cpio
  nfs-ganesha nfs-ganesha-vfs nfs-ganesha-proxy-v4 rpcbind libnfs-utils
  coturn iperf3 wireguard-go wireguard-tools iputils-ping
  udhcpc isc-dhcp-client tftp-hpa tftpd-hpa atftp dnsmasq-base
  qemu-system-x86 qemu-utils ipxe-qemu busybox-static linux-image-amd64
  libnetfilter-queue-dev debootstrap python3-prometheus-client python3-matplotlib
)
# One dpkg-query for the whole list (one per package took 6.4 s on a loaded machine, this 0.3 s).
# It exits 1 when any package was never installed: on a fresh machine that is the normal case, so
# its status must not end the script (set -e with pipefail did, silently, before anything was
# installed).
installed=" $( { dpkg-query -W -f='${Package}:${Status}\n' "${APT_PACKAGES[@]}" 2>/dev/null || true; } | sed -n 's/:install ok installed$//p' | tr '\n' ' ') "
missing=()
for p in "${APT_PACKAGES[@]}"; do
  [[ "$installed" == *" $p "* ]] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "setup: missing packages (${missing[*]}) and not root: install them first" >&2; exit 1; fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.setup-lock 2>/dev/null; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
  cp package-lock.json node_modules/.setup-lock
fi
# npm ci builds the native addons (package.json "install"); rebuild them if build/ was removed or lacks one.
{ [ -f build/Release/tun.node ] && [ -f build/Release/bootnet.node ] && [ -f build/Release/rowfssplice.node ] && [ -f build/Release/rowfsmemory.node ]; } || npm run install
bash scripts/build.sh
bash scripts/install-command.sh
