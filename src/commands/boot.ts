// `overlay boot`: DHCP + TFTP (+ router advertisements) for diskless VMs on one interface.
import { resolve } from 'node:path';
import { BootConfigError, BootServices, DEFAULT_LEASE_SECONDS, MIN_LEASE_SECONDS } from '../../dhcp/boot/boot-services.js';
import { AddressPoolError } from '../../dhcp/address-pool.js';
import { BindToDeviceError } from '../../dhcp/server/bind-to-device.js';
import { LeaseFileError } from '../../dhcp/server/lease-file.js';
import { RaSenderError } from '../../dhcp/ra/ra-sender.js';
import { CliError, intOption, lockStateFile, parseArgs, stringOption, type Command } from './command.js';
import { nodeSocket, targetHelp, targetSpec } from './target.js';

const spec = {
  interface: { value: true },
  dir: { value: true },
  range: { value: true },
  'lease-time': { value: true },
  'lease-file': { value: true },
  'ipxe-script': { value: true },
  'bios-file': { value: true },
  'efi-file': { value: true },
  'boot-file': { value: true },
  'root-path': { value: true },
  router: { value: true },
  dns: { value: true, repeat: true },
  'no-ra': {},
  'tftp-port': { value: true },
  'stats-interval': { value: true },
  quiet: {},
  image: { value: true },
  'image-version': { value: true },
  'image-port': { value: true },
  'image-store': { value: true },
  'image-portmap': {},
  'image-max-io': { value: true },
  ttl: { value: true },
  ...targetSpec,
} as const;

export const command: Command = {
  summary: 'serve DHCP (PXE) and TFTP to diskless VMs on one interface',
  help: `usage: overlay boot --interface IF --dir BOOTDIR [--range A-B] [--lease-time S] [--lease-file FILE]
                    [--ipxe-script FILE] [--bios-file FILE] [--efi-file FILE] [--boot-file FILE]
                    [--root-path PATH] [--router IP] [--dns IP ...] [--no-ra] [--tftp-port N]
                    [--stats-interval S] [--quiet]
                    [--image APP [--image-version V] [--image-port P] [--image-store DIR] [--image-portmap]
                            [--image-max-io BYTES]]

Runs, in the foreground, everything a diskless VM attached to interface IF (a TAP device or a
bridge) needs to network-boot:
  - a DHCP server (RFC 2131) answering only on IF: leases from --range, next-server = IF's
    address, and a boot file chosen by client type: iPXE (user class "iPXE") gets --ipxe-script,
    a legacy BIOS PXE ROM gets --bios-file, a UEFI x64 one gets --efi-file (option 93);
  - a read-only TFTP server (RFC 1350, options blksize/tsize/timeout/windowsize) over BOOTDIR on
    IF's address, port 69;
  - IPv6 router advertisements on IF, so iPXE does not wait ~12 s for IPv6 autoconfiguration.
IF must be up and carry an IPv4 address (e.g. \`ip addr add 10.0.0.1/24 dev br0\`). Needs root
(ports 67/69, raw ICMPv6; SO_BINDTODEVICE and the raw socket come from the native addon).
SIGINT/SIGTERM stop it; leases are kept in --lease-file across restarts.

options:
  --interface IF       the boot link; required. Nothing is served on any other interface.
  --dir BOOTDIR        directory served over TFTP (read-only; nothing outside it); required
  --range A-B          addresses to lease, inside IF's subnet (default: upper half of the subnet)
  --lease-time S       lease length in seconds (default ${DEFAULT_LEASE_SECONDS}; T1/T2 = 50%/87.5%)
  --lease-file FILE    lease table, rewritten atomically on every change and read at start, so
                       leases survive restarts (default: none, leases live in memory only)
  --ipxe-script FILE   boot file for iPXE clients (default boot.ipxe)
  --bios-file FILE     boot file for legacy BIOS PXE ROMs (default undionly.kpxe)
  --efi-file FILE      boot file for UEFI x64 PXE (default ipxe.efi)
  --boot-file FILE     boot file for any other client (default none)
  --root-path PATH     DHCP option 17, e.g. 10.0.0.1:/export/root for an NFS root
  --router IP          DHCP option 3 (default: none)
  --dns IP             DHCP option 6; repeat for several
  --no-ra              do not send router advertisements
  --tftp-port N        TFTP port (default 69)
  --stats-interval S   print counters every S seconds (default 0 = only at exit)
  --quiet              no per-request log lines
  --image APP          the VMs' root is appliance image APP (docs/images.md): an image mount of
                       its latest version listens on IF's address and the root path (option 17,
                       SERVER:PATH,vers=3,tcp,port=P,mountport=P) points at it; when a newer
                       version is published, the next boot gets it (a mount on the next port),
                       while VMs already running stay on theirs. Needs \`overlay up\` on this machine.
  --image-version V    boot this version, not the latest
  --image-port P       NFS/MOUNT port of the first image mount (default 2049)
  --image-store DIR    where the mounts keep state, shadow and cache
                       (default /var/lib/overlay-images/NETWORK/APP)
  --image-portmap      also run a portmapper on IF's address (port 111) that points NFSv3 and
                       MOUNTv3 at the mount, and send a plain SERVER:PATH root path: for
                       initramfs NFS clients that take no options from the root path, like
                       Debian's initramfs-tools (klibc nfsmount has no mountport=)
  --image-max-io BYTES largest READ/WRITE the mounts offer the VMs (4096-1048576, default
                       1048576). Linux reads ahead up to 15 x this on NFS, so a cold boot
                       across a wide area fetches less of each file with a smaller value
  --ttl S              life of the mounts' sharer records, refreshed every S/3 (default 120)
${targetHelp}

example:
  overlay boot --interface br0 --dir /srv/tftp --image debian-base

exit codes: 0 after a clean stop, 1 when a service cannot start, 2 for usage errors.`,

  async run(argv) {
    const args = parseArgs(argv, spec);
    if (args.positionals.length) throw new CliError(`unexpected argument '${args.positionals[0]}'`);
    const interfaceName = stringOption(args, 'interface');
    const dir = stringOption(args, 'dir');
    if (!interfaceName) throw new CliError('--interface IF is required (the TAP device or bridge the VMs are on)');
    if (!dir) throw new CliError('--dir BOOTDIR is required (the directory served over TFTP)');
    const leaseSeconds = intOption(args, 'lease-time', DEFAULT_LEASE_SECONDS, MIN_LEASE_SECONDS, 0x7fffffff);
    const tftpPort = intOption(args, 'tftp-port', 69, 1, 65535);
    const statsInterval = intOption(args, 'stats-interval', 0, 0, 86400);
    const quiet = args.options.quiet === true;
    const leaseFile = stringOption(args, 'lease-file');
    const image = stringOption(args, 'image');
    if (image !== undefined && args.options['root-path'] !== undefined) throw new CliError('give --image or --root-path, not both');
    for (const o of ['image-version', 'image-port', 'image-store', 'image-portmap', 'image-max-io', 'ttl', 'network', 'state']) {
      if (image === undefined && args.options[o] !== undefined) throw new CliError(`--${o} goes with --image`);
    }
    const imagePort = intOption(args, 'image-port', 2049, 1, 65535);
    const ttlS = intOption(args, 'ttl', 120, 3, 24 * 3600);
    const clientIoBytes = intOption(args, 'image-max-io', 1024 * 1024, 4096, 1024 * 1024);
    const imageSocket = image === undefined ? undefined : nodeSocket(args);
    let bootRoot: import('../image/image-boot-root.js').ImageBootRoot | undefined;
    // One boot service per lease file: two would hand out the same addresses.
    if (leaseFile) lockStateFile(resolve(leaseFile), '--lease-file');
    const log = (line: string) => {
      if (!quiet) console.log(`${new Date().toISOString()} ${line}`);
    };
    let services: BootServices;
    try {
      services = new BootServices({
        interfaceName,
        bootDir: dir,
        range: stringOption(args, 'range'),
        leaseSeconds,
        leaseFile: leaseFile ? resolve(leaseFile) : undefined,
        bootFiles: {
          ipxe: stringOption(args, 'ipxe-script', 'boot.ipxe'),
          bios: stringOption(args, 'bios-file', 'undionly.kpxe'),
          efi64: stringOption(args, 'efi-file', 'ipxe.efi'),
          fallback: stringOption(args, 'boot-file'),
        },
        rootPath: image === undefined ? stringOption(args, 'root-path') : () => bootRoot?.rootPath(),
        router: stringOption(args, 'router'),
        dnsServers: (args.options.dns as string[] | undefined) ?? [],
        routerAdvertisements: args.options['no-ra'] !== true,
        tftpPort,
        log,
      });
    } catch (err) {
      if (err instanceof BootConfigError || err instanceof AddressPoolError || err instanceof LeaseFileError) throw new CliError(err.message);
      throw err;
    }
    if (image !== undefined) {
      const ops = await import('../image/image-commands.js');
      try {
        bootRoot = await ops.startImageBootRoot({
          socket: imageSocket!,
          ttlMs: ttlS * 1000,
          app: image,
          version: stringOption(args, 'image-version'),
          host: services.iface.address,
          firstPort: imagePort,
          storeRoot: stringOption(args, 'image-store'),
          portmap: args.options['image-portmap'] === true,
          clientIoBytes,
          log: (line) => console.log(`${new Date().toISOString()} image: ${line}`),
        });
      } catch (e) {
        const c = ops.asCliError(e);
        throw c instanceof CliError ? c : new CliError(`cannot mount image ${image}: ${(e as Error).message}`, 1);
      }
    }
    try {
      await services.start();
    } catch (err) {
      await bootRoot?.stop();
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EACCES') throw new CliError(`cannot bind ports 67/${tftpPort}: run as root`, 1);
      if (e.code === 'EADDRINUSE') throw new CliError(`a port is already in use (another DHCP/TFTP server on this host? ${e.message})`, 1);
      if (err instanceof BindToDeviceError || err instanceof RaSenderError) throw new CliError(err.message, 1);
      throw err;
    }
    const { address, netmask } = services.iface;
    const range = services.range ? `${services.range.first}-${services.range.last}` : 'external pool';
    console.log(`boot services on ${interfaceName} (${address}/${netmask}): DHCP range ${range}, TFTP ${resolve(dir)} on ${address}:${tftpPort}` +
      `${services.ra ? ', router advertisements' : ''}`);
    console.log('ready');
    const printStats = () => console.log(`stats ${JSON.stringify(services.stats())}`);
    const statsTimer = statsInterval > 0 ? setInterval(printStats, statsInterval * 1000) : undefined;
    await new Promise<void>((done) => {
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
    });
    if (statsTimer) clearInterval(statsTimer);
    await services.close();
    await bootRoot?.stop();
    printStats();
    console.log('stopped');
    return 0;
  },
};
