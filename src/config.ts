// Node configuration from `overlay up` arguments: validated once, up front, so every mistake is a
// ConfigError naming the option and the fix, before any socket is opened.
import { chmodSync, closeSync, constants, existsSync, fstatSync, openSync, readSync, renameSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { validateIceUrl, IceConfigError } from '../overlay/link/webrtc/ice-config.js';
import { parseBootstrapUrl, BootstrapError } from '../overlay/bootstrap/errors.js';
import { makeDirectory } from '../lib/make-directory.js';
import { CodedError } from '../lib/coded-error.js';
import type { RelayOptions } from '../overlay/relay/relay-service.js';

export const DEFAULT_STATE_ROOT = '/var/lib/overlay';
export const SECRET_FILE_NAME = 'secret';
/** A shared secret shorter than this is too easy to guess offline from a recorded handshake. */
export const SECRET_MIN_BYTES = 16;
export const SECRET_MAX_BYTES = 4096;
export const GENERATED_SECRET_BYTES = 32;
export const DEFAULT_LISTEN_HOST = '0.0.0.0';

export class ConfigError extends CodedError<'invalid'> {}

export interface NodeConfig {
  network: string;
  stateDir: string;
  secret: Uint8Array;
  /** Where the secret came from (a path), for messages; never the secret itself. */
  secretSource: string;
  /** True when the secret was generated now (a founder without --secret); saveGeneratedSecret writes it to secretSource. */
  secretGenerated: boolean;
  bootstrap: string[];
  listen?: { host: string; port: number };
  iceServers: string[];
  bindAddress?: string;
  portRange?: { begin: number; end: number };
  iceTransportPolicy: 'all' | 'relay';
  dialTimeoutMs: number;
  /** Overlay tuning from the command line (advanced; defaults in overlay/node/options.ts). */
  overlay: { nearPerSide?: number; farLinks?: number };
  /**
   * The built-in STUN server of a node with a bootstrap endpoint: UDP on the listen host, at `port`
   * (undefined: the bootstrap endpoint's port). Absent without --listen, or with --no-stun.
   */
  stun?: { port?: number };
  /** Limits of the relay edges this node carries for others (defaults in overlay/relay/). */
  relay: Partial<RelayOptions>;
}

export const MIB = 1024 * 1024;
/** Bounds of the relay options: below them a relay is useless, above them a node gives its uplink away. */
export const RELAY_TUNNELS_MAX = 1024;
export const RELAY_RATE_MAX_MIB = 1024;

/** What `overlay up` passes in (already split into typed fields by the command). */
export interface NodeConfigInput {
  network?: string;
  stateDir?: string;
  secretFile?: string;
  bootstrap?: string[];
  listenPort?: number;
  listenHost?: string;
  ice?: string[];
  bindAddress?: string;
  portRange?: string;
  relayOnly?: boolean;
  dialTimeoutMs?: number;
  nearPerSide?: number;
  farLinks?: number;
  /** False: no STUN server even with --listen. */
  stun?: boolean;
  stunPort?: number;
  relayTunnels?: number;
  /** MiB/s per tunnel (fractions allowed). */
  relayRateMiB?: number;
  relayBurstMiB?: number;
}

export function validateNetworkName(name: string | undefined): string {
  if (!name) throw new ConfigError('invalid', '--network NAME is required');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
    throw new ConfigError('invalid', `bad network name '${name}': 1-64 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit`);
  }
  return name;
}

export function defaultStateDir(network: string): string {
  return join(DEFAULT_STATE_ROOT, network);
}

/**
 * Reads a secret file: raw bytes, trailing whitespace (a newline from an editor) ignored. Only a
 * regular file, opened without blocking (a FIFO) and read to at most SECRET_MAX_BYTES + 1 bytes
 * (`--secret /dev/zero` used to read without end).
 */
export function loadSecret(path: string): Uint8Array {
  const raw = Buffer.alloc(SECRET_MAX_BYTES + 1);
  let got = 0;
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    if (!fstatSync(fd).isFile()) throw new ConfigError('invalid', `secret file ${path} is not a regular file`);
    for (let n = -1; n !== 0 && got < raw.length; got += n) n = readSync(fd, raw, got, raw.length - got, null);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError('invalid', code === 'ENOENT' ? `secret file ${path} does not exist` : `cannot read secret file ${path}: ${(err as Error).message}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (got > SECRET_MAX_BYTES) throw new ConfigError('invalid', `secret file ${path} is larger than ${SECRET_MAX_BYTES} bytes`);
  let end = got;
  while (end > 0 && /\s/.test(String.fromCharCode(raw[end - 1]!))) end--;
  const secret = new Uint8Array(raw.subarray(0, end));
  if (secret.length < SECRET_MIN_BYTES) throw new ConfigError('invalid', `secret file ${path} holds ${secret.length} bytes; at least ${SECRET_MIN_BYTES} are needed`);
  return secret;
}

/** A fresh random secret as `overlay up` writes it: hex text (what loadSecret returns for that file). */
function newSecret(): Uint8Array {
  return new TextEncoder().encode(randomBytes(GENERATED_SECRET_BYTES).toString('hex'));
}

/**
 * Writes a founder's generated secret (config.secretGenerated) to its file, mode 0600, atomically;
 * nothing for a secret that came from a file. Kept apart from resolveNodeConfig, which only reads, so
 * `up` can check everything before it writes anything (issue 14 item 5).
 */
export function saveGeneratedSecret(config: NodeConfig): void {
  if (!config.secretGenerated || existsSync(config.secretSource)) return;
  makeDirectory(dirname(config.secretSource), 0o700);
  const tmp = `${config.secretSource}.${process.pid}.tmp`;
  writeFileSync(tmp, Buffer.concat([config.secret, Buffer.from('\n')]), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, config.secretSource);
}

function parsePortRange(spec: string): { begin: number; end: number } {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(spec);
  const begin = Number(m?.[1]);
  const end = Number(m?.[2]);
  if (!m || begin < 1 || end > 65535 || begin > end) throw new ConfigError('invalid', `bad --port-range '${spec}' (want LOW-HIGH within 1-65535)`);
  return { begin, end };
}

function relayLimits(input: NodeConfigInput): Partial<RelayOptions> {
  const relay: Partial<RelayOptions> = {};
  if (input.relayTunnels !== undefined) {
    if (!Number.isInteger(input.relayTunnels) || input.relayTunnels < 0 || input.relayTunnels > RELAY_TUNNELS_MAX) throw new ConfigError('invalid', `--relay-tunnels must be an integer in 0..${RELAY_TUNNELS_MAX} (0: carry no relay edges)`);
    relay.maxTunnels = input.relayTunnels;
  }
  if (input.relayRateMiB !== undefined) {
    if (!(input.relayRateMiB >= 0.0625 && input.relayRateMiB <= RELAY_RATE_MAX_MIB)) throw new ConfigError('invalid', `--relay-rate must be 0.0625..${RELAY_RATE_MAX_MIB} MiB/s per tunnel`);
    relay.tunnelBytesPerSecond = Math.round(input.relayRateMiB * MIB);
  }
  if (input.relayBurstMiB !== undefined) {
    if (!(input.relayBurstMiB >= 0.0625 && input.relayBurstMiB <= RELAY_RATE_MAX_MIB)) throw new ConfigError('invalid', `--relay-burst must be 0.0625..${RELAY_RATE_MAX_MIB} MiB`);
    relay.tunnelBurstBytes = Math.round(input.relayBurstMiB * MIB);
  }
  return relay;
}

export function resolveNodeConfig(input: NodeConfigInput): NodeConfig {
  const network = validateNetworkName(input.network);
  const stateDir = resolve(input.stateDir ?? defaultStateDir(network));
  const bootstrap = input.bootstrap ?? [];
  for (const url of bootstrap) {
    try {
      parseBootstrapUrl(url);
    } catch (err) {
      if (err instanceof BootstrapError) throw new ConfigError('invalid', err.message);
      throw err;
    }
  }
  const iceServers = (input.ice ?? []).map((url) => {
    try {
      return validateIceUrl(url);
    } catch (err) {
      if (err instanceof IceConfigError) throw new ConfigError('invalid', err.message);
      throw err;
    }
  });
  if (input.listenPort !== undefined && (!Number.isInteger(input.listenPort) || input.listenPort < 0 || input.listenPort > 65535)) {
    throw new ConfigError('invalid', `bad --listen port '${input.listenPort}'`);
  }
  if (input.listenHost !== undefined && input.listenPort === undefined) throw new ConfigError('invalid', '--listen-host needs --listen PORT');
  if (input.bindAddress !== undefined && isIP(input.bindAddress) === 0) {
    throw new ConfigError('invalid', `bad --bind-address '${input.bindAddress}' (want an IP address)`);
  }
  if (input.listenHost !== undefined && isIP(input.listenHost) === 0) {
    throw new ConfigError('invalid', `bad --listen-host '${input.listenHost}' (want an IP address)`);
  }

  if (input.stunPort !== undefined) {
    if (input.listenPort === undefined) throw new ConfigError('invalid', '--stun-port needs --listen PORT (the STUN server runs beside the bootstrap endpoint)');
    if (input.stun === false) throw new ConfigError('invalid', '--stun-port and --no-stun exclude each other');
    if (!Number.isInteger(input.stunPort) || input.stunPort < 1 || input.stunPort > 65535) throw new ConfigError('invalid', `bad --stun-port '${input.stunPort}' (1-65535)`);
  }
  const relay = relayLimits(input);

  let secret: Uint8Array;
  let secretSource: string;
  let secretGenerated = false;
  const stored = join(stateDir, SECRET_FILE_NAME);
  if (input.secretFile !== undefined) {
    secretSource = resolve(input.secretFile);
    secret = loadSecret(secretSource);
  } else if (existsSync(stored)) {
    secretSource = stored;
    secret = loadSecret(stored);
  } else if (bootstrap.length === 0) {
    // Generated here, written by saveGeneratedSecret (the node does when it is built).
    secretSource = stored;
    secret = newSecret();
    secretGenerated = true;
  } else {
    throw new ConfigError('invalid', `joining network '${network}' needs its secret: give --secret FILE (a copy of the founder's ${SECRET_FILE_NAME} file)`);
  }

  const config: NodeConfig = {
    network,
    stateDir,
    secret,
    secretSource,
    secretGenerated,
    bootstrap,
    iceServers,
    iceTransportPolicy: input.relayOnly ? 'relay' : 'all',
    dialTimeoutMs: input.dialTimeoutMs ?? 20_000,
    overlay: {},
    relay,
  };
  if (input.listenPort !== undefined && input.stun !== false) config.stun = input.stunPort !== undefined ? { port: input.stunPort } : {};
  if (input.nearPerSide !== undefined) {
    if (!Number.isInteger(input.nearPerSide) || input.nearPerSide < 2 || input.nearPerSide > 16) throw new ConfigError('invalid', '--near-per-side must be an integer in 2..16');
    config.overlay.nearPerSide = input.nearPerSide;
  }
  if (input.farLinks !== undefined) {
    if (!Number.isInteger(input.farLinks) || input.farLinks < 0 || input.farLinks > 64) throw new ConfigError('invalid', '--far-links must be an integer in 0..64');
    config.overlay.farLinks = input.farLinks;
  }
  if (input.listenPort !== undefined) config.listen = { host: input.listenHost ?? DEFAULT_LISTEN_HOST, port: input.listenPort };
  if (input.bindAddress !== undefined) config.bindAddress = input.bindAddress;
  if (input.portRange !== undefined) config.portRange = parsePortRange(input.portRange);
  return config;
}
