// The overlay's service interfaces: what dhcp/, rowfs/ and src/ program against (Dht, Overlay, routed
// messages) and the errors they may catch. Only the code that assembles a node (src/node.ts, src/config.ts)
// also reaches the constructors behind it: bootstrap, the WebRTC connector, OverlayNode, identity.
// Ring math (overlay/ring/) is a primitive anyone may use.
import type { Link } from './link/link.js';
import type { RingAddress } from './ring/ring.js';

export { DhtError, DhtConflictError } from './dht/dht-errors.js';

/** One live DHT value as returned by `get`. */
export interface DhtRecord {
  key: Uint8Array;
  value: Uint8Array;
  /** Owner's raw Ed25519 public key; the value was signed by it and verified on store and on get. */
  owner: Uint8Array;
  /** Milliseconds of life left. */
  ttlMs: number;
}

export interface Dht {
  /** Stores (or refreshes) this node's value under `key` for `ttlMs`. Resolves once r replicas accepted. */
  put(key: Uint8Array, value: Uint8Array, ttlMs: number): Promise<void>;
  /**
   * Atomic claim: succeeds (and stores) only if no other owner holds a live value under `key`;
   * the current owner may refresh. Rejects with DhtConflictError otherwise.
   */
  create(key: Uint8Array, value: Uint8Array, ttlMs: number): Promise<void>;
  /**
   * All live values under `key` (any owner), each verified. `hedged`: for lookups on a data path
   * that would rather have a quick answer than the primary's (DhtOptions.hedgeMs); a check that
   * must see every rival (a lease read-back) leaves it off.
   */
  get(key: Uint8Array, o?: { hedged?: boolean }): Promise<DhtRecord[]>;
  /** Removes this node's own value under `key` (e.g. a lease release). */
  remove(key: Uint8Array): Promise<void>;
}

export interface RoutedMessage {
  /** Source ring address (authenticated hop by hop). */
  from: RingAddress;
  payload: Uint8Array;
  hops: number;
}

export interface OverlayStatus {
  address: string; // hex, 40 chars
  links: Array<{ remote: string; kind: 'near' | 'far' | 'shortcut' | 'bootstrap'; path: 'direct' | 'relayed'; detail: string; rttMs?: number }>;
  dhtRecordsHeld: number;
  counters: Record<string, number>;
}

export interface Overlay {
  readonly address: RingAddress;
  readonly dht: Dht;
  /** Hands the overlay an authenticated link (bootstrap, incoming); it decides whether to keep it. */
  addLink(link: Link): void;
  /**
   * A node is joining through our bootstrap endpoint: when its link arrives, do not route others'
   * messages through it until it shows it has found its place in the ring (it cannot route before).
   */
  expectNewcomer(address: RingAddress): void;
  /**
   * Routes `payload` for application `app` (an integer tag; 0..15 are reserved for the overlay itself,
   * see overlay/node/app-tags.ts; e.g. 16 = IP packets)
   * to `dest`: exact delivery if `exact`, else to the node closest to `dest`. Returns false if no route.
   */
  send(dest: RingAddress, app: number, payload: Uint8Array, opts?: { exact?: boolean }): boolean;
  /** Registers the handler for application `app`; one handler per tag. */
  onMessage(app: number, handler: (msg: RoutedMessage) => void): void;
  /** A direct link to `dest`, if one exists (the IP forwarder uses its data channel). */
  directLink(dest: RingAddress): Link | undefined;
  /** Asks for a shortcut (direct link) to `dest`, e.g. because traffic to it is heavy. */
  requestShortcut(dest: RingAddress): void;
  status(): OverlayStatus;
  /** Leaves: closes links, stops timers. Idempotent. */
  stop(): Promise<void>;
}
