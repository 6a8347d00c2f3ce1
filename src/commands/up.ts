// `overlay up`: run a node in the foreground until SIGINT/SIGTERM or `overlay down`.
import { CliError, intOption, parseArgs, stringOption, type Command } from './command.js';
import { ConfigError, resolveNodeConfig, DEFAULT_STATE_ROOT } from '../config.js';
import { JoinError, OverlayDaemon } from '../node.js';

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
  verbose: {},
} as const;

/** After a clean stop, the process gets this long to exit on its own before it is made to. */
const EXIT_GRACE_MS = 3_000;

export const command: Command = {
  summary: 'join (or found) a network and run the node in the foreground',
  help: `usage: overlay up --network NAME [--bootstrap URL ...] [--secret FILE] [--listen PORT [--listen-host HOST]]
                  [--state DIR] [--ice URL ...] [--bind-address IP] [--port-range LOW-HIGH] [--relay-only]
                  [--dial-timeout S] [--near-per-side N] [--far-links N] [--verbose]

Runs a node of the virtual network NAME in the foreground. With --bootstrap it joins through that
member's bootstrap endpoint; without, it founds the network and waits for members. It prints its
ring address, then "joined network NAME" (or "founded network NAME"). SIGINT/SIGTERM, or
\`overlay down\` from another shell, make it leave cleanly (DHT copies handed over, links closed).

options:
  --network NAME       network name (letters, digits, . _ -); required
  --bootstrap URL      ws://HOST:PORT of a member's bootstrap endpoint; repeat for fallbacks
  --secret FILE        the network's shared secret (>= 16 bytes). Default: STATE/secret; a founder
                       without one gets a fresh random secret written there, to copy to members.
                       A peer without the right secret never gets a link.
  --listen PORT        offer a bootstrap endpoint (WebSocket) on PORT (0: any free port)
  --listen-host HOST   address for the bootstrap endpoint (default 0.0.0.0)
  --state DIR          state directory: identity key, secret, control socket
                       (default ${DEFAULT_STATE_ROOT}/NAME)
  --ice URL            STUN/TURN server: stun:HOST:PORT or turn:USER:PASS@HOST:PORT; repeatable
  --bind-address IP    gather ICE candidates on this address only (127.0.0.1 keeps traffic on loopback)
  --port-range LOW-HIGH  UDP ports for ICE
  --relay-only         use TURN relay candidates only (for symmetric NATs)
  --dial-timeout S     bound on one link setup, in seconds (default 20)
  --near-per-side N    advanced: ring neighbours linked on each side (default 3, at least 2)
  --far-links N        advanced: far links to keep (default: about log2 of the network size)
  --verbose            log link and overlay events to stderr`,

  async run(argv) {
    const args = parseArgs(argv, spec);
    if (args.positionals.length) throw new CliError(`unexpected argument '${args.positionals[0]}'`);
    const listen = args.options.listen === undefined ? undefined : intOption(args, 'listen', 0, 0, 65535);
    let config;
    try {
      config = resolveNodeConfig({
        network: stringOption(args, 'network'),
        stateDir: stringOption(args, 'state'),
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
      });
    } catch (err) {
      if (err instanceof ConfigError) throw new CliError(err.message);
      throw err;
    }
    const verbose = args.options.verbose === true;
    const say = (line: string) => console.log(`overlay: ${line}`);
    const log = verbose ? (line: string) => console.error(`overlay: ${line}`) : () => {};

    let code = 0;
    let signalled = false;
    try {
      const daemon = new OverlayDaemon(config, { say, log });
      const onSignal = (sig: string) => {
        if (signalled) return;
        signalled = true;
        say(`${sig}: leaving`);
        void daemon.stop();
      };
      process.on('SIGINT', () => onSignal('SIGINT'));
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      await daemon.start();
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
      const { shutdownWebRtc } = await import('../../overlay/link/webrtc/webrtc-connector.js');
      shutdownWebRtc();
      // libdatachannel or a stray socket must not keep a node that has left alive.
      setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
    }
    return code;
  },
};
