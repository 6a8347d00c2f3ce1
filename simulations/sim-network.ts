// The simulated network: hosts placed in regions (one-way latency matrix plus jitter), links between
// them whose frames are events on the SimClock heap, loss (the reliable control channel pays a
// retransmission delay, the data channel drops), and a Connector per host whose dials go through the
// overlay's own routed signalling, exactly like the WebRTC connector's offers and answers.
import type { Random } from '../lib/clock.js';
import type { Connector, Link, LinkHandlers, LinkInfo } from '../overlay/link/link.js';
import type { RingAddress } from '../overlay/ring/ring.js';
import type { SimClock } from './sim-clock.js';

export interface SimNetworkOptions {
  /** One-way latency between regions, milliseconds; square. */
  latencyMs: number[][];
  /** Uniform extra delay per frame, 0..jitterMs. */
  jitterMs: number;
  /** Probability that a frame is lost on the wire. */
  loss: number;
  /** Extra delay a lost control frame pays (SCTP retransmission). */
  retransmitMs: number;
  /** A dial without an answer fails after this long. */
  dialTimeoutMs: number;
}

export const defaultLatencyMs: number[][] = [
  // us-east, us-west, europe, asia, south-america
  [4, 35, 45, 90, 60],
  [35, 4, 75, 60, 90],
  [45, 75, 4, 110, 100],
  [90, 60, 110, 4, 150],
  [60, 90, 100, 150, 4],
];

export const defaultNetworkOptions: SimNetworkOptions = {
  latencyMs: defaultLatencyMs,
  jitterMs: 2,
  loss: 0,
  retransmitMs: 250,
  dialTimeoutMs: 10_000,
};

export class SimHost {
  alive = true;
  readonly ends = new Set<SimLinkEnd>();
  readonly connector: SimConnector;
  constructor(readonly net: SimNetwork, readonly address: RingAddress, readonly publicKey: Uint8Array, readonly region: number) {
    this.connector = new SimConnector(this);
  }
}

let nextLinkId = 1;

export class SimLinkEnd implements Link {
  readonly id = `sim-${nextLinkId++}`;
  closed = false;
  peer!: SimLinkEnd;
  private handlers: LinkHandlers | undefined;
  private queue: Array<{ control: boolean; bytes: Uint8Array } | { close: string }> = [];
  private lastControlAt = 0;

  constructor(readonly host: SimHost, readonly remote: RingAddress, readonly remoteKey: Uint8Array, private readonly latency: number) {}

  setHandlers(handlers: LinkHandlers): void {
    this.handlers = handlers;
    const q = this.queue;
    this.queue = [];
    for (const item of q) this.dispatch(item);
  }

  /** Event handlers of frame arrivals (static: the event carries the receiving end and the bytes, no closure). */
  private static arriveControl(end: SimLinkEnd, bytes: Uint8Array): void {
    if (end.closed || !end.host.alive) return;
    if (end.handlers) end.handlers.control(bytes);
    else end.queue.push({ control: true, bytes });
  }

  private static arriveData(end: SimLinkEnd, bytes: Uint8Array): void {
    if (end.closed || !end.host.alive) return;
    if (end.handlers) end.handlers.data(bytes);
    else end.queue.push({ control: false, bytes });
  }

  private dispatch(item: { control: boolean; bytes: Uint8Array } | { close: string }): void {
    if (!this.handlers) {
      this.queue.push(item);
      return;
    }
    if ('close' in item) this.handlers.close(item.close);
    else if (item.control) this.handlers.control(item.bytes);
    else this.handlers.data(item.bytes);
  }

  private send(bytes: Uint8Array, control: boolean): boolean {
    if (this.closed) return false;
    const net = this.host.net;
    net.framesSent++;
    net.bytesSent += bytes.length;
    const peer = this.peer;
    if (!peer.host.alive) return true; // a crashed peer: the frame vanishes, nobody is told
    const clock = net.clock;
    let delay = this.latency + net.random.float() * net.options.jitterMs;
    if (net.options.loss > 0 && net.random.float() < net.options.loss) {
      if (!control) return true;
      delay += net.options.retransmitMs;
    }
    let at = clock.now() + delay;
    if (control) {
      // The control channel is ordered.
      at = Math.max(at, this.lastControlAt);
      this.lastControlAt = at;
    }
    clock.at(at, control ? SimLinkEnd.arriveControl : SimLinkEnd.arriveData, peer, bytes);
    return true;
  }

  sendControl(frame: Uint8Array): boolean {
    return this.send(frame, true);
  }

  sendData(packet: Uint8Array): boolean {
    return this.send(packet, false);
  }

  close(reason = 'closed'): void {
    if (this.closed) return;
    this.closed = true;
    this.host.ends.delete(this);
    const clock = this.host.net.clock;
    clock.at(clock.now(), () => this.dispatch({ close: reason }));
    const peer = this.peer;
    if (peer.closed || !peer.host.alive) return;
    // The peer hears of the close after in-flight control frames.
    clock.at(Math.max(clock.now() + this.latency, this.lastControlAt), () => peer.remoteClosed(reason));
  }

  private remoteClosed(reason: string): void {
    if (this.closed || !this.host.alive) return;
    this.closed = true;
    this.host.ends.delete(this);
    this.dispatch({ close: `remote: ${reason}` });
  }

  info(): LinkInfo {
    return { transport: 'sim', path: 'direct', detail: `regions ${this.host.region}<->${this.peer.host.region}`, rttMs: 2 * this.latency };
  }
}

/** Signalling payloads of the simulated connector: 1 byte type + u32 dial id. */
const OFFER = 1;
const ANSWER = 2;
function encodeSignal(type: number, id: number): Uint8Array {
  const b = new Uint8Array(5);
  b[0] = type;
  new DataView(b.buffer).setUint32(1, id);
  return b;
}

export class SimConnector implements Connector {
  private nextDial = 1;
  private readonly dials = new Map<number, { resolve: (l: Link) => void; reject: (e: Error) => void; cancel: () => void }>();
  private incoming: ((link: Link) => void) | undefined;
  private closed = false;
  /** Link ends created by an accepted offer, waiting for the dialer to read the answer. */
  readonly parked = new Map<string, { end: SimLinkEnd; accept: () => void }>();

  constructor(private readonly host: SimHost) {}

  dial(remote: RingAddress, signal: (payload: Uint8Array) => void): Promise<Link> {
    if (this.closed) return Promise.reject(new Error('connector closed'));
    const id = this.nextDial++;
    return new Promise<Link>((resolve, reject) => {
      const timer = this.host.net.clock.setTimeout(() => {
        this.dials.delete(id);
        const key = `${remote}:${id}`;
        this.parked.get(key)?.end.close('dial timed out');
        this.parked.delete(key);
        reject(new Error(`dial ${id} to ${remote.toString(16).slice(0, 8)} timed out`));
      }, this.host.net.options.dialTimeoutMs);
      this.dials.set(id, { resolve, reject, cancel: () => timer.cancel() });
      signal(encodeSignal(OFFER, id));
    });
  }

  onSignal(from: RingAddress, payload: Uint8Array, reply: (payload: Uint8Array) => void): void {
    if (this.closed || !this.host.alive || payload.length !== 5) return;
    const type = payload[0];
    const id = new DataView(payload.buffer, payload.byteOffset, 5).getUint32(1);
    const net = this.host.net;
    if (type === OFFER) {
      const dialer = net.host(from);
      if (!dialer || !dialer.alive) return;
      const [dialerEnd, ourEnd] = net.linkPair(dialer, this.host);
      // Like WebRTC, the link exists for us only once the dialer has our answer and connects.
      dialer.connector.parked.set(`${this.host.address}:${id}`, { end: dialerEnd, accept: () => this.accept(ourEnd) });
      reply(encodeSignal(ANSWER, id));
    } else if (type === ANSWER) {
      const key = `${from}:${id}`;
      const parked = this.parked.get(key);
      if (!parked) return;
      this.parked.delete(key);
      const d = this.dials.get(id);
      if (!d) {
        parked.end.close('dial gave up');
        return;
      }
      this.dials.delete(id);
      d.cancel();
      const clock = net.clock;
      clock.at(clock.now() + net.options.latencyMs[this.host.region]![parked.end.peer.host.region]!, parked.accept);
      d.resolve(parked.end);
    }
  }

  private accept(end: SimLinkEnd): void {
    if (end.closed || this.closed || !this.host.alive) {
      end.close('not accepting');
      return;
    }
    if (this.incoming) this.incoming(end);
    else end.close('not accepting');
  }

  onIncoming(cb: (link: Link) => void): void {
    this.incoming = cb;
  }

  close(): void {
    this.closed = true;
    for (const [, d] of this.dials) {
      d.cancel();
      d.reject(new Error('connector closed'));
    }
    this.dials.clear();
    for (const p of this.parked.values()) p.end.close('connector closed');
    this.parked.clear();
  }
}

export class SimNetwork {
  readonly options: SimNetworkOptions;
  private readonly hosts = new Map<RingAddress, SimHost>();
  framesSent = 0;
  bytesSent = 0;

  constructor(readonly clock: SimClock, readonly random: Random, options: Partial<SimNetworkOptions> = {}) {
    this.options = { ...defaultNetworkOptions, ...options };
  }

  get regions(): number {
    return this.options.latencyMs.length;
  }

  addHost(address: RingAddress, publicKey: Uint8Array, region: number): SimHost {
    if (this.hosts.has(address)) throw new Error('address already in the simulated network');
    const h = new SimHost(this, address, publicKey, region);
    this.hosts.set(address, h);
    return h;
  }

  host(address: RingAddress): SimHost | undefined {
    return this.hosts.get(address);
  }

  /** A connected pair of link ends (a: at host a, pointing to b; b: at host b). */
  linkPair(a: SimHost, b: SimHost): [SimLinkEnd, SimLinkEnd] {
    const latency = this.options.latencyMs[a.region]![b.region]!;
    const ea = new SimLinkEnd(a, b.address, b.publicKey, latency);
    const eb = new SimLinkEnd(b, a.address, a.publicKey, latency);
    ea.peer = eb;
    eb.peer = ea;
    a.ends.add(ea);
    b.ends.add(eb);
    return [ea, eb];
  }

  /** A crash: the host stops answering; its peers are not told (they find out by keepalive timeout). */
  crash(address: RingAddress): void {
    const h = this.hosts.get(address);
    if (!h) return;
    h.alive = false;
    for (const e of h.ends) e.closed = true;
    h.ends.clear();
    this.hosts.delete(address);
  }

  /** Forgets a host that left gracefully (its links were closed by its node). */
  remove(address: RingAddress): void {
    const h = this.hosts.get(address);
    if (!h) return;
    h.alive = false;
    this.hosts.delete(address);
  }
}
