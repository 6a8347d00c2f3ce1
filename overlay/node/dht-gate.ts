// Between the DHT protocol and the wire: decodes DHT messages (routed requests and answers, LOCAL
// replica traffic) and holds requests back while this node cannot yet trust its table. A node that
// only just joined may not yet link the nodes between it and a key, and would wrongly believe itself
// its primary: a put or get waits until the node has settled (its near-set dials landed, at most
// settleMs after joining), and an exclusive create also until our near set has been quiet for
// dhtQuietMs (at most settleMs per request), changes made only by the create's own requester coming
// or going aside. A held request is routed again every SETTLE_POLL_MS.
import type { Clock, Timer } from '../../lib/clock.js';
import type { RingAddress } from '../ring/ring.js';
import type { DhtService } from '../dht/dht-service.js';
import { decodeDhtMessage, type ReplicaMessage } from '../dht/dht-messages.js';
import type { RoutedFrame } from '../wire/link-frame.js';
import type { Counters } from './counters.js';
import type { OverlayOptions } from './options.js';

/** A DHT request deferred while joining looks again this often (it goes as soon as the node settles). */
const SETTLE_POLL_MS = 100;

export interface DhtGateHost {
  readonly clock: Clock;
  readonly options: Pick<OverlayOptions, 'settleMs' | 'dhtQuietMs'>;
  readonly counters: Pick<Counters, 'count' | 'decodeOrCount'>;
  readonly dht: Pick<DhtService, 'onRequest' | 'onResponse' | 'onLocal'>;
  /** Our FIND has placed us, and when it first did. */
  readonly joined: boolean;
  readonly joinedAt: number;
  /** Links in our table. */
  readonly linkCount: number;
  /** When our near set last changed (after debounce) other than by `address` alone coming or going. */
  nearChangedAtApartFrom(address: RingAddress): number;
  /** A dial for a near neighbour is under way. */
  nearDialPending(): boolean;
  /** Routes a held request again (it may now belong elsewhere). */
  route(f: RoutedFrame): void;
  readonly log?: ((line: string) => void) | undefined;
}

export class DhtGate {
  /** When each deferred exclusive create first arrived, so no request waits more than settleMs. */
  private readonly deferredSince = new WeakMap<RoutedFrame, number>();
  /** Requests waiting to be routed again. */
  private readonly held = new Set<Timer>();
  /** Requests already said to be held (the trace names each once). */
  private readonly said = new WeakSet<RoutedFrame>();

  constructor(private readonly host: DhtGateHost) {}

  /** An APP_DHT routed message for us. */
  onRouted(f: RoutedFrame): void {
    const host = this.host;
    const m = host.counters.decodeOrCount(decodeDhtMessage, f.payload, 'dht_malformed');
    if (!m) return;
    if (m.t === 'put' || m.t === 'get') {
      const unsettled = this.unsettledFor();
      const wait = unsettled || (m.t === 'put' && m.exclusive ? this.unquietFor(f) : 0);
      if (wait > 0) {
        host.counters.count('dht_requests_deferred');
        if (host.log && !this.said.has(f)) {
          this.said.add(f);
          host.log(`dht ${m.t}${m.t === 'put' && m.exclusive ? ' (exclusive)' : ''} held up to ${Math.round(wait)} ms: ${unsettled ? 'near-set dials pending' : 'near set changed recently'}`);
        }
        const timer = host.clock.setTimeout(() => {
          this.held.delete(timer);
          host.route(f);
        }, Math.min(wait, SETTLE_POLL_MS));
        this.held.add(timer);
        return;
      }
      host.dht.onRequest(f.src, f.replyVia, m);
    } else if (m.t === 'ok' || m.t === 'err') host.dht.onResponse(m);
    else host.counters.count('dht_malformed');
  }

  /** A LOCAL_DHT frame (primary <-> replica traffic) from neighbour `from`. */
  onLocal(from: RingAddress, payload: Uint8Array): void {
    const m = this.host.counters.decodeOrCount(decodeDhtMessage, payload, 'dht_malformed');
    if (!m) return;
    if (m.t === 'store' || m.t === 'stored' || m.t === 'fetch' || m.t === 'copies' || m.t === 'drop') this.host.dht.onLocal(from, m as ReplicaMessage);
    else this.host.counters.count('dht_malformed');
  }

  /** Drops every held request (the node is leaving; their clients retry elsewhere). */
  stop(): void {
    for (const t of this.held) t.cancel();
    this.held.clear();
  }

  /**
   * Milliseconds until a joining node trusts its own table: 0 for a founder, and once joined with no
   * near-set dial pending (its FIND placed it and it linked the neighbours it was told of); at most
   * settleMs after joining either way.
   */
  private unsettledFor(): number {
    const host = this.host;
    if (!host.joined) return host.linkCount === 0 ? 0 : host.options.settleMs;
    const left = Math.max(0, host.joinedAt + host.options.settleMs - host.clock.now());
    if (left === 0) return 0;
    return host.nearDialPending() ? left : 0;
  }

  /** Milliseconds an exclusive create `f` still waits for our near set to be quiet (bounded by settleMs per request). */
  private unquietFor(f: RoutedFrame): number {
    const now = this.host.clock.now();
    let since = this.deferredSince.get(f);
    if (since === undefined) this.deferredSince.set(f, (since = now));
    if (now - since >= this.host.options.settleMs) return 0;
    // The requester's own arrival (a node rejoining beside us) does not count: it moves no key's primary.
    return Math.max(0, this.host.nearChangedAtApartFrom(f.src) + this.host.options.dhtQuietMs - now);
  }
}
