// One mount's connection to another mount's peer server: gets pipelined on one TCP stream, matched
// to their replies by id. Bounded: requests in flight and waiting to be sent; a reply frame over
// the protocol's bound, a reply that does not decode, a peer that sends nothing for stallMs while
// requests wait, or a request unanswered requestTimeoutMs after it was sent (a peer that trickles
// a byte now and then keeps the stall watchdog quiet, not this) ends the connection and fails every
// request on it (the asker then goes to another peer or the server; a dead peer behind a NAT never
// resets the connection). A freed slot is handed to the oldest waiter, never to a newcomer.
import { connect, type Socket } from 'node:net';
import { CodedError } from '../../lib/coded-error.js';
import { systemClock, type Clock, type Timer } from '../../lib/clock.js';
import { frame, readFrames } from './frames.js';
import { MAX_PEER_MESSAGE_BYTES, type PeerReply } from './peer-codec.js';

export type PeerConnectionErrorCode = 'CONNECT' | 'CLOSED' | 'STALLED' | 'TIMEOUT' | 'PROTOCOL' | 'QUEUE_FULL';

export class PeerConnectionError extends CodedError<PeerConnectionErrorCode> {}

export interface PeerConnectionOptions {
  host: string;
  port: number;
  clock?: Clock;
  /** Deadline of the TCP connect (default 2,000 ms). */
  connectTimeoutMs?: number;
  /** No byte from the peer this long while requests wait: the peer is taken for dead (default 1,500 ms). */
  stallMs?: number;
  /** A request not answered this long after it was sent fails the connection (default 3,000 ms). */
  requestTimeoutMs?: number;
  /** Requests in flight on the stream (default 8; the server's per-peer default). */
  maxInFlight?: number;
  /** Requests waiting for a free slot (default 64); past it a get fails at once with QUEUE_FULL. */
  maxWaiting?: number;
}

interface Pending {
  resolve: (m: PeerReply) => void;
  reject: (e: Error) => void;
  sentAt: number;
}

export class PeerConnection {
  private readonly pending = new Map<number, Pending>();
  private readonly waiting: Array<() => void> = [];
  /** Slots taken: requests in flight plus slots handed to woken waiters not yet sent. */
  private slots = 0;
  private nextId = 1;
  private lastHeardAt: number;
  private readonly watchdog: Timer;
  private dead: PeerConnectionError | undefined;
  private readonly clock: Clock;

  private constructor(
    private readonly o: PeerConnectionOptions,
    private readonly socket: Socket,
  ) {
    this.clock = o.clock ?? systemClock;
    this.lastHeardAt = this.clock.now();
    socket.on('data', () => (this.lastHeardAt = this.clock.now()));
    readFrames(
      socket,
      MAX_PEER_MESSAGE_BYTES,
      (m) => {
        const p = m.type === 'blocks' ? this.pending.get(m.id) : undefined;
        if (!p || m.type !== 'blocks') return this.fail(new PeerConnectionError('PROTOCOL', `unexpected ${m.type} ${m.id} from the peer`));
        this.pending.delete(m.id);
        p.resolve(m);
        this.release();
      },
      (why) => this.fail(new PeerConnectionError('PROTOCOL', why)),
    );
    socket.on('error', (e) => this.fail(new PeerConnectionError('CLOSED', e.message)));
    socket.on('close', () => this.fail(new PeerConnectionError('CLOSED', 'the peer closed the connection')));
    const stallMs = o.stallMs ?? 1_500;
    const requestMs = o.requestTimeoutMs ?? 3_000;
    this.watchdog = this.clock.setInterval(() => {
      const now = this.clock.now();
      if (this.pending.size > 0 && now - this.lastHeardAt > stallMs) return this.fail(new PeerConnectionError('STALLED', `no reply for ${stallMs} ms`));
      // Replies come in order of sending, mostly: the oldest pending request is the first in the map.
      for (const p of this.pending.values()) {
        if (now - p.sentAt > requestMs) this.fail(new PeerConnectionError('TIMEOUT', `a request unanswered after ${requestMs} ms`));
        break;
      }
    }, Math.max(50, Math.floor(Math.min(stallMs, requestMs) / 4)));
  }

  static open(o: PeerConnectionOptions): Promise<PeerConnection> {
    const clock = o.clock ?? systemClock;
    return new Promise((resolve, reject) => {
      const socket = connect({ host: o.host, port: o.port });
      socket.setNoDelay(true);
      const timer = clock.setTimeout(() => {
        socket.destroy();
        reject(new PeerConnectionError('CONNECT', `no connection to ${o.host}:${o.port} within ${o.connectTimeoutMs ?? 2_000} ms`));
      }, o.connectTimeoutMs ?? 2_000);
      socket.once('error', (e) => {
        timer.cancel();
        reject(new PeerConnectionError('CONNECT', `${o.host}:${o.port}: ${e.message}`));
      });
      socket.once('connect', () => {
        timer.cancel();
        socket.removeAllListeners('error');
        resolve(new PeerConnection(o, socket));
      });
    });
  }

  get closed(): boolean {
    return this.dead !== undefined;
  }

  /** Blocks [first, first + count) of the file with path id `file`, as the peer holds them. */
  async get(file: Uint8Array, first: number, count: number): Promise<PeerReply> {
    if (this.dead) throw this.dead;
    if (this.slots < (this.o.maxInFlight ?? 8)) this.slots++;
    else {
      if (this.waiting.length >= (this.o.maxWaiting ?? 64)) throw new PeerConnectionError('QUEUE_FULL', 'too many requests waiting for this peer');
      await new Promise<void>((r) => this.waiting.push(r)); // woken holding the slot release() handed over
      if (this.dead) throw this.dead;
    }
    const id = this.nextId;
    this.nextId = (this.nextId % 0xffffffff) + 1;
    const now = this.clock.now();
    if (this.pending.size === 0) this.lastHeardAt = now;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, sentAt: now });
      this.socket.write(frame({ type: 'get', id, file, first, count }));
    });
  }

  /** A request finished: its slot goes to the oldest waiter, or back to the pool. */
  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.slots--;
  }

  /** Fails every request and closes the stream. Idempotent. */
  close(): void {
    this.fail(new PeerConnectionError('CLOSED', 'connection closed'));
  }

  private fail(e: PeerConnectionError): void {
    if (this.dead) return;
    this.dead = e;
    this.watchdog.cancel();
    this.socket.destroy();
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    for (const w of this.waiting.splice(0)) w();
  }
}
