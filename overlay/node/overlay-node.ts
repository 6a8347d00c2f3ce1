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
//
// This file only composes the parts, one job each, behind the narrow host it hands each part:
//   link-admission  which links enter and leave the table (duplicates, closes)
//   link-release    WANT and the BYE handshake          frame-dispatch  arriving frames to their part
//   link-sender     sending and counting frames         liveness        PING/PONG, dead peers
//   router          greedy routing, delivery by app     finder          FIND/FOUND
//   ring-keeper     join, near-set exchange             dialer          dials, cooldowns
//   far-links       Symphony far links                  shortcut-trigger  shortcuts for heavy traffic
//   relay-fallback  relay edges when direct dials fail  dht-gate        DHT messages, the settle gate
//   maintenance     the tick: keepalive, timeouts and the periodic chores
import type { Dht, Overlay, OverlayStatus, RoutedMessage } from '../api.js';
import type { Clock, Random } from '../../lib/clock.js';
import type { Identity } from '../identity.js';
import type { Connector, Link } from '../link/link.js';
import type { RingAddress } from '../ring/ring.js';
import { DhtService } from '../dht/dht-service.js';
import { ConnectionTable, type TableEntry } from '../routing-table/connection-table.js';
import type { ByeFrame, NeighborsFrame, PongFrame, RoutedFrame, WantFrame } from '../wire/link-frame.js';
import { addressHex } from '../ring/ring.js';
import type { RelayMembership, RelayOptions } from '../relay/relay-service.js';
import { APP_DHT, APP_FIND, APP_FOUND, APP_RELAY, APP_SIGNAL, FIRST_USER_APP, LOCAL_DHT, LOCAL_RELAY } from './app-tags.js';
import { Counters, type OverlayCounter } from './counters.js';
import { DhtGate } from './dht-gate.js';
import { Dialer } from './dialer.js';
import { estimateSize, FarLinks } from './far-links.js';
import { Finder } from './finder.js';
import { FrameDispatch } from './frame-dispatch.js';
import { LinkAdmission, type LinkOrigin, type LinkPurposes } from './link-admission.js';
import { LinkRelease } from './link-release.js';
import { LinkSender } from './link-sender.js';
import { Liveness } from './liveness.js';
import { Maintenance } from './maintenance.js';
import { resolveOptions, type OverlayOptions } from './options.js';
import { RelayFallback } from './relay-fallback.js';
import { RingKeeper } from './ring-keeper.js';
import { Router } from './router.js';
import { ShortcutTrigger } from './shortcut-trigger.js';

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

type DataHandler = (from: RingAddress, packet: Uint8Array) => void;

function checkUserApp(app: number): void {
  if (!Number.isInteger(app) || app < FIRST_USER_APP || app > 0xffff) throw new RangeError(`app tag ${app}: user tags are ${FIRST_USER_APP}..65535`);
}

/** What every part of a node may read: the injected basics, and the node's state read live. */
class NodeBasics {
  readonly self: RingAddress;
  readonly clock: Clock;
  readonly random: Random;
  readonly connector: Connector;

  constructor(
    deps: OverlayDeps,
    readonly options: OverlayOptions,
    readonly table: ConnectionTable,
    readonly counters: Counters,
    private readonly state: { readonly started: boolean; readonly stopped: boolean },
    private readonly ring: () => RingKeeper,
    readonly log: ((line: string) => void) | undefined,
  ) {
    this.self = deps.identity.address;
    this.clock = deps.clock;
    this.random = deps.random;
    this.connector = deps.connector;
  }

  get started(): boolean {
    return this.state.started;
  }
  get stopped(): boolean {
    return this.state.stopped;
  }
  /** Our FIND has placed us in the ring; when it first did; when our near set last changed. */
  get joined(): boolean {
    return this.ring().joined;
  }
  get joinedAt(): number {
    return this.ring().joinedAt;
  }
  nearChangedAtApartFrom(address: RingAddress): number {
    return this.ring().nearChangedAtApartFrom(address);
  }
  get linkCount(): number {
    return this.table.size;
  }
  count(name: OverlayCounter): void {
    this.counters.count(name);
  }
}

export class OverlayNode implements Overlay {
  readonly address: RingAddress;
  readonly options: OverlayOptions;
  private readonly table: ConnectionTable;
  private readonly counters = new Counters();
  private readonly dhtService: DhtService;
  private readonly sender: LinkSender;
  private readonly liveness: Liveness;
  private readonly release: LinkRelease;
  private readonly admission: LinkAdmission;
  private readonly dispatch: FrameDispatch;
  private readonly router: Router;
  private readonly finder: Finder;
  private readonly ring: RingKeeper;
  private readonly dialer: Dialer;
  private readonly far: FarLinks;
  private readonly shortcuts: ShortcutTrigger;
  private readonly relay: RelayFallback;
  private readonly gate: DhtGate;
  private readonly maintenance: Maintenance;
  private dataHandler: DataHandler | undefined;
  private readonly state = { started: false, stopped: false };

  constructor(private readonly deps: OverlayDeps, options: Partial<OverlayOptions> = {}) {
    this.options = resolveOptions(options);
    this.address = deps.identity.address;
    this.table = new ConnectionTable(this.address, this.options.nearPerSide);
    const log = deps.log ? (line: string) => this.log(line) : undefined;
    const newBasics = () => new NodeBasics(deps, this.options, this.table, this.counters, this.state, () => this.ring, log);
    // Each part's host: its own basics plus the part's own calls. Built the same way for every node,
    // so the parts' property reads stay monomorphic (hosts on per-node prototypes made them
    // megamorphic: +60% CPU in the simulator).
    const host = <T extends object>(own: T): NodeBasics & T => Object.assign(newBasics(), own);

    // The parts call each other through these (a part may be built after the one that calls it).
    const sendFrame: LinkSender['sendFrame'] = (e, f) => this.sender.sendFrame(e, f);
    const sendEncoded: LinkSender['sendEncoded'] = (e, bytes, app) => this.sender.sendEncoded(e, bytes, app);
    const sendFrameOn: LinkSender['sendFrameOn'] = (link, f) => this.sender.sendFrameOn(link, f);
    const sendRouted: Router['sendRouted'] = (dest, app, payload, o) => this.router.sendRouted(dest, app, payload, o);
    const route = (f: RoutedFrame, wire?: Uint8Array): void => void this.router.route(f, false, wire);
    const adopt: LinkAdmission['adopt'] = (link, how, purposes) => this.admission.adopt(link, how, purposes);
    const dropEntry: LinkAdmission['dropEntry'] = (e, reason, how) => this.admission.dropEntry(e, reason, how);
    const dropDead = (e: TableEntry): void => this.admission.dropEntry(e, 'timeout');
    const find: Finder['find'] = (position) => this.finder.find(position);

    // Built in this order: the finder, the DHT and the relay service each draw an id from `random`.
    this.sender = new LinkSender(newBasics());
    this.liveness = new Liveness(host({ sendFrame }));
    this.release = new LinkRelease(host({ sendFrame, sendFrameOn, dropEntry }));
    this.router = new Router(host({ liveness: this.liveness, dropDead, sendFrame, sendEncoded }));
    this.finder = new Finder(host({ sendRouted, nearList: () => this.ring.nearList() }));
    this.dhtService = new DhtService(
      {
        identity: deps.identity,
        clock: deps.clock,
        random: deps.random,
        self: this.address,
        routeToKey: (position, payload, detour) => sendRouted(position, APP_DHT, payload, { exact: false, askReplyVia: true, ...(detour ? { via: this.randomNeighbour() } : {}) }),
        routeTo: (peer, payload) => sendRouted(peer, APP_DHT, payload, { exact: true, askReplyVia: true }),
        replyTo: (client, via, payload) => void sendRouted(client, APP_DHT, payload, { exact: true, via }),
        sendLocal: (peer, payload) => this.sender.sendLocal(peer, LOCAL_DHT, payload),
        closestPeers: (position, n) => this.table.closestN(position, n),
        count: (name) => this.counters.count(name),
      },
      this.options.dht,
    );
    this.relay = new RelayFallback(host({ identity: deps.identity, liveness: this.liveness, dropDead, sendFrame, sendRouted, adopt }), deps.relay);
    this.dialer = new Dialer(
      host({
        relays: this.relay.enabled,
        signal: (remote: RingAddress, payload: Uint8Array, via?: RingAddress) => void sendRouted(remote, APP_SIGNAL, payload, { exact: true, askReplyVia: true, notSrc: true, ...(via !== undefined ? { via } : {}) }),
        adopt,
        announceWant: (e: TableEntry, now: number) => this.release.announceWant(e, now),
        connectRelay: (remote: RingAddress, purposes: LinkPurposes, why: string, via?: RingAddress) => this.relay.connect(remote, purposes, why, via),
      }),
    );
    this.ring = new RingKeeper(host({ dialer: this.dialer, find, sendFrame, sendEncoded, nearSetChanged: () => this.dhtService.onNeighboursChanged() }));
    this.far = new FarLinks(host({ find, connect: (remote: RingAddress) => this.dialer.connect(remote, 'far'), farDialsPending: () => this.dialer.farDialsPending() }));
    this.shortcuts = new ShortcutTrigger(host({ linked: (dest: RingAddress) => this.table.has(dest), requestShortcut: (dest: RingAddress) => this.dialer.connect(dest, 'shortcut') }));
    this.admission = new LinkAdmission(
      host({
        attach: (link: Link) => this.dispatch.attach(link),
        sayBye: (link: Link, reason: string) => this.release.sayBye(link, reason),
        wants: (e: TableEntry, now: number) => this.release.wants(e, now),
        rebuildRelay: (remote: RingAddress, purposes: LinkPurposes, why: string, avoid: RingAddress) => this.relay.rebuild(remote, purposes, why, avoid),
        added: (entry: TableEntry, origin: LinkOrigin, wasAlone: boolean) => this.ring.added(entry, origin, wasAlone),
        removed: (address: RingAddress, wasNear: boolean) => {
          this.ring.removed(wasNear);
          this.relay.neighbourGone(address);
        },
        topologyChanged: () => this.ring.topologyChanged(),
        linkClosed: (link: Link) => this.release.closed(link),
      }),
    );
    this.dispatch = new FrameDispatch(
      host({
        sendFrame,
        route,
        onPong: (e: TableEntry, f: PongFrame) => this.liveness.onPong(e, f),
        onNeighbors: (e: TableEntry, f: NeighborsFrame) => this.ring.onNeighbors(e, f),
        onWant: (e: TableEntry, f: WantFrame) => this.release.onWant(e, f),
        onBye: (e: TableEntry, f: ByeFrame) => this.release.onBye(e, f),
        onStrayBye: (link: Link, f: ByeFrame) => this.release.onStrayBye(link, f),
        onLocal: (from: RingAddress, kind: number, payload: Uint8Array) => {
          if (kind === LOCAL_RELAY) return this.relay.onControl(from, payload);
          if (kind !== LOCAL_DHT) return false;
          this.gate.onLocal(from, payload);
          return true;
        },
        onRelayData: (from: RingAddress, packet: Uint8Array) => this.relay.onData(from, packet),
        onData: (from: RingAddress, packet: Uint8Array) => this.dataHandler?.(from, packet),
        onClosed: (link: Link, reason: string) => this.admission.onLinkClosed(link, reason),
      }),
    );
    this.gate = new DhtGate(host({ dht: this.dhtService, nearDialPending: () => this.dialer.nearDialPending(), route }));
    this.maintenance = new Maintenance(
      host({
        liveness: this.liveness,
        release: this.release,
        dropEntry,
        retryDirect: (e: TableEntry, now: number) => this.relay.maybeRetryDirect(e, now),
        upkeep: (now: number) => {
          this.dhtService.tick(now);
          this.dialer.expireCooldowns(now);
          this.shortcuts.tick(now);
        },
        stabilize: () => this.ring.stabilize(),
        maintainFarLinks: () => this.far.maintain(),
        join: () => this.ring.join(),
      }),
    );
    this.router.onOwnApp(APP_FIND, (f) => this.finder.onFind(f));
    this.router.onOwnApp(APP_FOUND, (f) => this.finder.onFound(f));
    this.router.onOwnApp(APP_SIGNAL, (f) => {
      if (f.src === this.address) return;
      deps.connector.onSignal(f.src, f.payload, (payload) => void sendRouted(f.src, APP_SIGNAL, payload, { exact: true, via: f.replyVia, notSrc: true }));
    });
    this.router.onOwnApp(APP_DHT, (f) => this.gate.onRouted(f));
    this.router.onOwnApp(APP_RELAY, (f) => this.relay.onRouted(f));
  }

  get dht(): Dht {
    return this.dhtService;
  }

  /** Starts timers and accepts incoming links. A node with no links founds a network and waits. */
  start(): void {
    if (this.state.started || this.state.stopped) return;
    this.state.started = true;
    this.deps.connector.onIncoming((link) => this.admission.adopt(link, 'incoming'));
    this.maintenance.start();
    if (this.table.size > 0) this.ring.join();
  }

  expectNewcomer(address: RingAddress): void {
    this.admission.expectNewcomer(address);
  }

  addLink(link: Link): void {
    if (!this.admission.adopt(link, 'bootstrap')) return;
    if (this.state.started) this.ring.join();
  }

  send(dest: RingAddress, app: number, payload: Uint8Array, opts?: { exact?: boolean }): boolean {
    checkUserApp(app);
    if (this.state.stopped) return false;
    const exact = opts?.exact ?? true;
    if (exact && dest !== this.address) this.shortcuts.note(dest);
    return this.router.sendRouted(dest, app, payload, { exact });
  }

  onMessage(app: number, handler: (msg: RoutedMessage) => void): void {
    checkUserApp(app);
    this.router.onMessage(app, handler);
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
    if (dest !== this.address && !this.state.stopped) this.dialer.connect(dest, 'shortcut');
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
      counters: this.counters.snapshot(),
    };
  }

  /** Leaves: hands our DHT copies to the neighbours, closes links, stops timers. Idempotent. */
  async stop(): Promise<void> {
    if (this.state.stopped) return;
    this.dhtService.handOff();
    this.state.stopped = true;
    // Tunnels end with CLOSE frames while our links still stand; no healing (we are stopped).
    this.relay.stop();
    this.maintenance.stop();
    this.ring.stop();
    this.finder.stop();
    this.gate.stop();
    this.dhtService.stop();
    for (const e of [...this.table.all()]) {
      this.table.remove(e.address);
      e.link.close('leaving');
    }
    this.release.stop();
    this.deps.connector.close();
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
    return this.counters.get(name);
  }
  get isJoined(): boolean {
    return this.ring.joined;
  }
  /** Network size estimated from how densely our near neighbours sit around us. */
  estimateSize(): number {
    return estimateSize(this.table);
  }

  private randomNeighbour(): RingAddress | undefined {
    const all = this.table.addresses();
    return all.length ? all[this.deps.random.int(all.length)] : undefined;
  }

  private log(line: string): void {
    this.deps.log?.(`[${addressHex(this.address).slice(0, 8)}] ${line}`);
  }
}
