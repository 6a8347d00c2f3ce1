// One overlay node: the connection table, greedy routing, routed signalling, link maintenance and
// the DHT, over whatever Connector it is given (WebRTC for real nodes, simulated links in
// simulations/). All time and randomness come from the injected Clock and Random.
//
// Life of a node: `start()`; a first (bootstrap) link arrives through `addLink`; the node sends a FIND
// for its own address, which greedy routing carries to the node now closest to it; that node answers
// with its near set and the newcomer dials the ones that belong in its own near set (the dial's
// signalling is routed over the overlay, answers come back through the newcomer's first hop).
// From then on every node periodically swaps near sets with its near neighbours (stabilization) and
// keeps about log2 N far links at Symphony-distributed distances. Links are kept while either side
// wants them (WANT frames), pinged when silent and closed when silent too long.
// A near or shortcut peer that cannot be dialed directly (ICE fails) is linked through a common
// neighbour instead (a relay edge, overlay/relay/), rebuilt through another one if that neighbour goes,
// and replaced by a direct link when a later direct dial succeeds.
import type { Dht, Overlay, OverlayStatus, RoutedMessage } from '../api.js';
import type { Clock, Random, Timer } from '../../lib/clock.js';
import type { Identity } from '../identity.js';
import type { Connector, Link } from '../link/link.js';
import type { RingAddress } from '../ring/ring.js';
import { DhtService } from '../dht/dht-service.js';
import { decodeDhtMessage, type ReplicaMessage } from '../dht/dht-messages.js';
import { ConnectionTable, type TableEntry } from '../routing-table/connection-table.js';
import { nextHop } from '../routing-table/next-hop.js';
import { addressHex, cwDist, RING_BITS, ringAdd } from '../ring/ring.js';
import { decodeFind, decodeFound, encodeFind, encodeFound } from '../wire/control.js';
import {
  decodeFrame,
  withRoutedHops,
  encodeFrame,
  FRAME_LOCAL,
  FRAME_NEIGHBORS,
  FRAME_PING,
  FRAME_PONG,
  FRAME_ROUTED,
  FRAME_WANT,
  FRAME_BYE,
  MAX_NEIGHBORS_PER_FRAME,
  type Frame,
  type NeighborsFrame,
  type RoutedFrame,
} from '../wire/frame.js';
import { WireError } from '../wire/wire-error.js';
import { APP_DHT, APP_FIND, APP_FOUND, APP_RELAY, APP_SIGNAL, FIRST_USER_APP, LOCAL_DHT, LOCAL_RELAY } from './app-tags.js';
import { RelayService, type RelayMembership, type RelayOptions } from '../relay/relay-service.js';
import { RelayLink } from '../relay/relay-link.js';
import { RELAY_OP_DATA } from '../relay/relay-header.js';
import type { RelayCandidate } from '../relay/relay-messages.js';
import { resolveOptions, type OverlayOptions } from './options.js';

export interface OverlayDeps {
  identity: Identity;
  clock: Clock;
  random: Random;
  connector: Connector;
  /**
   * Network membership for relay edges (the tunnel handshake proves it like the link handshake);
   * without it the node neither builds nor carries relay edges.
   */
  relay?: RelayMembership & { options?: Partial<RelayOptions> };
  log?: (line: string) => void;
}

type Purpose = 'near' | 'far' | 'shortcut';

/** Newcomers remembered between their bootstrap HELLO and their link (more are forgotten, not refused). */
const MAX_EXPECTED_NEWCOMERS = 1024;
/** A DHT request deferred while joining looks again this often (it goes as soon as the node settles). */
const SETTLE_POLL_MS = 100;
type DataHandler = (from: RingAddress, packet: Uint8Array) => void;

interface FindResult {
  from: RingAddress;
  near: RingAddress[];
}

export class OverlayNode implements Overlay {
  readonly address: RingAddress;
  readonly options: OverlayOptions;
  private readonly table: ConnectionTable;
  private readonly dhtService: DhtService;
  private readonly handlers = new Map<number, (msg: RoutedMessage) => void>();
  private dataHandler: DataHandler | undefined;
  private readonly timers: Timer[] = [];
  private readonly pendingDials = new Map<RingAddress, { far: boolean; shortcut: boolean }>();
  /** Relay edges being built (possibly alongside a direct dial to the same peer). */
  private readonly pendingRelays = new Set<RingAddress>();
  private readonly cooldownUntil = new Map<RingAddress, number>();
  private readonly finds = new Map<number, { done: (r: FindResult | undefined) => void; timer: Timer }>();
  private readonly traffic = new Map<RingAddress, number>();
  /** Links we said BYE on, waiting for the peer's ack before closing. */
  private readonly byes = new Map<Link, Timer>();
  private readonly counters: Record<string, number> = Object.create(null);
  private nextFindId: number;
  private started = false;
  private stopped = false;
  private joined = false;
  private joining = false;
  private joinedAt = 0;
  private farFindsInFlight = 0;
  private nearKey = '';
  private topologyTimer: Timer | undefined;
  private nearLost = false;
  private trafficWindowStart = 0;
  /** When our near set last changed (after debounce); exclusive DHT creates wait for quiet. */
  private nearChangedAt = -Infinity;
  /** Newcomers our bootstrap endpoint is talking to (expectNewcomer), until their link arrives. */
  private readonly newcomers = new Set<RingAddress>();
  /** The last NEIGHBORS frame each link brought, as bytes and decoded (the same list comes back every stabilize period). */
  private readonly lastNeighbours = new WeakMap<TableEntry, { bytes: Uint8Array; frame: NeighborsFrame }>();
  /** When each deferred exclusive create first arrived, so no request waits more than settleMs. */
  private readonly deferredSince = new WeakMap<RoutedFrame, number>();
  private readonly relay: RelayService | undefined;
  /** Relayed peers: when we last tried a direct dial to each, and which are being tried now. */
  private readonly directRetryAt = new Map<RingAddress, number>();
  private readonly directRetries = new Set<RingAddress>();

  constructor(private readonly deps: OverlayDeps, options: Partial<OverlayOptions> = {}) {
    this.options = resolveOptions(options);
    this.address = deps.identity.address;
    this.table = new ConnectionTable(this.address, this.options.nearPerSide);
    this.nextFindId = 1 + deps.random.int(0x7fffffff);
    this.dhtService = new DhtService(
      {
        identity: deps.identity,
        clock: deps.clock,
        random: deps.random,
        self: this.address,
        routeToKey: (position, payload, detour) => this.sendRouted(position, APP_DHT, payload, { exact: false, askReplyVia: true, ...(detour ? { via: this.randomNeighbour() } : {}) }),
        routeTo: (peer, payload) => this.sendRouted(peer, APP_DHT, payload, { exact: true, askReplyVia: true }),
        replyTo: (client, via, payload) => void this.sendRouted(client, APP_DHT, payload, { exact: true, via }),
        sendLocal: (peer, payload) => this.sendLocal(peer, LOCAL_DHT, payload),
        closestPeers: (position, n) => this.table.closestN(position, n),
        count: (name) => this.count(name),
      },
      this.options.dht,
    );
    if (deps.relay) {
      this.relay = new RelayService(
        {
          self: this.address,
          signer: deps.identity,
          network: deps.relay.network,
          networkKey: deps.relay.networkKey,
          clock: deps.clock,
          random: deps.random,
          directNeighbours: () => this.directNeighbours(),
          canCarry: (peer) => this.directEntry(peer) !== undefined,
          sendControl: (peer, bytes) => {
            const e = this.directEntry(peer, true);
            return e ? this.sendFrame(e, { type: FRAME_LOCAL, kind: LOCAL_RELAY, payload: bytes }) : false;
          },
          sendData: (peer, bytes) => this.directEntry(peer, true)?.link.sendData(bytes) ?? false,
          sendRouted: (dest, payload, via) => this.sendRouted(dest, APP_RELAY, payload, { exact: true, askReplyVia: true, notSrc: true, ...(via !== undefined ? { via } : {}) }),
          incoming: (link) => void this.adopt(link, 'incoming'),
          count: (name) => this.count(name),
          log: (line) => this.log(line),
        },
        deps.relay.options,
      );
    }
  }

  get dht(): Dht {
    return this.dhtService;
  }

  /** Starts timers and accepts incoming links. A node with no links founds a network and waits. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.deps.connector.onIncoming((link) => this.adopt(link, 'incoming'));
    const { clock, random } = this.deps;
    // Random phases so thousands of simulated nodes do not tick in lock step.
    const every = (ms: number, fn: () => void) => {
      const first = clock.setTimeout(() => {
        fn();
        this.timers.push(clock.setInterval(fn, ms));
      }, Math.floor(random.float() * ms) + 1);
      this.timers.push(first);
    };
    // The slower chores ride on the tick (one timer per node: at 10,000 simulated nodes timer events
    // were a quarter of all events); each runs at the first tick past its own randomly phased due time.
    const o = this.options;
    const chores: Array<{ every: number; due: number; run: () => void }> = [
      { every: o.stabilizeIntervalMs, due: 0, run: () => this.stabilize() },
      { every: o.farIntervalMs, due: 0, run: () => this.maintainFarLinks() },
      // Re-asking the ring for our own place catches what neighbour exchange cannot: a node that
      // no near neighbour knows about (its neighbours only ever hear of it from itself).
      { every: o.selfFindIntervalMs, due: 0, run: () => this.table.size > 0 && this.join() },
    ];
    for (const c of chores) c.due = clock.now() + Math.floor(random.float() * c.every) + 1;
    every(o.tickMs, () => {
      this.tick();
      for (const c of chores) {
        const now = clock.now();
        if (now < c.due || this.stopped) continue;
        c.due = now + c.every;
        c.run();
      }
    });
    if (this.table.size > 0) this.join();
  }

  expectNewcomer(address: RingAddress): void {
    if (this.newcomers.size >= MAX_EXPECTED_NEWCOMERS) this.newcomers.clear(); // bounded: a stale entry only delays transit
    this.newcomers.add(address);
  }

  addLink(link: Link): void {
    if (!this.adopt(link, 'bootstrap')) return;
    if (this.started) this.join();
  }

  send(dest: RingAddress, app: number, payload: Uint8Array, opts?: { exact?: boolean }): boolean {
    if (!Number.isInteger(app) || app < FIRST_USER_APP || app > 0xffff) throw new RangeError(`app tag ${app}: user tags are ${FIRST_USER_APP}..65535`);
    if (this.stopped) return false;
    const exact = opts?.exact ?? true;
    if (exact && this.options.shortcutAfterMessages > 0 && dest !== this.address) this.noteTraffic(dest);
    return this.sendRouted(dest, app, payload, { exact });
  }

  onMessage(app: number, handler: (msg: RoutedMessage) => void): void {
    if (!Number.isInteger(app) || app < FIRST_USER_APP || app > 0xffff) throw new RangeError(`app tag ${app}: user tags are ${FIRST_USER_APP}..65535`);
    this.handlers.set(app, handler);
  }

  /** Packets from any link's data channel (the IP forwarder's receive side). One handler. */
  onData(handler: DataHandler): void {
    this.dataHandler = handler;
  }

  directLink(dest: RingAddress): Link | undefined {
    const e = this.table.get(dest);
    if (!e) return undefined;
    e.lastUsed = this.deps.clock.now();
    return e.link;
  }

  requestShortcut(dest: RingAddress): void {
    if (dest !== this.address && !this.stopped) this.connect(dest, 'shortcut');
  }

  status(): OverlayStatus {
    const near = this.table.nearSet();
    const links: OverlayStatus['links'] = [];
    for (const e of this.table.all()) {
      const info = e.link.info();
      const kind = near.has(e.address) ? 'near' : e.far ? 'far' : e.shortcut ? 'shortcut' : e.bootstrap ? 'bootstrap' : 'far';
      const rttMs = e.rttMs ?? info.rttMs;
      links.push({ remote: addressHex(e.address), kind, path: info.path, detail: info.detail, ...(rttMs !== undefined ? { rttMs } : {}) });
    }
    links.sort((a, b) => (a.remote < b.remote ? -1 : 1));
    return {
      address: addressHex(this.address),
      links,
      dhtRecordsHeld: this.dhtService.store.liveCount(this.deps.clock.now()),
      counters: { ...this.counters },
    };
  }

  /** Leaves: hands our DHT copies to the neighbours, closes links, stops timers. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.dhtService.handOff();
    this.stopped = true;
    // Tunnels end with CLOSE frames while our links still stand; no healing (we are stopped).
    this.relay?.stop();
    for (const t of this.timers) t.cancel();
    this.topologyTimer?.cancel();
    for (const [, f] of this.finds) {
      f.timer.cancel();
      f.done(undefined);
    }
    this.finds.clear();
    this.dhtService.stop();
    for (const e of [...this.table.all()]) {
      this.table.remove(e.address);
      e.link.close('leaving');
    }
    for (const [link, t] of this.byes) {
      t.cancel();
      link.close('leaving');
    }
    this.byes.clear();
    this.deps.connector.close();
  }

  /**
   * Milliseconds until a joining node trusts its own table: 0 for a founder, and once joined with no
   * near-set dial pending (its FIND placed it and it linked the neighbours it was told of); at most
   * settleMs after joining either way.
   */
  private unsettledFor(): number {
    if (!this.joined) return this.table.size === 0 ? 0 : this.options.settleMs;
    const left = Math.max(0, this.joinedAt + this.options.settleMs - this.deps.clock.now());
    if (left === 0) return 0;
    for (const p of this.pendingDials.values()) if (!p.far && !p.shortcut) return left;
    return 0;
  }

  /** Milliseconds an exclusive create `f` still waits for our near set to be quiet (bounded by settleMs per request). */
  private unquietFor(f: RoutedFrame): number {
    const now = this.deps.clock.now();
    let since = this.deferredSince.get(f);
    if (since === undefined) this.deferredSince.set(f, (since = now));
    if (now - since >= this.options.settleMs) return 0;
    return Math.max(0, this.nearChangedAt + this.options.dhtQuietMs - now);
  }

  private randomNeighbour(): RingAddress | undefined {
    const all = this.table.addresses();
    return all.length ? all[this.deps.random.int(all.length)] : undefined;
  }

  // ---- introspection for tests and the simulator -------------------------------------------

  /** Linked addresses (sorted). */
  neighbours(): readonly RingAddress[] {
    return this.table.addresses();
  }
  successors(n?: number): RingAddress[] {
    return this.table.successors(n);
  }
  predecessors(n?: number): RingAddress[] {
    return this.table.predecessors(n);
  }
  counter(name: string): number {
    return this.counters[name] ?? 0;
  }
  get isJoined(): boolean {
    return this.joined;
  }

  // ---- links -------------------------------------------------------------------------------

  private count(name: string, by = 1): void {
    this.counters[name] = (this.counters[name] ?? 0) + by;
  }

  /** Decodes peer input; a malformed one (WireError) is counted under `counter` and yields undefined. */
  private decodeOrCount<T>(decode: (bytes: Uint8Array) => T, bytes: Uint8Array, counter: string): T | undefined {
    try {
      return decode(bytes);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      this.count(counter);
      return undefined;
    }
  }

  private log(line: string): void {
    this.deps.log?.(`[${addressHex(this.address).slice(0, 8)}] ${line}`);
  }

  /** Takes a link into the table (or refuses a duplicate); true if it was kept. */
  private adopt(link: Link, how: 'dialed' | 'incoming' | 'bootstrap', purposes?: { far: boolean; shortcut: boolean }): boolean {
    if (this.stopped || link.closed || link.remote === this.address) {
      link.close(this.stopped ? 'stopped' : 'unusable');
      return false;
    }
    const now = this.deps.clock.now();
    const remote = link.remote;
    const existing = this.table.get(remote);
    if (existing && existing.link instanceof RelayLink === link instanceof RelayLink && now - existing.addedAt > this.options.duplicateGlareMs) {
      // Not a dial race: the peer lost the old link (e.g. restarted). Keeping it would refuse the
      // peer's only link and leave it cut off until our keepalive finds the old one dead.
      this.count('links_replaced_stale');
      this.dropEntry(existing, 'stale');
    } else if (existing) {
      // Two links to one peer (both dialed at once): both sides keep the one the lower address dialed.
      const dialedByLower = (byUs: boolean) => (byUs ? this.address < remote : remote < this.address);
      const merge = (e: TableEntry) => {
        e.far ||= purposes?.far ?? false;
        e.shortcut ||= purposes?.shortcut ?? false;
        e.bootstrap ||= how === 'bootstrap';
      };
      // A direct link always wins over a relay edge (the relay was only a fallback); otherwise
      // both sides keep the one the lower address dialed.
      const relayedNew = link instanceof RelayLink;
      const relayedOld = existing.link instanceof RelayLink;
      const takeNew = relayedNew !== relayedOld ? relayedOld : dialedByLower(how === 'dialed') && !dialedByLower(existing.dialedByUs);
      if (takeNew) {
        if (relayedOld && !relayedNew) this.count('relay_replaced_by_direct');
        const old = existing.link;
        existing.link = link;
        existing.dialedByUs = how === 'dialed';
        merge(existing);
        this.installHandlers(link);
        this.sayBye(old, 'duplicate');
        this.count('links_replaced_duplicate');
        return true;
      }
      merge(existing);
      // Frames the peer already sent on the refused link still count: take them, then close it.
      this.installHandlers(link);
      this.sayBye(link, 'duplicate');
      this.count('links_refused_duplicate');
      return false;
    }
    const entry: TableEntry = {
      address: remote,
      link,
      dialedByUs: how === 'dialed',
      far: purposes?.far ?? false,
      shortcut: purposes?.shortcut ?? false,
      bootstrap: how === 'bootstrap',
      // A bootstrap link reaching a member comes from a newcomer (not yet routable); reaching a
      // newcomer, it comes from the member it joins through. A real bootstrap endpoint's newcomers
      // arrive as incoming links, announced by expectNewcomer.
      transit: !((how === 'bootstrap' && this.joined) || this.newcomers.delete(remote)),
      remoteWants: true,
      announcedWant: true,
      addedAt: now,
      lastHeard: now,
      lastUsed: now,
    };
    const wasAlone = this.table.size === 0;
    this.table.add(entry);
    this.installHandlers(link);
    this.count('links_opened');
    // A founder (or a node left alone) that someone just reached: place ourselves through it now, so
    // DHT requests we are primary for are not deferred until the next self-FIND.
    if (wasAlone && how === 'incoming' && !this.joined && this.started) this.join();
    // A bootstrap peer is a random member, not a neighbour: the join's FIND finds the neighbours.
    if (how !== 'bootstrap' && this.joined && this.table.isNear(remote)) this.sendFrame(entry, { type: FRAME_NEIGHBORS, wantReply: true, addresses: this.nearList() });
    this.topologyChanged();
    return true;
  }

  private installHandlers(link: Link): void {
    const remote = link.remote;
    let entry: TableEntry | undefined; // the table entry this link last served: no lookup per frame
    link.setHandlers({
      control: (frame) => {
        if (this.stopped) return;
        if (entry === undefined || entry.removed || entry.link !== link) entry = this.table.get(remote);
        const e = entry;
        if (e && e.link === link) this.onFrame(e, frame);
        else this.onStrayFrame(link, frame);
      },
      data: (packet) => {
        if (this.stopped) return;
        // The data channel carries IP frames (magic 0x56) and tunnelled packets (relay op 0xA5).
        if (packet[0] === RELAY_OP_DATA && this.relay) this.relay.onData(remote, packet);
        else this.dataHandler?.(remote, packet);
      },
      close: (reason) => this.onLinkClosed(link, reason),
    });
  }

  private onLinkClosed(link: Link, reason: string): void {
    this.byes.get(link)?.cancel();
    this.byes.delete(link);
    const e = this.table.get(link.remote);
    if (!e || e.link !== link || this.stopped) return;
    const heal = link instanceof RelayLink && this.wants(e, this.deps.clock.now());
    this.dropEntry(e, reason);
    if (heal) {
      // The tunnel went under us (its middle node left or lost the other end): rebuild it through
      // another common neighbour at once; meanwhile traffic is routed over the overlay.
      this.count('relay_heals');
      this.connectRelay(link.remote, { far: e.far, shortcut: e.shortcut }, `rebuilt after ${reason}`, undefined, new Set([link.via]));
    }
  }

  /** Forgets a link: at once for a dead one ('timeout'), by BYE handshake otherwise, so nothing in flight is lost. */
  private dropEntry(e: TableEntry, reason: string, how: 'close' | 'bye' | 'none' = 'close'): void {
    const wasNear = this.table.isNear(e.address);
    this.table.remove(e.address);
    if (how === 'close') e.link.close(reason);
    else if (how === 'bye') this.sayBye(e.link, reason);
    this.count(`links_closed_${reason === 'timeout' || reason === 'released' || reason === 'duplicate' ? reason : 'other'}`);
    if (wasNear) this.nearLost = true;
    this.relay?.neighbourGone(e.address);
    this.directRetryAt.delete(e.address);
    if (this.deps.log) this.log(`drop ${addressHex(e.address).slice(0, 8)} ${reason} ${how} near=${wasNear}`);
    this.topologyChanged();
  }

  /** `near`: the caller's fresh `table.isNear(e.address)`, if it has one. */
  private wants(e: TableEntry, now: number, near = this.table.isNear(e.address)): boolean {
    return near || e.far || e.shortcut || (e.bootstrap && now - e.addedAt < this.options.bootstrapGraceMs);
  }

  /** A probe went unanswered: nothing heard from the peer for pongTimeoutMs since we pinged. */
  private isDead(e: TableEntry, now: number): boolean {
    return e.pingSentAt !== undefined && e.pingNonce !== undefined && e.lastHeard < e.pingSentAt && now - e.pingSentAt > this.options.pongTimeoutMs;
  }

  /** We send on a link that has been quiet for a while: ask for a sign of life (fast crash detection). */
  private probeIfQuiet(e: TableEntry, now: number): void {
    if (now - e.lastHeard > this.options.probeQuietMs && (e.pingNonce === undefined || e.lastHeard > (e.pingSentAt ?? 0))) this.ping(e, now);
  }

  private ping(e: TableEntry, now: number): void {
    e.pingNonce = this.deps.random.int(0xffffffff);
    e.pingSentAt = now;
    this.sendFrame(e, { type: FRAME_PING, nonce: e.pingNonce });
  }

  private sayBye(link: Link, reason: string): void {
    if (link.closed || this.byes.has(link)) return;
    this.sendFrameOn(link, { type: FRAME_BYE, ack: false });
    this.byes.set(
      link,
      this.deps.clock.setTimeout(() => {
        this.byes.delete(link);
        link.close(reason);
      }, this.options.byeTimeoutMs),
    );
  }

  /** Frames on a link that is no longer our table's link to that peer (being closed by BYE). */
  private onStrayFrame(link: Link, bytes: Uint8Array): void {
    const f = this.decodeOrCount(decodeFrame, bytes, 'frames_malformed');
    if (!f) return;
    if (f.type === FRAME_ROUTED) this.route(f, false, bytes);
    else if (f.type === FRAME_BYE) {
      if (f.ack) link.close('released');
      else this.sendFrameOn(link, { type: FRAME_BYE, ack: true });
    }
  }

  private sendFrameOn(link: Link, f: Frame): boolean {
    this.count('control_frames_out');
    return link.sendControl(encodeFrame(f));
  }

  private sendFrame(e: TableEntry, f: Frame): boolean {
    return this.sendEncoded(e, encodeFrame(f), f.type === FRAME_ROUTED ? f.app : undefined);
  }

  /** Sends encoded frame bytes; `app` for routed frames (user apps are counted apart). */
  private sendEncoded(e: TableEntry, bytes: Uint8Array, app?: number): boolean {
    const ok = e.link.sendControl(bytes);
    if (!ok) this.count('frames_send_failed');
    if (app !== undefined && app >= FIRST_USER_APP) this.count('app_frames_out');
    else this.count('control_frames_out');
    return ok;
  }

  private sendLocal(peer: RingAddress, kind: number, payload: Uint8Array): boolean {
    const e = this.table.get(peer);
    if (!e) return false;
    return this.sendFrame(e, { type: FRAME_LOCAL, kind, payload });
  }

  private nearList(): RingAddress[] {
    return [...this.table.nearSet()].slice(0, MAX_NEIGHBORS_PER_FRAME);
  }

  // ---- frames ------------------------------------------------------------------------------

  private onFrame(e: TableEntry, bytes: Uint8Array): void {
    e.lastHeard = this.deps.clock.now();
    // A near neighbour sends the same list every stabilize period: decode it once.
    const cached = bytes[0] === FRAME_NEIGHBORS ? this.lastNeighbours.get(e) : undefined;
    const f = cached !== undefined && cached.bytes.length === bytes.length && Buffer.compare(cached.bytes, bytes) === 0 ? cached.frame : this.decodeOrCount(decodeFrame, bytes, 'frames_malformed');
    if (!f) return;
    switch (f.type) {
      case FRAME_ROUTED:
        this.route(f, false, bytes);
        return;
      case FRAME_PING:
        this.sendFrame(e, { type: FRAME_PONG, nonce: f.nonce });
        return;
      case FRAME_PONG:
        if (e.pingNonce === f.nonce && e.pingSentAt !== undefined) e.rttMs = e.lastHeard - e.pingSentAt;
        e.pingNonce = undefined;
        return;
      case FRAME_NEIGHBORS:
        if (f !== cached?.frame) this.lastNeighbours.set(e, { bytes, frame: f });
        if (!e.transit) this.table.setTransit(e.address, true); // only placed nodes send lists
        this.considerCandidates(f.addresses, e.address, true);
        // Answer when asked, and when the sender counts us near but we do not count it: it is then
        // missing nodes between us that only we can name (near sets are not symmetric while the ring
        // fills in, and our own lists go only to our near set, so it would never hear of them).
        if (this.joined && (f.wantReply || (!f.answer && !this.table.isNear(e.address)))) this.sendFrame(e, { type: FRAME_NEIGHBORS, wantReply: false, answer: true, addresses: this.nearList() });
        return;
      case FRAME_WANT:
        e.remoteWants = f.want;
        if (!f.want && !this.wants(e, e.lastHeard)) this.dropEntry(e, 'released', 'bye');
        return;
      case FRAME_BYE:
        if (f.ack) {
          e.link.close('released');
          this.dropEntry(e, 'released', 'none');
        } else {
          // The peer stops using the link: so do we, then ack so it can close.
          this.dropEntry(e, 'released', 'none');
          this.sendFrameOn(e.link, { type: FRAME_BYE, ack: true });
        }
        return;
      case FRAME_LOCAL:
        if (f.kind === LOCAL_DHT) this.onLocalDht(e.address, f.payload);
        else if (f.kind === LOCAL_RELAY && this.relay) this.relay.onControl(e.address, f.payload);
        else this.count('frames_unknown_local');
        return;
    }
  }

  private onLocalDht(from: RingAddress, payload: Uint8Array): void {
    const m = this.decodeOrCount(decodeDhtMessage, payload, 'dht_malformed');
    if (!m) return;
    if (m.t === 'store' || m.t === 'stored' || m.t === 'fetch' || m.t === 'copies' || m.t === 'drop') this.dhtService.onLocal(from, m as ReplicaMessage);
    else this.count('dht_malformed');
  }

  // ---- routing -----------------------------------------------------------------------------

  /**
   * Originates a routed message. `via`: route to that node first (it links to `dest`);
   * `askReplyVia`: tell the receiver to answer through our first hop (we may not be on the ring yet).
   * Returns false if there is no route at all.
   */
  private sendRouted(dest: RingAddress, app: number, payload: Uint8Array, o: { exact: boolean; via?: RingAddress; askReplyVia?: boolean; notSrc?: boolean }): boolean {
    if (this.stopped) return false;
    const frame: RoutedFrame = { type: FRAME_ROUTED, exact: o.exact, hops: 0, hopLimit: this.options.hopLimit, app, src: this.address, dest, payload };
    if (o.via !== undefined && o.via !== this.address) frame.via = o.via;
    if (o.notSrc) frame.notSrc = true;
    return this.route(frame, o.askReplyVia ?? false);
  }

  /**
   * One routing step for a message here (originated or received). `wire`: the frame's bytes as
   * received; a forwarded frame is sent on as those bytes with the hop count patched, not re-encoded
   * (most frames a node handles are in transit).
   */
  private route(f: RoutedFrame, askReplyVia = false, wire?: Uint8Array): boolean {
    if (f.via === this.address) {
      delete f.via;
      wire = undefined;
    }
    const target = f.via ?? f.dest;
    const exact = f.via !== undefined || f.exact;
    const d = nextHop(this.table, target, exact, f.notSrc ? f.src : undefined);
    if (d.kind === 'deliver') {
      this.deliver(f);
      return true;
    }
    if (d.kind === 'drop') {
      this.count(`route_drop_${d.reason}`);
      if (this.deps.log) this.log(`route drop ${d.reason} app=${f.app} src=${addressHex(f.src).slice(0, 8)} dest=${addressHex(f.dest).slice(0, 8)}`);
      return false;
    }
    if (f.hops >= f.hopLimit) {
      this.count('route_drop_hop_limit');
      return false;
    }
    const e = this.table.get(d.next)!;
    const now = this.deps.clock.now();
    if (this.isDead(e, now)) {
      // The peer stopped answering our probe: drop it and route around it.
      this.count('link_failures_detected');
      this.dropEntry(e, 'timeout');
      return this.route(f, askReplyVia, wire);
    }
    this.probeIfQuiet(e, now);
    if (f.app >= FIRST_USER_APP) e.lastUsed = now;
    if (f.hops > 0) this.count('routed_forwarded');
    // The frame is ours (decoded for this hop or built by us): update it in place.
    f.hops++;
    if (askReplyVia && d.next !== f.dest) f.replyVia = d.next;
    else if (wire !== undefined) return this.sendEncoded(e, withRoutedHops(wire, f.hops), f.app);
    return this.sendFrame(e, f);
  }

  private deliver(f: RoutedFrame): void {
    this.count('routed_delivered');
    switch (f.app) {
      case APP_FIND:
        return this.onFind(f);
      case APP_FOUND:
        return this.onFound(f);
      case APP_SIGNAL:
        if (f.src === this.address) return;
        this.deps.connector.onSignal(f.src, f.payload, (payload) => void this.sendRouted(f.src, APP_SIGNAL, payload, { exact: true, via: f.replyVia, notSrc: true }));
        return;
      case APP_DHT:
        return this.onDhtRouted(f);
      case APP_RELAY:
        if (this.relay && f.src !== this.address) this.relay.onRouted(f.src, f.payload, f.replyVia);
        return;
      default: {
        if (f.app < FIRST_USER_APP) {
          this.count('routed_unknown_app');
          return;
        }
        const h = this.handlers.get(f.app);
        if (!h) {
          this.count('routed_no_handler');
          return;
        }
        h({ from: f.src, payload: f.payload, hops: f.hops });
      }
    }
  }

  private onDhtRouted(f: RoutedFrame): void {
    const m = this.decodeOrCount(decodeDhtMessage, f.payload, 'dht_malformed');
    if (!m) return;
    if (m.t === 'put' || m.t === 'get') {
      const wait = this.unsettledFor() || (m.t === 'put' && m.exclusive ? this.unquietFor(f) : 0);
      if (wait > 0) {
        // We only just joined: our table may not yet hold the nodes between us and the key, so we
        // may wrongly believe we are its primary. Route the request again once settled.
        this.count('dht_requests_deferred');
        this.deps.clock.setTimeout(() => this.route(f), Math.min(wait, SETTLE_POLL_MS));
        return;
      }
      this.dhtService.onRequest(f.src, f.replyVia, m);
    }
    else if (m.t === 'ok' || m.t === 'err') this.dhtService.onResponse(m);
    else this.count('dht_malformed');
  }

  // ---- FIND / FOUND ------------------------------------------------------------------------

  /** Asks the node closest to `position` (other than us) who it is and who its near neighbours are. */
  private find(position: RingAddress): Promise<FindResult | undefined> {
    return new Promise((resolve) => {
      this.nextFindId = this.nextFindId >= 0xfffffffe ? 1 : this.nextFindId + 1;
      const id = this.nextFindId;
      const timer = this.deps.clock.setTimeout(() => {
        this.finds.delete(id);
        this.count('find_timeouts');
        resolve(undefined);
      }, this.options.findTimeoutMs);
      this.finds.set(id, { done: resolve, timer });
      if (!this.sendRouted(position, APP_FIND, encodeFind({ id }), { exact: false, askReplyVia: true, notSrc: true })) {
        timer.cancel();
        this.finds.delete(id);
        resolve(undefined);
      }
    });
  }

  private onFind(f: RoutedFrame): void {
    if (f.src === this.address) return;
    const find = this.decodeOrCount(decodeFind, f.payload, 'find_malformed');
    if (!find) return;
    const id = find.id;
    this.sendRouted(f.src, APP_FOUND, encodeFound({ id, near: this.nearList() }), { exact: true, via: f.replyVia, notSrc: true });
  }

  private onFound(f: RoutedFrame): void {
    const m = this.decodeOrCount(decodeFound, f.payload, 'find_malformed');
    if (!m) return;
    const w = this.finds.get(m.id);
    if (!w) return;
    this.finds.delete(m.id);
    w.timer.cancel();
    w.done({ from: f.src, near: m.near });
  }

  // ---- joining and the near set ------------------------------------------------------------

  private join(): void {
    if (this.joining || this.stopped) return;
    this.joining = true;
    this.count('join_attempts');
    void this.find(this.address).then((r) => {
      this.joining = false;
      if (!r || this.stopped) return;
      if (!this.joined) this.joinedAt = this.deps.clock.now();
      this.joined = true;
      if (this.deps.log) this.log(`found ${addressHex(r.from)}`);
      this.considerCandidates([r.from]);
      this.considerCandidates(r.near, r.from);
    });
  }

  /**
   * Dials every candidate that belongs in our near set. `informer` told us about them and links to
   * them, so our signalling goes through it: greedy routing alone cannot reach a node that the ring
   * around it does not know yet.
   */
  private considerCandidates(candidates: RingAddress[], informer?: RingAddress, neighbourList = false): void {
    // Before our FIND has placed us, neighbour lists (from a random bootstrap peer) would only lead
    // us on a walk round the ring.
    if (!this.joined) return;
    // A neighbour's list with several nodes between us and our nearest neighbours: our FIND was answered
    // by a node that did not know our part of the ring (it happens in join storms). Following such lists
    // walks us home three nodes per dial (hundreds of dials); a FIND for our own address jumps there.
    const now = this.deps.clock.now();
    const usable = candidates.filter((c) => !this.pendingDials.has(c) && !((this.cooldownUntil.get(c) ?? 0) > now));
    const near = this.table.nearCandidates(usable, this.pendingDials.keys());
    const k = this.options.nearPerSide;
    if (neighbourList && near.length >= k && this.table.insideGaps(near) >= k) {
      this.count('near_jumps');
      this.join();
      return;
    }
    for (const c of near) this.connect(c, 'near', informer);
  }

  private connect(remote: RingAddress, purpose: Purpose, via?: RingAddress): void {
    const e = this.table.get(remote);
    const now = this.deps.clock.now();
    if (e) {
      if (purpose === 'far') e.far = true;
      if (purpose === 'shortcut') {
        e.shortcut = true;
        e.lastUsed = now;
      }
      this.announceWant(e, now);
      return;
    }
    const pending = this.pendingDials.get(remote);
    if (pending) {
      pending.far ||= purpose === 'far';
      pending.shortcut ||= purpose === 'shortcut';
      return;
    }
    if ((this.cooldownUntil.get(remote) ?? 0) > now) return;
    this.pendingDials.set(remote, { far: purpose === 'far', shortcut: purpose === 'shortcut' });
    this.count(`dials_${purpose}`);
    if (this.deps.log) this.log(`dial ${purpose} ${addressHex(remote).slice(0, 8)} links=${this.table.size}`);
    const headStart = this.options.relayHeadStartMs;
    const relayTimer =
      this.relay && purpose !== 'far' && headStart > 0
        ? this.deps.clock.setTimeout(() => {
            const p = this.pendingDials.get(remote);
            if (p && !this.table.has(remote) && !this.stopped) this.connectRelay(remote, p, `direct dial still pending after ${headStart} ms`, via);
          }, headStart)
        : undefined;
    this.deps.connector
      .dial(remote, (payload) => void this.sendRouted(remote, APP_SIGNAL, payload, { exact: true, askReplyVia: true, notSrc: true, ...(via !== undefined ? { via } : {}) }))
      .then(
        (link) => {
          relayTimer?.cancel();
          const p = this.pendingDials.get(remote);
          this.pendingDials.delete(remote);
          this.adopt(link, 'dialed', p);
        },
        (err: Error) => {
          relayTimer?.cancel();
          const p = this.pendingDials.get(remote);
          this.pendingDials.delete(remote);
          if (this.stopped) return;
          this.log(`dial ${addressHex(remote).slice(0, 8)} failed: ${err.message}`);
          this.count('dial_failures');
          this.cooldownUntil.set(remote, this.deps.clock.now() + this.options.dialCooldownMs);
          // Far links are random picks (another will do); near and shortcut peers are worth a relay.
          if (p && purpose !== 'far' && !this.table.has(remote)) this.connectRelay(remote, p, `direct dial failed (${err.message})`, via);
        },
      );
  }

  private announceWant(e: TableEntry, now: number, near?: boolean): boolean {
    const want = this.wants(e, now, near);
    if (want !== e.announcedWant) {
      e.announcedWant = want;
      this.sendFrame(e, { type: FRAME_WANT, want });
    }
    return want;
  }

  /** Near set changed (debounced): tell the near neighbours, re-replicate DHT values. */
  private topologyChanged(): void {
    if (this.topologyTimer || this.stopped) return;
    this.topologyTimer = this.deps.clock.setTimeout(() => {
      this.topologyTimer = undefined;
      if (this.stopped) return;
      const near = this.table.nearSet();
      const key = [...near].sort().join(',');
      if (key === this.nearKey) return;
      this.nearKey = key;
      this.nearChangedAt = this.deps.clock.now();
      const askBack = this.nearLost;
      this.nearLost = false;
      if (askBack) this.join();
      // Until our FIND has placed us our list is only our bootstrap peer; and a list is how a peer
      // learns we can route for it.
      if (this.joined) {
        const bytes = encodeFrame({ type: FRAME_NEIGHBORS, wantReply: askBack, addresses: this.nearList() });
        for (const a of [...near]) {
          const e = this.table.get(a); // sending may drop a dead link on the way
          if (e) this.sendEncoded(e, bytes);
        }
      }
      this.dhtService.onNeighboursChanged();
    }, this.options.topologyDebounceMs);
  }

  private stabilize(): void {
    if (this.stopped || !this.joined) return;
    const bytes = encodeFrame({ type: FRAME_NEIGHBORS, wantReply: false, addresses: this.nearList() });
    for (const a of [...this.table.nearSet()]) {
      const e = this.table.get(a);
      if (e) this.sendEncoded(e, bytes);
    }
  }

  // ---- far links ---------------------------------------------------------------------------

  /** Network size estimated from how densely our near neighbours sit around us. */
  estimateSize(): number {
    const succ = this.table.successors();
    const pred = this.table.predecessors();
    if (succ.length === 0 || pred.length === 0) return 1 + this.table.size;
    const span = cwDist(pred[pred.length - 1]!, succ[succ.length - 1]!);
    if (span === 0n) return 1 + this.table.size;
    const nodes = succ.length + pred.length;
    const fraction = Number((span << 32n) >> BigInt(RING_BITS)) / 2 ** 32;
    return Math.max(nodes + 1, nodes / Math.max(fraction, 2 ** -32));
  }

  private farTarget(): number {
    if (this.options.farLinks !== 'auto') return this.options.farLinks;
    return Math.min(this.options.maxFarLinks, Math.max(1, Math.round(Math.log2(this.estimateSize()))));
  }

  /** Symphony: a distance drawn from the harmonic distribution between N^-1 and 1 of the ring, either way. */
  private farPosition(n: number): RingAddress {
    const exponent = RING_BITS + (this.deps.random.float() - 1) * Math.log2(Math.max(n, 2));
    const whole = Math.floor(exponent);
    const mantissa = BigInt(Math.floor(2 ** (exponent - whole) * 2 ** 32));
    const dist = whole >= 32 ? mantissa << BigInt(whole - 32) : mantissa >> BigInt(32 - whole);
    return ringAdd(this.address, this.deps.random.float() < 0.5 ? dist : -dist);
  }

  private maintainFarLinks(): void {
    if (this.stopped || !this.joined) return;
    let far = this.farFindsInFlight;
    for (const e of this.table.all()) if (e.far) far++;
    for (const p of this.pendingDials.values()) if (p.far) far++;
    const target = this.farTarget();
    if (far > target + 1) {
      for (const e of this.table.all()) {
        if (e.far) {
          e.far = false;
          this.count('far_released');
          break;
        }
      }
      return;
    }
    const n = this.estimateSize();
    for (let i = 0; i < Math.min(target - far, this.options.farFindsPerRound); i++) {
      this.farFindsInFlight++;
      void this.find(this.farPosition(n)).then((r) => {
        this.farFindsInFlight--;
        if (!r || this.stopped || r.from === this.address) return;
        if (this.table.get(r.from)?.far) return;
        this.connect(r.from, 'far');
      });
    }
  }

  // ---- maintenance tick --------------------------------------------------------------------

  private noteTraffic(dest: RingAddress): void {
    const n = (this.traffic.get(dest) ?? 0) + 1;
    this.traffic.set(dest, n);
    if (n === this.options.shortcutAfterMessages && !this.table.has(dest)) {
      this.count('shortcuts_auto');
      this.connect(dest, 'shortcut');
    }
  }

  private tick(): void {
    if (this.stopped) return;
    const now = this.deps.clock.now();
    const o = this.options;
    for (const e of [...this.table.all()]) {
      if (e.removed) continue; // dropped during this tick
      const silent = now - e.lastHeard;
      if (silent > o.linkTimeoutMs || this.isDead(e, now)) {
        this.count('link_timeouts');
        if (this.deps.log) this.log(`timeout ${addressHex(e.address).slice(0, 8)} link=${e.link.id} closed=${e.link.closed} added=${e.addedAt.toFixed(0)} heard=${e.lastHeard.toFixed(0)}`);
        this.dropEntry(e, 'timeout');
        continue;
      }
      // Near links carry the ring and the DHT's replica sets: they are checked more often.
      const near = this.table.isNear(e.address);
      const interval = near ? o.nearPingIntervalMs : o.pingIntervalMs;
      if (silent > interval && (e.pingSentAt === undefined || now - e.pingSentAt > interval)) this.ping(e, now);
      if (e.shortcut && now - e.lastUsed > o.shortcutIdleMs) e.shortcut = false;
      if (e.link instanceof RelayLink) this.maybeRetryDirect(e, now);
      if (!this.announceWant(e, now, near) && !e.remoteWants) this.dropEntry(e, 'released', 'bye');
    }
    this.dhtService.tick(now);
    for (const [a, t] of this.cooldownUntil) if (t <= now) this.cooldownUntil.delete(a);
    if (now - this.trafficWindowStart >= o.shortcutWindowMs) {
      this.traffic.clear();
      this.trafficWindowStart = now;
    }
    if (!this.joined && this.table.size > 0) this.join();
  }
  // ---- relay edges -------------------------------------------------------------------------

  /** The table entry of `peer` if its link is live and direct (not itself a relay edge). */
  private directEntry(peer: RingAddress, sending = false): TableEntry | undefined {
    const e = this.table.get(peer);
    if (!e || e.link.closed || e.link instanceof RelayLink) return undefined;
    if (sending) {
      const now = this.deps.clock.now();
      if (this.isDead(e, now)) {
        this.count('link_failures_detected');
        this.dropEntry(e, 'timeout');
        return undefined;
      }
      this.probeIfQuiet(e, now);
    }
    return e;
  }

  private directNeighbours(): RelayCandidate[] {
    const out: RelayCandidate[] = [];
    for (const e of this.table.all()) {
      if (e.link.closed || e.link instanceof RelayLink) continue;
      const rttMs = e.rttMs ?? e.link.info().rttMs;
      out.push(rttMs !== undefined ? { address: e.address, rttMs } : { address: e.address });
    }
    return out;
  }

  /** Links to `remote` through a common neighbour (the direct dial failed, or the old tunnel went). */
  private connectRelay(remote: RingAddress, purposes: { far: boolean; shortcut: boolean }, why: string, via?: RingAddress, avoid?: ReadonlySet<RingAddress>): void {
    const relay = this.relay;
    if (!relay || this.stopped || this.table.has(remote) || this.pendingRelays.has(remote)) return;
    this.pendingRelays.add(remote);
    this.count('relay_dials_started');
    relay.dial(remote, why, { ...(via !== undefined ? { via } : {}), ...(avoid ? { avoid } : {}) }).then(
      (link) => {
        this.pendingRelays.delete(remote);
        // A direct dial still running adds its purposes when it lands (it then replaces the relay).
        this.adopt(link, 'dialed', { ...purposes });
      },
      (err: Error) => {
        this.pendingRelays.delete(remote);
        if (this.stopped) return;
        this.count('relay_dial_failures');
        this.log(`relay to ${addressHex(remote).slice(0, 8)} failed: ${err.message}`);
      },
    );
  }

  /** A relayed peer gets a direct dial now and then (by the lower address); success replaces the tunnel. */
  private maybeRetryDirect(e: TableEntry, now: number): void {
    const every = this.options.relayDirectRetryMs;
    if (every <= 0 || this.address > e.address || this.directRetries.has(e.address)) return;
    const last = this.directRetryAt.get(e.address);
    if (last === undefined ? now - e.addedAt < this.options.relayFirstDirectRetryMs : now - last < every) return;
    this.directRetryAt.set(e.address, now);
    this.directRetries.add(e.address);
    this.count('relay_direct_retries');
    const remote = e.address;
    this.deps.connector
      .dial(remote, (payload) => void this.sendRouted(remote, APP_SIGNAL, payload, { exact: true, askReplyVia: true, notSrc: true }))
      .then(
        (link) => {
          this.directRetries.delete(remote);
          const cur = this.table.get(remote);
          this.adopt(link, 'dialed', cur ? { far: cur.far, shortcut: cur.shortcut } : undefined);
        },
        () => {
          this.directRetries.delete(remote);
          this.count('relay_direct_retry_failures');
        },
      );
  }
}
