// The bootstrap signalling endpoint: a WebSocket server any reachable member offers (`--listen`).
// A joining node connects, learns our ring address (WELCOME), names its network and address (HELLO),
// then the two exchange connector signalling (SIGNAL) until the WebRTC link is up; the link handshake,
// not this endpoint, decides whether the newcomer is a member. Afterwards the newcomer signals over
// the overlay. Every connection has a bounded life; a bad frame gets an ERROR and a close, never a crash.
// Connections are bounded in total and per source address; at the total bound a newcomer takes the
// place of the oldest connection of the address holding the most (if it holds more than one), else
// of the connection silent longest (at least evictIdleAfterMs): a flood from a few addresses, or of
// clients that say HELLO and wait, cannot keep joiners out for as long as it lasts.
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import type { Clock, Timer } from '../../lib/clock.js';
import type { Connector } from '../link/link.js';
import type { RingAddress } from '../ring/ring.js';
import {
  BootstrapCodecError,
  BootstrapType,
  BOOTSTRAP_FRAME_MAX_BYTES,
  decodeBootstrap,
  encodeBootstrap,
  SIGNAL_PAYLOAD_MAX_BYTES,
} from './messages.js';
import { BootstrapError } from './errors.js';

export const DEFAULT_HELLO_TIMEOUT_MS = 10_000;
export const DEFAULT_SESSION_LIFETIME_MS = 60_000; // enough for ICE + DTLS + handshake with TURN
export const DEFAULT_MAX_CLIENTS = 64;
/** A joiner needs one connection at a time; a few more cover joiners behind one NAT. */
export const DEFAULT_MAX_CLIENTS_PER_ADDRESS = 4;
/** A joiner's signalling comes in bursts (offer, candidates) seconds apart; one silent this long may give way when full. */
export const DEFAULT_EVICT_IDLE_AFTER_MS = 10_000;
/** WebSocket close code 1008: policy violation (RFC 6455 section 7.4.1). */
const CLOSE_POLICY = 1008;

export interface BootstrapServerOptions {
  host?: string;
  port: number;
  network: string;
  address: RingAddress;
  connector: Pick<Connector, 'onSignal'>;
  clock: Clock;
  helloTimeoutMs?: number;
  sessionLifetimeMs?: number;
  maxClients?: number;
  /** Connections at once from one source address (more are refused). */
  maxClientsPerAddress?: number;
  /** At the total bound, a connection silent this long may be closed for a newcomer. */
  evictIdleAfterMs?: number;
  log?: (line: string) => void;
  /** The UDP port of our STUN server, announced in WELCOME (or later: setStunPort). */
  stunPort?: number;
  /** A newcomer said HELLO: its link will arrive through the connector (see Overlay.expectNewcomer). */
  onClient?: (address: RingAddress) => void;
}

export class BootstrapServer {
  readonly counters = { clients: 0, bad_frames: 0, network_mismatch: 0, rejected_full: 0, rejected_per_address: 0, evicted: 0 };
  /** Open connections in arrival order, with their source address and when they last sent a frame. */
  private readonly clients = new Map<WebSocket, { address: string; lastFrameAt: number }>();
  private readonly perAddress = new Map<string, number>();
  private readonly log: (line: string) => void;
  private stunPort: number | undefined;

  private constructor(
    private readonly wss: WebSocketServer,
    private readonly o: BootstrapServerOptions,
  ) {
    this.log = o.log ?? (() => {});
    wss.on('connection', (ws, req) => this.accept(ws, req.socket.remoteAddress ?? '?', `${req.socket.remoteAddress}:${req.socket.remotePort}`));
  }

  /** Starts listening; rejects with BootstrapError('listen') if the port cannot be bound. */
  static listen(o: BootstrapServerOptions): Promise<BootstrapServer> {
    return new Promise((resolve, reject) => {
      const wss = new WebSocketServer({ host: o.host ?? '0.0.0.0', port: o.port, maxPayload: BOOTSTRAP_FRAME_MAX_BYTES });
      const onError = (err: Error) => {
        wss.close();
        reject(new BootstrapError('listen', `cannot listen on ${o.host ?? '0.0.0.0'}:${o.port}: ${err.message}`));
      };
      wss.once('error', onError);
      wss.once('listening', () => {
        wss.off('error', onError);
        const server = new BootstrapServer(wss, o);
        wss.on('error', (err) => server.log(`bootstrap server error: ${err.message}`));
        resolve(server);
      });
    });
  }

  /** Announces our STUN server's UDP port to joiners from now on. */
  setStunPort(port: number): void {
    this.stunPort = port;
  }

  /** The bound port (useful with port 0). */
  get port(): number {
    const a = this.wss.address();
    return typeof a === 'object' && a ? a.port : this.o.port;
  }

  get url(): string {
    const host = this.o.host && this.o.host !== '0.0.0.0' ? this.o.host : '127.0.0.1';
    return `ws://${host.includes(':') ? `[${host}]` : host}:${this.port}`;
  }

  /** Stops listening and closes every client connection. */
  close(): Promise<void> {
    for (const ws of this.clients.keys()) ws.terminate();
    this.clients.clear();
    this.perAddress.clear();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }

  private accept(ws: WebSocket, address: string, peer: string): void {
    if ((this.perAddress.get(address) ?? 0) >= (this.o.maxClientsPerAddress ?? DEFAULT_MAX_CLIENTS_PER_ADDRESS)) {
      this.counters.rejected_per_address++;
      this.fail(ws, 'too many connections from your address, try again later');
      return;
    }
    if (this.clients.size >= (this.o.maxClients ?? DEFAULT_MAX_CLIENTS) && !this.evictForNewcomer(address)) {
      this.counters.rejected_full++;
      this.fail(ws, 'bootstrap endpoint busy, try again later');
      return;
    }
    this.counters.clients++;
    const entry = { address, lastFrameAt: this.o.clock.now() };
    this.clients.set(ws, entry);
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    let client: RingAddress | undefined;
    const timers: Timer[] = [];
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      for (const t of timers) t.cancel();
      this.forget(ws);
    };
    timers.push(this.o.clock.setTimeout(() => client === undefined && this.fail(ws, 'no HELLO in time'), this.o.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS));
    timers.push(this.o.clock.setTimeout(() => ws.close(1000, 'session lifetime over'), this.o.sessionLifetimeMs ?? DEFAULT_SESSION_LIFETIME_MS));
    ws.on('close', end);
    ws.on('error', (err) => {
      this.log(`bootstrap client ${peer}: ${err.message}`);
      end();
    });
    const send = (payload: Uint8Array) => {
      if (ws.readyState !== ws.OPEN) return;
      if (payload.length > SIGNAL_PAYLOAD_MAX_BYTES) return;
      ws.send(encodeBootstrap({ type: BootstrapType.Signal, payload }));
    };
    ws.on('message', (data: RawData, isBinary: boolean) => {
      entry.lastFrameAt = this.o.clock.now();
      if (!isBinary) return this.fail(ws, 'binary frames only');
      let msg;
      try {
        msg = decodeBootstrap(toBytes(data));
      } catch (err) {
        if (!(err instanceof BootstrapCodecError)) throw err;
        this.counters.bad_frames++;
        this.log(`bootstrap client ${peer}: bad frame: ${err.message}`);
        return this.fail(ws, `bad frame: ${err.message}`);
      }
      switch (msg.type) {
        case BootstrapType.Hello:
          if (client !== undefined) return this.fail(ws, 'second HELLO');
          if (msg.network !== this.o.network) {
            this.counters.network_mismatch++;
            return this.fail(ws, `this endpoint serves network '${this.o.network}', not '${msg.network}'`);
          }
          if (msg.address === this.o.address) return this.fail(ws, 'HELLO carries our own address');
          client = msg.address;
          this.o.onClient?.(client);
          return;
        case BootstrapType.Signal:
          if (client === undefined) return this.fail(ws, 'SIGNAL before HELLO');
          try {
            this.o.connector.onSignal(client, msg.payload, send);
          } catch (err) {
            // The connector rejects bad input itself; anything else must not take the node down.
            this.log(`bootstrap client ${peer}: signal failed: ${(err as Error).message}`);
            return this.fail(ws, 'signal could not be processed');
          }
          return;
        case BootstrapType.Error:
          this.log(`bootstrap client ${peer} reports: ${msg.message}`);
          ws.close(1000);
          return;
        case BootstrapType.Welcome:
          return this.fail(ws, 'WELCOME is sent by the server');
      }
    });
    const stunPort = this.stunPort ?? this.o.stunPort;
    ws.send(encodeBootstrap({ type: BootstrapType.Welcome, network: this.o.network, address: this.o.address, ...(stunPort ? { stunPort } : {}) }));
  }

  /** Drops `ws` from the tables (at most once). */
  private forget(ws: WebSocket): void {
    const address = this.clients.get(ws)?.address;
    if (address === undefined) return;
    this.clients.delete(ws);
    const n = (this.perAddress.get(address) ?? 1) - 1;
    if (n > 0) this.perAddress.set(address, n);
    else this.perAddress.delete(address);
  }

  /**
   * At the total bound: closes the oldest connection of the address holding the most, when it holds
   * more than the newcomer's would after joining; else the connection silent longest, if silent at
   * least evictIdleAfterMs. False when nobody should give way.
   */
  private evictForNewcomer(address: string): boolean {
    let crowded: string | undefined;
    let most = (this.perAddress.get(address) ?? 0) + 1;
    for (const [a, n] of this.perAddress) {
      if (n > most) {
        crowded = a;
        most = n;
      }
    }
    let victim: WebSocket | undefined;
    if (crowded !== undefined) {
      for (const [ws, c] of this.clients) {
        if (c.address === crowded) {
          victim = ws;
          break;
        }
      }
    } else {
      let silentSince = this.o.clock.now() - (this.o.evictIdleAfterMs ?? DEFAULT_EVICT_IDLE_AFTER_MS);
      for (const [ws, c] of this.clients) {
        if (c.lastFrameAt <= silentSince) {
          victim = ws;
          silentSince = c.lastFrameAt;
        }
      }
    }
    if (!victim) return false;
    this.counters.evicted++;
    this.forget(victim);
    this.fail(victim, 'bootstrap endpoint busy: closed for a newcomer');
    return true;
  }

  private fail(ws: WebSocket, message: string): void {
    if (ws.readyState === ws.OPEN) {
      ws.send(encodeBootstrap({ type: BootstrapType.Error, message }));
      ws.close(CLOSE_POLICY, message.slice(0, 100));
    }
  }
}

export function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
