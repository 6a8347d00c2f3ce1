// Every tunable of the overlay, with its default and the reason for it.
import type { DhtOptions } from '../dht/dht-service.js';

export interface OverlayOptions {
  /** Near links kept on each side of our ring position (>= 2 keeps the ring whole when one fails). */
  nearPerSide: number;
  /** Far (Symphony) links we create; 'auto' = log2 of the estimated network size. */
  farLinks: 'auto' | number;
  /** Upper bound on far links in 'auto' mode. */
  maxFarLinks: number;
  /** A routed message is dropped after this many hops (greedy routes are loop-free; this is a backstop). */
  hopLimit: number;
  /** Period of the maintenance tick (keepalives, link wants, DHT expiry). */
  tickMs: number;
  /**
   * A link silent for this long gets a PING. Links that carry traffic are probed by it instead
   * (probeQuietMs), and NAT bindings are kept open by ICE's own consent checks, so idle far links
   * are checked rarely: PING/PONG were two thirds of a settled node's frames at 30 s.
   */
  pingIntervalMs: number;
  /**
   * The same for near links, which hold the ring together and carry DHT replication. At 20 s (the
   * stabilize period) the 1,000-node CI run with 10% of nodes replaced lost DHT puts to primaries
   * that had crashed but were not yet found dead; 10 s is kept.
   */
  nearPingIntervalMs: number;
  /** Sending on a link silent for this long sends a PING along (fast crash detection under traffic). */
  probeQuietMs: number;
  /** A PING unanswered, and nothing else heard, for this long: the peer is dead. */
  pongTimeoutMs: number;
  /** A link silent for this long is declared dead and closed (crash detection). */
  linkTimeoutMs: number;
  /** After joining, DHT requests reaching us wait this long (our near links are still being made). */
  settleMs: number;
  /**
   * An exclusive DHT create reaching us as primary waits until our near set has been unchanged this
   * long (in all at most settleMs): while nodes join around the key our view of who is its primary is
   * still changing, and copies written elsewhere are still on their way here.
   */
  dhtQuietMs: number;
  /** Period of the near-set exchange (ring stabilization). */
  stabilizeIntervalMs: number;
  /** Period of the FIND for our own address that repairs the ring where neighbour exchange cannot. */
  selfFindIntervalMs: number;
  /** Period of far-link maintenance. */
  farIntervalMs: number;
  /** Far-link searches started per far-maintenance round while below target. */
  farFindsPerRound: number;
  /** How long a FIND waits for its FOUND. */
  findTimeoutMs: number;
  /** A BYE without ack closes the link anyway after this long. */
  byeTimeoutMs: number;
  /** After a failed dial we leave that address alone for this long. */
  dialCooldownMs: number;
  /** A bootstrap link is kept at least this long, so the join can run over it. */
  bootstrapGraceMs: number;
  /** A shortcut unused for this long is released. */
  shortcutIdleMs: number;
  /** Messages to one destination within `shortcutWindowMs` that trigger a shortcut (0: never automatically). */
  shortcutAfterMessages: number;
  shortcutWindowMs: number;
  /**
   * A peer reached only through a relay edge gets a direct dial this often (by the lower address of
   * the two), so the relay is replaced once NATs allow; 0 = never.
   */
  relayDirectRetryMs: number;
  /**
   * The first of those direct dials comes this soon after the relay edge is up: a direct dial that
   * failed by bad luck (a lost check under load) is replaced quickly, a hopeless one costs little.
   */
  relayFirstDirectRetryMs: number;
  /**
   * A near or shortcut dial still pending after this long starts a relay edge alongside (0 = only
   * after the dial failed): ICE gives up only after its timeout (20 s), and a pair behind symmetric
   * NATs would wait that long for its first packet. A direct link that forms later replaces the relay.
   */
  relayHeadStartMs: number;
  /**
   * A new link from a peer whose link we have held longer than this replaces the old one, which must
   * be dead: the peer restarted with the same identity (or closed it without our noticing), since a
   * live peer never dials a node it is linked to. Two links of one dial race complete well within it.
   */
  duplicateGlareMs: number;
  /** Near-set changes are acted on (neighbour exchange, re-replication) after this quiet time. */
  topologyDebounceMs: number;
  dht: DhtOptions;
}

export const defaultOverlayOptions: OverlayOptions = {
  nearPerSide: 3,
  farLinks: 'auto',
  maxFarLinks: 24,
  hopLimit: 64,
  tickMs: 5_000,
  pingIntervalMs: 60_000,
  nearPingIntervalMs: 10_000,
  probeQuietMs: 3_000,
  pongTimeoutMs: 5_000,
  linkTimeoutMs: 75_000,
  settleMs: 3_000,
  dhtQuietMs: 1_000,
  stabilizeIntervalMs: 20_000,
  selfFindIntervalMs: 60_000,
  farIntervalMs: 10_000,
  farFindsPerRound: 3,
  findTimeoutMs: 8_000,
  dialCooldownMs: 30_000,
  byeTimeoutMs: 10_000,
  bootstrapGraceMs: 60_000,
  shortcutIdleMs: 120_000,
  shortcutAfterMessages: 200,
  shortcutWindowMs: 60_000,
  topologyDebounceMs: 200,
  duplicateGlareMs: 5_000,
  relayDirectRetryMs: 120_000,
  relayFirstDirectRetryMs: 15_000,
  relayHeadStartMs: 4_000,
  dht: {
    replicas: 3,
    requestTimeoutMs: 6_000,
    replicaTimeoutMs: 2_000,
    attempts: 4,
    hedgeMs: 1_000,
    seqEpochMs: 0,
    tombstoneTtlMs: 3_600_000,
    repairIntervalMs: 30_000,
  },
};

export function resolveOptions(partial: Partial<OverlayOptions> = {}): OverlayOptions {
  const o: OverlayOptions = { ...defaultOverlayOptions, ...partial, dht: { ...defaultOverlayOptions.dht, ...(partial.dht ?? {}) } };
  if (!Number.isInteger(o.nearPerSide) || o.nearPerSide < 2) throw new RangeError('nearPerSide must be an integer >= 2');
  if (o.dht.replicas < 1) throw new RangeError('dht.replicas must be >= 1');
  if (o.hopLimit < 1 || o.hopLimit > 255) throw new RangeError('hopLimit must be 1..255');
  if (o.tickMs > Math.min(o.stabilizeIntervalMs, o.farIntervalMs, o.selfFindIntervalMs)) throw new RangeError('tickMs must not exceed the stabilize, far-link and self-FIND intervals (they run on the tick)');
  return o;
}
