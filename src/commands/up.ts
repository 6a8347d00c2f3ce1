// `overlay up`: run a node in the foreground until SIGINT/SIGTERM or `overlay down`.
import { CliError, intOption, lockStateDir, parseArgs, stringOption, type Command } from './command.js';
import { checkPortFree, checkStateDirUsable, checkTunNameFree } from './up-checks.js';
import { ConfigError, resolveNodeConfig, DEFAULT_STATE_ROOT, defaultStateDir, validateNetworkName } from '../config.js';
import { resolve } from 'node:path';
import { JoinError, OverlayDaemon, type NodeService } from '../node.js';
import { existsSync } from 'node:fs';
import { Subnet, SubnetError } from '../../dhcp/vip/subnet.js';
import { candidateOnSubnet, DEFAULT_IFNAME, DEFAULT_VNET_MTU, virtualNetworkService } from '../vnet/index.js';
import { ipv4ToInt } from '../../lib/ipv4.js';
import { MetricsAddressError, MetricsServer, parseMetricsAddress } from '../metrics/metrics-server.js';
import { nodeMetricFamilies } from '../metrics/node-metrics.js';
import { nameFromHostname, NodeNameError, validateNodeName } from '../names/node-name.js';
import { namesService } from '../names/names-service.js';
import { hostname } from 'node:os';

export const DEFAULT_SUBNET = '10.128.0.0/16';
/** Smallest TUN MTU: the IPv4 minimum every host must accept. */
export const MIN_VNET_MTU = 576;
/** Largest: one packet must fit in one datachannel message with room for the frame header. */
export const MAX_VNET_MTU = 65_000;
export const TUN_CLONE_DEVICE = '/dev/net/tun';

const spec = {
  network: { value: true },
  bootstrap: { value: true, repeat: true },
  secret: { value: true },
  listen: { value: true },
  'listen-host': { value: true },
  state: { value: true },
  ice: { value: true, repeat: true },
  'bind-address': { value: true },
  'port-range': { value: true },
  'relay-only': {},
  'dial-timeout': { value: true },
  'near-per-side': { value: true },
  'far-links': { value: true },
  subnet: { value: true },
  vip: { value: true },
  tun: { value: true },
  mtu: { value: true },
  'no-vnet': {},
  metrics: { value: true },
  'no-stun': {},
  'stun-port': { value: true },
  'relay-tunnels': { value: true },
  'relay-rate': { value: true },
  'relay-burst': { value: true },
  name: { value: true },
  verbose: {},
} as const;

interface VnetChoice {
  subnet: Subnet;
  vip?: string;
  ifname: string;
  mtu: number;
}

/** Validates the virtual network options up front (before any socket or device is opened). */
export function resolveVnetOptions(o: { subnet?: string; vip?: string; tun?: string; mtu?: number; noVnet: boolean }): VnetChoice | undefined {
  if (o.noVnet) {
    if (o.subnet !== undefined || o.vip !== undefined || o.tun !== undefined || o.mtu !== undefined) throw new CliError('--no-vnet excludes --subnet, --vip, --tun and --mtu');
    return undefined;
  }
  let subnet: Subnet;
  try {
    subnet = Subnet.parse(o.subnet ?? DEFAULT_SUBNET);
  } catch (err) {
    if (err instanceof SubnetError) throw new CliError(`bad --subnet '${o.subnet}': ${err.message}`);
    throw err;
  }
  if (o.vip !== undefined) {
    let v: number;
    try {
      v = ipv4ToInt(o.vip);
    } catch {
      throw new CliError(`bad --vip '${o.vip}' (want A.B.C.D)`);
    }
    if (((v & subnet.mask) >>> 0) !== subnet.base) throw new CliError(`--vip ${o.vip} is not inside --subnet ${subnet.toString()}`);
  }
  const ifname = o.tun ?? DEFAULT_IFNAME;
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(ifname)) throw new CliError(`bad --tun '${ifname}' (1-15 characters from A-Z a-z 0-9 _ . -)`);
  const mtu = o.mtu ?? DEFAULT_VNET_MTU;
  return { subnet, ...(o.vip !== undefined ? { vip: o.vip } : {}), ifname, mtu };
}

/** The TUN needs root (CAP_NET_ADMIN) and the tun driver; say so before joining, not after. */
function checkTunAvailable(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new CliError('the virtual network needs root (CAP_NET_ADMIN) to create its TUN device; run as root, or pass --no-vnet to run the overlay only');
  }
  if (!existsSync(TUN_CLONE_DEVICE)) {
    throw new CliError(`${TUN_CLONE_DEVICE} does not exist (no tun driver: modprobe tun); or pass --no-vnet to run the overlay only`);
  }
}

/** A decimal option (e.g. MiB/s); range checks are the config's. */
function numberOption(v: unknown, name: string, key: string): Record<string, number> {
  if (v === undefined) return {};
  if (typeof v !== 'string' || !/^\d+(\.\d+)?$/.test(v)) throw new CliError(`bad ${name} '${String(v)}' (want a number)`);
  return { [key]: Number(v) };
}

/** After a clean stop, the process gets this long to exit on its own before it is made to. */
const EXIT_GRACE_MS = 3_000;

export const command: Command = {
  summary: 'join (or found) a network and run the node in the foreground',
  help: `usage: overlay up --network NAME [--bootstrap URL ...] [--secret FILE] [--listen PORT [--listen-host HOST]]
                  [--state DIR] [--ice URL ...] [--bind-address IP] [--port-range LOW-HIGH] [--relay-only]
                  [--dial-timeout S] [--near-per-side N] [--far-links N] [--verbose]
                  [--subnet CIDR] [--vip A.B.C.D] [--tun NAME] [--mtu N] [--no-vnet] [--name NAME] [--metrics [ADDR:]PORT]
                  [--no-stun | --stun-port PORT] [--relay-tunnels N] [--relay-rate MIB] [--relay-burst MIB]

Runs a node of the virtual network NAME in the foreground. With --bootstrap it joins through that
member's bootstrap endpoint; without, it founds the network and waits for members. It prints its
ring address, then "joined network NAME" (or "founded network NAME"). Then, unless --no-vnet, it leases
a virtual IP from the network's DHT, brings up a TUN device with it and prints "virtual IP A.B.C.D on TUN
NAME"; IP packets to other members' virtual IPs travel over the overlay. Needs root and /dev/net/tun. SIGINT/SIGTERM, or
\`overlay down\` from another shell, make it leave cleanly (DHT copies handed over, links closed).

options:
  --network NAME       network name (letters, digits, . _ -); required
  --bootstrap URL      ws://HOST:PORT of a member's bootstrap endpoint; repeat for fallbacks
  --secret FILE        the network's shared secret (>= 16 bytes). Default: STATE/secret; a founder
                       without one gets a fresh random secret written there, to copy to members.
                       A peer without the right secret never gets a link.
  --listen PORT        offer a bootstrap endpoint (WebSocket) on PORT (0: any free port)
  --listen-host HOST   address for the bootstrap endpoint (default 0.0.0.0)
  --stun-port PORT     with --listen, the built-in STUN server's UDP port (default: the --listen port).
                       Joiners learn it from the endpoint and link directly across NATs without --ice
  --no-stun            with --listen, run no STUN server
  --state DIR          state directory: identity key, secret, control socket
                       (default ${DEFAULT_STATE_ROOT}/NAME)
  --ice URL            STUN/TURN server: stun:HOST:PORT or turn:USER:PASS@HOST:PORT; repeatable
  --bind-address IP    gather ICE candidates on this address only (127.0.0.1 keeps traffic on loopback)
  --port-range LOW-HIGH  UDP ports for ICE
  --relay-only         use TURN relay candidates only (for symmetric NATs)
  --dial-timeout S     bound on one link setup, in seconds (default 20)
  --near-per-side N    advanced: ring neighbours linked on each side (default 3, at least 2)
  --far-links N        advanced: far links to keep (default: about log2 of the network size)
  --subnet CIDR        the virtual network's IPv4 subnet (default ${DEFAULT_SUBNET}); every member must use the same
  --vip A.B.C.D        virtual IP to ask for first (default: the one held last time, else a random free one)
  --tun NAME           TUN device name (default ${DEFAULT_IFNAME})
  --mtu N              TUN MTU in bytes, ${MIN_VNET_MTU}..${MAX_VNET_MTU} (default ${DEFAULT_VNET_MTU})
  --no-vnet            run the overlay only: no TUN, no virtual IP (no root needed)
  --name NAME          a short name other members' status shows for this node (letters, digits, -;
                       default: this machine's host name)
  --metrics [ADDR:]PORT  serve Prometheus metrics (the counters of \`overlay status --json\`) at
                       http://ADDR:PORT/metrics; ADDR defaults to 127.0.0.1 (this machine only)
  --relay-tunnels N    relay edges this node carries for others at once (default 32; 0: none)
  --relay-rate MIB     bytes per second per relay edge carried, in MiB/s (default 8, i.e. 64 Mbit/s)
  --relay-burst MIB    burst allowance per relay edge carried, in MiB (default 1)
  --verbose            log link and overlay events to stderr

Before it joins or writes anything it checks the TUN name, the ports, the state directory and the
secret. A bootstrap endpoint that refuses is given up after 3 attempts (about 3 s), an unknown host
or one that never answers after 2 (about 11 s); each attempt is printed (docs/node.md).

examples:
  overlay up --network lab --listen 7000
      found network lab; the secret is written to ${DEFAULT_STATE_ROOT}/lab/secret: copy it to members
  overlay up --network lab --bootstrap ws://203.0.113.7:7000 --secret /etc/overlay/lab.secret
  overlay up --network lab --bootstrap ws://203.0.113.7:7000 --secret lab.secret --tun ovl1 --metrics 9100`,

  async run(argv) {
    const args = parseArgs(argv, spec);
    if (args.positionals.length) throw new CliError(`unexpected argument '${args.positionals[0]}'`);
    const listen = args.options.listen === undefined ? undefined : intOption(args, 'listen', 0, 0, 65535);
    const vnetChoice = resolveVnetOptions({
      subnet: stringOption(args, 'subnet'),
      vip: stringOption(args, 'vip'),
      tun: stringOption(args, 'tun'),
      mtu: args.options.mtu === undefined ? undefined : intOption(args, 'mtu', DEFAULT_VNET_MTU, MIN_VNET_MTU, MAX_VNET_MTU),
      noVnet: args.options['no-vnet'] === true,
    });
    // Everything that can be checked is checked before the network or the disk is touched (issue 14
    // item 5): options, TUN, state directory, secret, ports; only then the lock, secret and identity.
    if (vnetChoice) {
      checkTunAvailable();
      checkTunNameFree(vnetChoice.ifname);
    }
    let stateDir: string;
    let config;
    try {
      stateDir = resolve(stringOption(args, 'state') ?? defaultStateDir(validateNetworkName(stringOption(args, 'network'))));
      checkStateDirUsable(stateDir, '--state');
      config = resolveNodeConfig({
        network: stringOption(args, 'network'),
        stateDir,
        secretFile: stringOption(args, 'secret'),
        bootstrap: (args.options.bootstrap as string[] | undefined) ?? [],
        listenPort: listen,
        listenHost: stringOption(args, 'listen-host'),
        ice: (args.options.ice as string[] | undefined) ?? [],
        bindAddress: stringOption(args, 'bind-address'),
        portRange: stringOption(args, 'port-range'),
        relayOnly: args.options['relay-only'] === true,
        dialTimeoutMs: intOption(args, 'dial-timeout', 20, 1, 600) * 1000,
        nearPerSide: args.options['near-per-side'] === undefined ? undefined : intOption(args, 'near-per-side', 3, 2, 16),
        farLinks: args.options['far-links'] === undefined ? undefined : intOption(args, 'far-links', 0, 0, 64),
        stun: args.options['no-stun'] !== true,
        ...(args.options['stun-port'] !== undefined ? { stunPort: intOption(args, 'stun-port', 0, 1, 65535) } : {}),
        ...(args.options['relay-tunnels'] !== undefined ? { relayTunnels: intOption(args, 'relay-tunnels', 32, 0, 1024) } : {}),
        ...numberOption(args.options['relay-rate'], '--relay-rate', 'relayRateMiB'),
        ...numberOption(args.options['relay-burst'], '--relay-burst', 'relayBurstMiB'),
      });
    } catch (err) {
      if (err instanceof ConfigError) throw new CliError(err.message);
      throw err;
    }
    let nodeName: string | undefined;
    try {
      const given = stringOption(args, 'name');
      nodeName = given === undefined ? nameFromHostname(hostname()) : validateNodeName(given);
    } catch (err) {
      if (err instanceof NodeNameError) throw new CliError(err.message);
      throw err;
    }
    let metricsAt: { host: string; port: number } | undefined;
    try {
      const spec = stringOption(args, 'metrics');
      if (spec !== undefined) metricsAt = parseMetricsAddress(spec);
    } catch (err) {
      if (err instanceof MetricsAddressError) throw new CliError(err.message);
      throw err;
    }
    if (config.listen) await checkPortFree(config.listen.host, config.listen.port, '--listen');
    if (config.listen && config.stun) await checkPortFree(config.listen.host, config.stun.port ?? config.listen.port, config.stun.port ? '--stun-port' : 'the STUN server on --listen', 'udp');
    if (metricsAt) await checkPortFree(metricsAt.host, metricsAt.port, '--metrics');
    // One node per state directory (identity, secret, control socket): locked before anything is written there.
    lockStateDir(stateDir, '--state');
    const verbose = args.options.verbose === true;
    const say = (line: string) => console.log(`overlay: ${line}`);
    const log = verbose ? (line: string) => console.error(`overlay: ${line}`) : () => {};

    let code = 0;
    let signalled = false;
    let metrics: MetricsServer | undefined;
    try {
      const vnet = vnetChoice
        ? virtualNetworkService({ subnet: vnetChoice.subnet.toString(), ifname: vnetChoice.ifname, mtu: vnetChoice.mtu, ...(vnetChoice.vip ? { preferredVip: vnetChoice.vip } : {}) })
        : undefined;
      const services: NodeService[] = [...(vnet ? [vnet] : []), namesService(nodeName)];
      const subnet = vnetChoice?.subnet;
      const daemon = new OverlayDaemon(config, {
        say,
        log,
        services,
        ...(subnet ? { dropCandidate: (c: string) => candidateOnSubnet(c, subnet) } : {}),
      });
      const onSignal = (sig: string) => {
        if (signalled) return;
        signalled = true;
        say(`${sig}: leaving`);
        void daemon.stop();
      };
      process.on('SIGINT', () => onSignal('SIGINT'));
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      if (metricsAt) {
        metrics = await MetricsServer.listen(metricsAt.host, metricsAt.port, () => nodeMetricFamilies(daemon.status()));
        say(`metrics on ${metrics.url}`);
      }
      await daemon.start();
      if (vnet?.vnet) say(`virtual IP ${vnet.vnet.vip} on TUN ${vnet.vnet.status().ifname} (subnet ${vnetChoice!.subnet.toString()})`);
      await daemon.stopped;
      say(`left network ${config.network}`);
    } catch (err) {
      if (err instanceof JoinError) {
        console.error(`overlay up: ${err.message}`);
        code = 1;
      } else if (err instanceof Error && /Error$/.test(err.name) && err.name !== 'Error') {
        console.error(`overlay up: ${err.name}: ${err.message}`);
        code = 1;
      } else {
        throw err;
      }
    } finally {
      await metrics?.close();
      const { shutdownWebRtc } = await import('../../overlay/link/webrtc/webrtc-connector.js');
      shutdownWebRtc();
      // libdatachannel or a stray socket must not keep a node that has left alive.
      setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
    }
    return code;
  },
};
