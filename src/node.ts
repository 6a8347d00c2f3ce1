// A running node: the composition of identity, config, the WebRTC connector, the overlay, the
// bootstrap endpoint, the local control socket, and pluggable services (the virtual network:
// TUN + DHT-backed DHCP + IP forwarder, added by src/vnet/, plugs in as a NodeService).
//
//   start:  identity (state dir) -> connector -> overlay.start -> bootstrap endpoint (--listen)
//           -> control socket -> join through --bootstrap (or found) -> services, in order
//   stop:   services in reverse -> control socket -> bootstrap endpoint -> overlay.stop (hands DHT
//           copies to neighbours, closes links) -> connector; idempotent, every step bounded
import { DhtConflictError, type Overlay, type OverlayStatus } from '../overlay/api.js';
import { sleep, systemClock, type Clock, type Timer } from '../lib/clock.js';
import { cryptoRandom } from '../lib/random.js';
import { addressOfKey, Identity } from '../overlay/identity.js';
import type { RingAddress } from '../overlay/ring/ring.js';
import { OverlayNode } from '../overlay/node/overlay-node.js';
import { defaultOverlayOptions, type OverlayOptions } from '../overlay/node/options.js';
import { WebRtcConnector } from '../overlay/link/webrtc/webrtc-connector.js';
import { networkKey } from '../overlay/handshake/transcript.js';
import { LinkDialError } from '../overlay/link/webrtc/errors.js';
import { BootstrapServer } from '../overlay/bootstrap/server.js';
import { dialViaBootstrap } from '../overlay/bootstrap/client.js';
import { BootstrapError } from '../overlay/bootstrap/errors.js';
import { saveGeneratedSecret, type NodeConfig } from './config.js';
import { BOOTSTRAP_ATTEMPTS, BOOTSTRAP_CONNECT_TIMEOUT_MS, bootstrapBackoffMs, classifyBootstrapFailure, type BootstrapFailure } from './bootstrap-retry.js';
import { ControlServer } from './control/server.js';
import { CONTROL_SOCKET_NAME, IMAGE_ANNOUNCE_MAX, type ControlRequest } from './control/protocol.js';
import { LocalImages, type LocalImage } from './image/local-images.js';
import { join } from 'node:path';
import { CodedError } from '../lib/coded-error.js';
import { OverlayPinger, type PingResult } from './overlay-ping.js';
import { NodeStun, type NodeStunStatus } from './node-stun.js';

/** Routed-message tag of `overlay ping` (user tags start at 16; 16 is the IP forwarder's). */
/** An isolated node (no links at all) retries its bootstrap endpoints this often. */
export const REJOIN_CHECK_MS = 15_000;
export const SERVICE_STOP_TIMEOUT_MS = 10_000;

/** What a service sees of the node. */
export interface NodeContext {
  readonly config: NodeConfig;
  readonly identity: Identity;
  /** The overlay, plus `onData` for packets arriving on direct links' data channels (the IP forwarder). */
  readonly overlay: Overlay & Pick<OverlayNode, 'onData'>;
  readonly clock: Clock;
  log(line: string): void;
}

/** Something the node runs once it is part of the network (e.g. the virtual network device). */
export interface NodeService {
  readonly name: string;
  /** Called once the node has joined (or founded) the network. */
  start(ctx: NodeContext): Promise<void>;
  /** Called on `down`, in reverse start order; must release what it holds (leases, devices). */
  stop(): Promise<void>;
  /** Extra fields for `overlay status` under `services.<name>`. */
  status?(): unknown;
  /** The ring address of the node holding virtual IP `vip` (the virtual network answers; `overlay ping A.B.C.D`). */
  ownerOfVip?(vip: string): Promise<RingAddress | undefined>;
  /** Short names of these nodes (ring addresses, hex) that have one (the names service answers; `overlay status`). */
  peerNames?(addresses: string[]): Promise<Record<string, string>>;
}

/** The node's refusal to go on: a join was refused, or every bootstrap endpoint failed. */
export class JoinError extends CodedError<'refused' | 'failed'> {
  constructor(
    message: string,
    readonly refused: boolean,
  ) {
    super(refused ? 'refused' : 'failed', message);
  }
}

export interface NodeStartOptions {
  services?: NodeService[];
  overlayOptions?: Partial<OverlayOptions>;
  /** ICE candidates the connector must ignore (`overlay up` passes "on the virtual subnet"). */
  dropCandidate?: (candidate: string) => boolean;
  /** Progress lines meant for the user (address, joined, ...). */
  say?: (line: string) => void;
  /** Diagnostic lines. */
  log?: (line: string) => void;
}

export interface NodeStatus extends OverlayStatus, NodeStunStatus {
  network: string;
  /** This node's Ed25519 public key (hex): the owner of every DHT value it writes. */
  publicKey: string;
  images: LocalImage[];
  stateDir: string;
  joined: boolean;
  uptimeS: number;
  bootstrap?: { url: string; counters: Record<string, number> };
  /** The ICE servers new links use (configured with --ice, or learned from members). */
  iceServers: string[];
  connector: Record<string, number>;
  services: Record<string, unknown>;
}

export class OverlayDaemon {
  readonly identity: Identity;
  readonly overlay: OverlayNode;
  readonly connector: WebRtcConnector;
  private bootstrapServer?: BootstrapServer;
  /** The STUN server beside the bootstrap endpoint, and members' adverts of theirs. */
  private readonly stun: NodeStun;
  private control?: ControlServer;
  private readonly services: NodeService[];
  private readonly startedServices: NodeService[] = [];
  private readonly clock: Clock = systemClock;
  private readonly startedAt = Date.now();
  private rejoinTimer?: Timer;
  private rejoining = false;
  private joinedFlag = false;
  private stopping?: Promise<void>;
  private pinger!: OverlayPinger;
  /** Image processes on this machine, by id (each re-announces itself before `expiresAt`). */
  private readonly images = new LocalImages(IMAGE_ANNOUNCE_MAX);
  private resolveStopped!: () => void;
  private resolveStopRequested!: () => void;
  /** Resolves when stop() is first called: waits inside start() race against it. */
  private readonly stopRequested = new Promise<void>((r) => (this.resolveStopRequested = r));
  /** Resolves once the node has stopped (by `down`, a signal, or a failed join). */
  readonly stopped = new Promise<void>((r) => (this.resolveStopped = r));
  private readonly say: (line: string) => void;
  private readonly log: (line: string) => void;

  /** Builds the node (identity loaded, nothing listening yet); `start()` brings it up. */
  constructor(
    readonly config: NodeConfig,
    o: NodeStartOptions = {},
  ) {
    this.say = o.say ?? (() => {});
    this.log = o.log ?? (() => {});
    this.services = o.services ?? [];
    saveGeneratedSecret(config);
    this.identity = Identity.loadOrCreate(config.stateDir);
    this.connector = new WebRtcConnector({
      identity: this.identity,
      network: config.network,
      secret: config.secret,
      clock: this.clock,
      random: cryptoRandom,
      iceServers: config.iceServers,
      ...(config.bindAddress ? { bindAddress: config.bindAddress } : {}),
      ...(config.portRange ? { portRange: config.portRange } : {}),
      iceTransportPolicy: config.iceTransportPolicy,
      dialTimeoutMs: config.dialTimeoutMs,
      ...(o.dropCandidate ? { dropCandidate: o.dropCandidate } : {}),
      log: this.log,
    });
    this.overlay = new OverlayNode(
      { identity: this.identity, clock: this.clock, random: cryptoRandom, connector: this.connector, relay: { network: config.network, networkKey: networkKey(config.secret, config.network), options: config.relay }, log: this.log },
      {
        ...config.overlay,
        ...o.overlayOptions,
        // DHT versions start at wall-clock time, so a restarted owner's first write is newer than its last.
        dht: { ...defaultOverlayOptions.dht, seqEpochMs: Date.now(), ...o.overlayOptions?.dht },
      },
    );
    this.stun = new NodeStun({ config, connector: this.connector, clock: this.clock, dropCandidate: o.dropCandidate, say: this.say, log: this.log });
  }

  /** Builds and starts a node (see `start`). */
  static async start(config: NodeConfig, o: NodeStartOptions = {}): Promise<OverlayDaemon> {
    const d = new OverlayDaemon(config, o);
    await d.start();
    return d;
  }

  /**
   * Resolves once the node has joined (or founded) the network and its services run. On failure the
   * node is stopped and the error thrown; a `stop()` while starting ends the start quietly.
   */
  async start(): Promise<void> {
    try {
      await this.boot();
    } catch (err) {
      const stoppedMeanwhile = this.stopping !== undefined;
      await this.stop();
      if (!stoppedMeanwhile) throw err;
    }
  }

  get address(): RingAddress {
    return this.identity.address;
  }

  get controlSocketPath(): string {
    return join(this.config.stateDir, CONTROL_SOCKET_NAME);
  }

  private async boot(): Promise<void> {
    const c = this.config;
    this.say(`node ${this.identity.addressHex} network ${c.network} state ${c.stateDir}`);
    if (c.secretGenerated) this.say(`generated the network secret in ${c.secretSource}: copy it to every member (--secret FILE)`);
    this.pinger = new OverlayPinger(this.overlay, this.clock);
    this.overlay.start();
    if (c.listen) {
      this.bootstrapServer = await BootstrapServer.listen({
        host: c.listen.host,
        port: c.listen.port,
        network: c.network,
        address: this.identity.address,
        connector: this.connector,
        clock: this.clock,
        log: this.log,
        onClient: (address) => this.overlay.expectNewcomer(address),
      });
      this.say(`bootstrap endpoint listening on ${c.listen.host}:${this.bootstrapServer.port}`);
      if (c.stun) await this.stun.listen(c.listen.host, c.stun.port ?? this.bootstrapServer.port, this.bootstrapServer);
    }
    this.control = await ControlServer.listen(this.controlSocketPath, (req) => this.handle(req), this.log);
    if (c.bootstrap.length > 0) {
      const via = await this.joinThroughBootstrap();
      if (this.stopping) return;
      this.say(`joined network ${c.network} via ${via}`);
      this.rejoinTimer = this.clock.setInterval(() => void this.rejoinIfIsolated(), REJOIN_CHECK_MS);
    } else {
      this.say(`founded network ${c.network}; waiting for members`);
    }
    this.joinedFlag = true;
    this.stun.startDirectory(this.overlay.dht, this.identity.publicKey);
    const ctx: NodeContext = { config: c, identity: this.identity, overlay: this.overlay, clock: this.clock, log: this.log };
    for (const s of this.services) {
      if (this.stopping) return;
      await s.start(ctx);
      this.startedServices.push(s);
      this.say(`service ${s.name} started`);
    }
  }

  /**
   * Dials the bootstrap endpoints in turn, in rounds, saying each attempt and its outcome; each
   * endpoint gets the attempts src/bootstrap-retry.ts gives its kind of failure. A refusal is final.
   */
  private async joinThroughBootstrap(): Promise<string> {
    const endpoints = this.config.bootstrap.map((url) => ({ url, attempts: 0, last: undefined as BootstrapFailure | undefined }));
    const started = this.clock.now();
    for (let round = 1; !this.stopping; round++) {
      const live = endpoints.filter((e) => !e.last || e.attempts < BOOTSTRAP_ATTEMPTS[e.last.kind]);
      if (live.length === 0) break;
      const pause = bootstrapBackoffMs(round);
      if (pause > 0) await Promise.race([sleep(this.clock, pause), this.stopRequested]);
      for (const e of live) {
        if (this.stopping) break;
        e.attempts++;
        this.say(`bootstrap ${e.url}: attempt ${e.attempts}`);
        try {
          const { link, endpointAddress } = await dialViaBootstrap(e.url, {
            network: this.config.network,
            address: this.identity.address,
            connector: this.connector,
            clock: this.clock,
            timeoutMs: this.config.dialTimeoutMs + 5_000,
            connectTimeoutMs: BOOTSTRAP_CONNECT_TIMEOUT_MS,
            onStunServer: (url) => this.stun.learnFromBootstrap(url),
          });
          this.overlay.addLink(link);
          return `${e.url} (first link to ${hex(endpointAddress)}, ${link.info().detail})`;
        } catch (err) {
          if (err instanceof LinkDialError && err.code === 'refused') {
            throw new JoinError(`refused by ${e.url}: ${err.message}`, true);
          }
          if (err instanceof BootstrapError && err.code === 'network-mismatch') throw new JoinError(err.message, true);
          e.last = classifyBootstrapFailure(err);
          const allowed = BOOTSTRAP_ATTEMPTS[e.last.kind];
          const next = e.attempts < allowed ? `next attempt in ${bootstrapBackoffMs(round + 1) / 1000} s` : 'giving up on this endpoint';
          this.say(`bootstrap ${e.url}: attempt ${e.attempts} of ${allowed} failed: ${e.last.text}; ${next}`);
        }
      }
    }
    if (this.stopping) throw new JoinError('stopped while joining', false);
    const seconds = ((this.clock.now() - started) / 1000).toFixed(1);
    const summary = endpoints.map((e) => `${e.url}: ${e.last?.text ?? 'not tried'} (${e.attempts} attempts)`).join('; ');
    throw new JoinError(`could not join through any bootstrap endpoint in ${seconds} s: ${summary}`, false);
  }

  private async rejoinIfIsolated(): Promise<void> {
    if (this.rejoining || this.stopping || this.overlay.status().links.length > 0) return;
    this.rejoining = true;
    try {
      const url = this.config.bootstrap[0]!;
      const { link } = await dialViaBootstrap(url, { network: this.config.network, address: this.identity.address, connector: this.connector, clock: this.clock, onStunServer: (u) => this.stun.learnFromBootstrap(u) });
      this.overlay.addLink(link);
      this.say(`rejoined network ${this.config.network} via ${url}`);
    } catch (err) {
      this.log(`rejoin failed: ${(err as Error).message}`);
    } finally {
      this.rejoining = false;
    }
  }

  status(): NodeStatus {
    const s = this.overlay.status();
    const services: Record<string, unknown> = {};
    for (const svc of this.startedServices) services[svc.name] = svc.status?.() ?? 'running';
    const out: NodeStatus = {
      network: this.config.network,
      publicKey: Buffer.from(this.identity.publicKey).toString('hex'),
      images: this.images.list(),
      stateDir: this.config.stateDir,
      joined: this.joinedFlag,
      uptimeS: Math.round((Date.now() - this.startedAt) / 1000),
      ...s,
      connector: { ...this.connector.counters },
      iceServers: this.connector.iceServers(),
      services,
      ...this.stun.status(),
    };
    if (this.bootstrapServer) out.bootstrap = { url: `ws://${this.config.listen!.host}:${this.bootstrapServer.port}`, counters: { ...this.bootstrapServer.counters } };
    return out;
  }

  /** The node holding virtual IP `vip`, as the virtual network resolves it, or why there is none (an answer, not a failure). */
  private async ownerOfVip(vip: string): Promise<RingAddress | string> {
    const resolver = this.startedServices.find((s) => s.ownerOfVip);
    if (!resolver) return 'this node runs no virtual network (--no-vnet): ping a ring address instead';
    return (await resolver.ownerOfVip!(vip)) ?? `no node holds virtual IP ${vip}`;
  }

  /** Sends `count` pings to `dest` over the overlay; resolves with the round trips. */
  ping(dest: RingAddress, count: number): Promise<PingResult[]> {
    return this.pinger.ping(dest, count);
  }

  private async handle(req: ControlRequest): Promise<unknown> {
    const enc = new TextEncoder();
    switch (req.op) {
      case 'status':
        return this.status();
      case 'down':
        // Answer first, then leave: the caller waits for the control socket to disappear.
        setImmediate(() => void this.stop());
        return { stopping: true };
      case 'dht-put':
        await this.overlay.dht.put(enc.encode(req.key), enc.encode(req.value), req.ttlS * 1000);
        return { stored: true };
      case 'dht-get': {
        const records = await this.overlay.dht.get(enc.encode(req.key));
        const dec = new TextDecoder('utf-8', { fatal: false });
        return records.map((r) => ({ value: dec.decode(r.value), owner: Buffer.from(r.owner).toString('hex'), ownerAddress: hex(addressOfKey(r.owner)), ttlS: Math.round(r.ttlMs / 1000) }));
      }
      case 'dht-store': {
        const put = req.exclusive ? this.overlay.dht.create.bind(this.overlay.dht) : this.overlay.dht.put.bind(this.overlay.dht);
        try {
          await put(enc.encode(req.key), Buffer.from(req.valueB64, 'base64'), req.ttlMs);
        } catch (e) {
          // The conflict is an answer, not a failure of the node: callers branch on it.
          if (e instanceof DhtConflictError) return { stored: false, conflict: true };
          throw e;
        }
        return { stored: true };
      }
      case 'dht-fetch': {
        const records = await this.overlay.dht.get(enc.encode(req.key));
        return records.map((r) => ({ valueB64: Buffer.from(r.value).toString('base64'), owner: Buffer.from(r.owner).toString('hex'), ttlMs: r.ttlMs }));
      }
      case 'dht-remove':
        await this.overlay.dht.remove(enc.encode(req.key));
        return { removed: true };
      case 'image-announce': {
        const { op: _op, ttlS, ...img } = req;
        this.images.announce(img, ttlS);
        return { listed: true };
      }
      case 'image-withdraw':
        return { withdrawn: this.images.withdraw(req.id) };
      case 'vip-owner': {
        const owner = await this.ownerOfVip(req.vip);
        return { address: typeof owner === 'string' ? null : hex(owner) };
      }
      case 'names': {
        const namer = this.startedServices.find((s) => s.peerNames);
        return namer ? namer.peerNames!(req.addresses) : {};
      }
      case 'ping': {
        if ('address' in req) return { address: req.address, results: await this.ping(BigInt('0x' + req.address), req.count) };
        const owner = await this.ownerOfVip(req.vip);
        if (typeof owner === 'string') return { vip: req.vip, error: owner, results: [] };
        return { address: hex(owner), vip: req.vip, results: await this.ping(owner, req.count) };
      }
    }
  }

  /** Leaves the network cleanly. Idempotent; resolves when everything is closed. */
  stop(): Promise<void> {
    this.resolveStopRequested();
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    const began = this.clock.now();
    this.rejoinTimer?.cancel();
    // Withdraw our STUN advert first, while the DHT is still reachable: members stop learning it now.
    await withTimeout(this.stun.withdraw(), SERVICE_STOP_TIMEOUT_MS, 'STUN advert withdrawal').catch((err: unknown) => this.log((err as Error).message));
    for (const s of this.startedServices.reverse()) {
      try {
        await withTimeout(s.stop(), SERVICE_STOP_TIMEOUT_MS, `service ${s.name} stop`);
      } catch (err) {
        this.log(`service ${s.name}: ${(err as Error).message}`);
      }
    }
    const servicesDone = this.clock.now();
    await this.control?.close();
    await this.bootstrapServer?.close();
    await this.stun.close();
    await this.overlay.stop();
    this.connector.closeAll('node stopping');
    this.log(`stopped in ${this.clock.now() - began} ms (services ${servicesDone - began} ms)`);
    this.resolveStopped();
  }
}

function hex(a: RingAddress): string {
  return a.toString(16).padStart(40, '0');
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e: unknown) => (clearTimeout(t), reject(e)),
    );
  });
}
