// The node's STUN side: the built-in STUN server beside the bootstrap endpoint (--listen), the STUN
// directory (members' adverts in the DHT: ours published, theirs learned, probed and replaced), and
// the bootstrap endpoint's STUN server learned while joining.
//   start:  listen (with --listen and STUN on) -> startDirectory (once joined)
//   stop:   withdraw (first, while the DHT is still reachable) ... close (after the bootstrap endpoint)
import { networkInterfaces } from 'node:os';
import type { Clock } from '../lib/clock.js';
import { cryptoRandom } from '../lib/random.js';
import type { Dht } from '../overlay/api.js';
import type { BootstrapServer } from '../overlay/bootstrap/server.js';
import { BootstrapError } from '../overlay/bootstrap/errors.js';
import type { WebRtcConnector } from '../overlay/link/webrtc/webrtc-connector.js';
import { IceConfigError } from '../overlay/link/webrtc/ice-config.js';
import { StunServer } from '../overlay/stun/stun-server.js';
import { StunDirectory } from '../overlay/stun/stun-directory.js';
import { probeStun } from '../overlay/stun/stun-probe.js';
import { STUN_ADVERT_MAX_SERVERS, type StunEndpoint } from '../overlay/stun/stun-advert.js';
import type { NodeConfig } from './config.js';

/** What the STUN side uses of the node. */
export interface NodeStunParts {
  config: Pick<NodeConfig, 'listen' | 'bindAddress'>;
  connector: Pick<WebRtcConnector, 'learnStunServer' | 'learnedStunInUse' | 'forgetStunServer'>;
  clock: Clock;
  /** ICE candidates the connector ignores: their addresses are not advertised either. */
  dropCandidate: ((candidate: string) => boolean) | undefined;
  /** Progress lines meant for the user. */
  say(line: string): void;
  /** Diagnostic lines. */
  log(line: string): void;
}

/** The STUN fields of `overlay status`. */
export interface NodeStunStatus {
  /** Our STUN server (with --listen). */
  stun?: { port: number; counters: Record<string, number> };
  /** Members' STUN advertisements in the DHT, published and read. */
  stunDirectory?: Record<string, number>;
}

export class NodeStun {
  private server?: StunServer;
  private directory?: StunDirectory;

  constructor(private readonly parts: NodeStunParts) {}

  /**
   * The built-in STUN server beside the bootstrap endpoint: members behind NATs learn their public
   * address from it (WELCOME names its port), so they link directly without any configured server.
   */
  async listen(host: string, port: number, bootstrap: Pick<BootstrapServer, 'setStunPort'>): Promise<void> {
    const { clock, log, say } = this.parts;
    try {
      this.server = await StunServer.listen({ host, port, clock, log });
    } catch (err) {
      throw new BootstrapError('listen', `cannot run the STUN server on udp ${host}:${port}: ${(err as Error).message} (choose another with --stun-port, or --no-stun)`);
    }
    bootstrap.setStunPort(this.server.port);
    say(`STUN server on udp ${host}:${this.server.port}`);
  }

  /** Publishes our STUN server (if any) in the DHT and learns members' servers from it. */
  startDirectory(dht: Pick<Dht, 'put' | 'get' | 'remove'>, ownKey: Uint8Array): void {
    const { config, connector, clock } = this.parts;
    this.directory = new StunDirectory({
      dht,
      clock,
      ownKey,
      ...(this.server ? { ownServers: () => this.ownAddresses() } : {}),
      learn: (url) => {
        if (connector.learnStunServer(url)) this.parts.log(`learned the STUN server ${url} from the overlay`);
      },
      inUse: () => connector.learnedStunInUse(),
      probe: (url) => probeStun(url, { clock, random: cryptoRandom, ...(config.bindAddress ? { bindAddress: config.bindAddress } : {}) }),
      forget: (url) => void connector.forgetStunServer(url),
      log: (line) => {
        // A replacement is news for the user; the rest is diagnostics.
        if (/stopped answering/.test(line)) this.parts.say(line);
        else this.parts.log(line);
      },
    });
    this.directory.start();
  }

  /** Uses the STUN server a bootstrap endpoint named (preferred over ones learned from members). */
  learnFromBootstrap(url: string): void {
    try {
      if (this.parts.connector.learnStunServer(url, true)) this.parts.log(`using the STUN server of the bootstrap endpoint: ${url}`);
    } catch (err) {
      // A host name ICE would not take (the WebSocket did): go on without that server.
      if (!(err instanceof IceConfigError)) throw err;
      this.parts.log(`not using the bootstrap endpoint's STUN server: ${err.message}`);
    }
  }

  status(): NodeStunStatus {
    const out: NodeStunStatus = {};
    if (this.server) out.stun = { port: this.server.port, counters: { ...this.server.counters } };
    if (this.directory) out.stunDirectory = { ...this.directory.counters };
    return out;
  }

  /** Withdraws our STUN advert: members stop learning it now. */
  withdraw(): Promise<void> {
    return this.directory?.stop() ?? Promise.resolve();
  }

  /** Closes the STUN server, if one runs. */
  async close(): Promise<void> {
    await this.server?.close();
  }

  /**
   * Where members can reach our STUN server: the listen host if it names one, else this machine's
   * IPv4 interface addresses (not loopback, not on the virtual subnet: `dropCandidate` says which).
   */
  private ownAddresses(): StunEndpoint[] {
    const port = this.server!.port;
    const host = this.parts.config.listen!.host;
    if (host !== '0.0.0.0' && /^\d+\.\d+\.\d+\.\d+$/.test(host)) return [{ address: host, port }];
    const out: StunEndpoint[] = [];
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) {
        if (a.family !== 'IPv4' || a.internal) continue;
        if (this.parts.dropCandidate?.(`candidate:1 1 UDP 1 ${a.address} ${port} typ host`)) continue;
        if (out.length < STUN_ADVERT_MAX_SERVERS) out.push({ address: a.address, port });
      }
    }
    return out;
  }
}
