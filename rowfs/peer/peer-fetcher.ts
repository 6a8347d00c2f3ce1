// A mount's side of block sharing: blocks of a file asked of other mounts of the same version
// before the image server. Availability is learned on demand: a get names a range and the reply
// says which of its blocks the peer holds (and carries them), so there is no per-block state in the
// DHT, only each mount's sharer record with its peer endpoint. A peer that held none of a file's
// asked blocks is not asked about that file again for a while.
//
// Order per range: up to `maxPeersPerRead` peers, the first chosen among the best few by the
// range's position (spreading one reader's load over several peers), then the rest in rank order,
// each asked only for what is still missing. Every block is checked against the manifest: a peer
// whose block does not match is dropped for the session, counted, and its reply discarded. A peer
// that fails (connect, stall, reset) is skipped for retryFailedAfterMs. Whatever no peer supplied
// is left to the caller (the server). A peer that answers BUSY is skipped for busyBackoffMs; a
// request this side could not even queue (QUEUE_FULL) skips the peer for that range only. A fetch
// returns after fetchDeadlineMs at the latest with what was verified by then. A get asks at most
// maxBlocksPerGet(blockSize) blocks, so every reply fits the protocol's bound. Per-peer state is
// bounded (MAX_TRACKED_PEERS) and forgotten when it expires. Nothing here throws at the caller.
import { createHash } from 'node:crypto';
import { systemClock, type Clock } from '../../lib/clock.js';
import type { Counters } from '../counters.js';
import { MAX_BLOCKS_PER_REQUEST, maxBlocksPerGet, PeerStatus } from './peer-codec.js';
import { PeerConnection, PeerConnectionError } from './peer-connection.js';

export interface PeerEndpoint {
  /** Stable identity (the peer's ring address). */
  id: string;
  /** For people and counters, e.g. `10.140.0.7:40123`. */
  label: string;
  host: string;
  port: number;
}

export interface PeerSource {
  /** Other mounts of the version serving blocks, best first (asked again every refreshMs). */
  peers(): Promise<PeerEndpoint[]>;
}

export interface PeerBlockVerifier {
  /** True when `data` is exactly block `index` of the regular file at `path`. */
  verifyBlock(path: string, index: number, data: Uint8Array): boolean;
}

export interface PeerFetcherOptions {
  source: PeerSource;
  verifier: PeerBlockVerifier;
  /** The manifest's block size (a get asks at most maxBlocksPerGet(blockSize) blocks). */
  blockSize: number;
  counters: Counters;
  clock?: Clock;
  /** How often the peer list is asked for again (default 10,000 ms). */
  refreshMs?: number;
  /** Peers asked about one range before the rest goes to the server (default 2). */
  maxPeersPerRead?: number;
  /** The first peer of a range is one of this many best ones (default 4). */
  spread?: number;
  /** A failed peer is tried again after this long (default 10,000 ms). */
  retryFailedAfterMs?: number;
  /** A peer that held none of a file's asked blocks is not asked about it for this long (default 5,000 ms). */
  missHintMs?: number;
  /** A peer that answered BUSY is not asked again for this long (default 1,000 ms). */
  busyBackoffMs?: number;
  /** A fetch returns what it has after this long; the rest goes to the server (default 4,000 ms). */
  fetchDeadlineMs?: number;
  /** Passed to each connection (tests shorten them). */
  stallMs?: number;
  requestTimeoutMs?: number;
}

const MAX_MISS_HINTS = 4096;
const MAX_CONNECTIONS = 16;
/** Peers whose skip times and 'bad' marks are remembered (sharers come and go). */
const MAX_TRACKED_PEERS = 1024;
/** Peers named in the per-peer byte counters; the rest are summed under OTHER_PEERS. */
const MAX_COUNTED_PEERS = 256;
const OTHER_PEERS = 'other peers';

export class PeerFetcher {
  private peerList: PeerEndpoint[] = [];
  private listedAt = -Infinity;
  private refreshing: Promise<void> | undefined;
  private readonly conns = new Map<string, Promise<PeerConnection>>();
  /** Peers not asked until the time given (failed, or BUSY). */
  private readonly skipUntil = new Map<string, number>();
  private readonly bad = new Set<string>();
  private readonly missUntil = new Map<string, number>();
  private readonly used = new Set<string>();
  private closed = false;
  private readonly clock: Clock;

  constructor(private readonly o: PeerFetcherOptions) {
    this.clock = o.clock ?? systemClock;
    o.counters.peers ??= { bytesFrom: new Map(), bytes: 0, rejectedBlocks: 0, badPeers: new Set(), failures: 0 };
  }

  /** Asks the source for peers now (the mount awaits the first list before it serves). */
  async refresh(): Promise<void> {
    this.refreshing ??= this.o.source
      .peers()
      .then((list) => {
        this.peerList = list;
        this.listedAt = this.clock.now();
      })
      .catch(() => {
        this.listedAt = this.clock.now(); // try again after refreshMs, not on every read
      })
      .finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /** Peers known, used, and dropped for bad blocks (labels), for status. */
  state(): { known: number; used: string[]; bad: string[] } {
    return { known: this.peerList.length, used: [...this.used], bad: [...this.o.counters.peers!.badPeers] };
  }

  /**
   * Verified blocks [first, last] of `path` (path id `file`) from peers: one entry per block,
   * undefined where no peer supplied it. `last - first` < MAX_BLOCKS_PER_REQUEST.
   */
  async fetch(path: string, file: Uint8Array, first: number, last: number): Promise<Array<Uint8Array | undefined>> {
    const out: Array<Uint8Array | undefined> = new Array(last - first + 1).fill(undefined);
    if (this.closed || last < first || last - first + 1 > MAX_BLOCKS_PER_REQUEST) return out;
    if (this.clock.now() - this.listedAt > (this.o.refreshMs ?? 10_000)) void this.refresh();
    const fileKey = Buffer.from(file).toString('hex');
    const candidates = this.candidates(fileKey);
    if (candidates.length === 0) return out;
    const spread = Math.min(this.o.spread ?? 4, candidates.length);
    const start = (fileKey.charCodeAt(0) + Math.floor(first / MAX_BLOCKS_PER_REQUEST)) % spread;
    const order = [candidates[start]!, ...candidates.filter((_, i) => i !== start)];
    let over = false;
    const asking = (async () => {
      let asked = 0;
      for (const peer of order) {
        if (over || asked >= (this.o.maxPeersPerRead ?? 2)) break;
        const lo = out.findIndex((b) => b === undefined);
        if (lo < 0) break;
        let hi = out.length - 1;
        while (out[hi] !== undefined) hi--;
        asked++;
        await this.ask(peer, path, file, fileKey, first, lo, hi, out);
      }
    })();
    // A peer slower than the deadline leaves the rest to the server; its late blocks are not used.
    let timer: { cancel(): void } | undefined;
    const deadline = new Promise<void>((r) => (timer = this.clock.setTimeout(r, this.o.fetchDeadlineMs ?? 4_000)));
    await Promise.race([asking, deadline]);
    over = true;
    timer!.cancel();
    return out.slice();
  }

  /** Asks `peer` for out[lo..hi], in gets whose replies fit the protocol's bound, and fills what matches the manifest. */
  private async ask(peer: PeerEndpoint, path: string, file: Uint8Array, fileKey: string, first: number, lo: number, hi: number, out: Array<Uint8Array | undefined>): Promise<void> {
    const per = maxBlocksPerGet(this.o.blockSize);
    const parts: Array<Promise<void>> = [];
    for (let at = lo; at <= hi; at += per) parts.push(this.askOnce(peer, path, file, fileKey, first, at, Math.min(hi, at + per - 1), out));
    await Promise.all(parts);
  }

  private async askOnce(peer: PeerEndpoint, path: string, file: Uint8Array, fileKey: string, first: number, lo: number, hi: number, out: Array<Uint8Array | undefined>): Promise<void> {
    const peers = this.o.counters.peers!;
    let reply;
    try {
      const conn = await this.connection(peer);
      reply = await conn.get(file, first + lo, hi - lo + 1);
    } catch (e) {
      if (e instanceof PeerConnectionError && e.code === 'QUEUE_FULL') return; // our queue, not the peer's fault
      peers.failures++;
      this.skip(peer.id, this.o.retryFailedAfterMs ?? 10_000);
      this.dropConnection(peer.id);
      return;
    }
    if (this.bad.has(peer.id)) return;
    if (reply.status === PeerStatus.BUSY) return this.skip(peer.id, this.o.busyBackoffMs ?? 1_000);
    if (reply.first !== first + lo || reply.blocks.length !== hi - lo + 1) {
      this.drop(peer, 0);
      return;
    }
    const got: Array<[number, Uint8Array]> = [];
    for (let i = 0; i < reply.blocks.length; i++) {
      const data = reply.blocks[i];
      if (!data || out[lo + i] !== undefined) continue;
      if (!this.o.verifier.verifyBlock(path, first + lo + i, data)) {
        this.drop(peer, 1);
        return; // nothing from a liar is used, not even its blocks that matched
      }
      got.push([lo + i, data]);
    }
    if (got.length === 0) {
      if (this.missUntil.size >= MAX_MISS_HINTS) this.missUntil.delete(this.missUntil.keys().next().value as string);
      this.missUntil.set(`${peer.id}/${fileKey}`, this.clock.now() + (this.o.missHintMs ?? 5_000));
      return;
    }
    if (this.used.size < MAX_TRACKED_PEERS) this.used.add(peer.label);
    let bytes = 0;
    for (const [i, data] of got) {
      out[i] = data;
      bytes += data.length;
    }
    const counted = this.o.counters.peers!.bytesFrom;
    this.o.counters.fromPeer(counted.has(peer.label) || counted.size < MAX_COUNTED_PEERS ? peer.label : OTHER_PEERS, bytes);
  }

  private skip(id: string, ms: number): void {
    if (this.skipUntil.size >= MAX_TRACKED_PEERS && !this.skipUntil.has(id)) this.skipUntil.delete(this.skipUntil.keys().next().value as string);
    this.skipUntil.set(id, this.clock.now() + ms);
  }

  private candidates(fileKey: string): PeerEndpoint[] {
    const now = this.clock.now();
    for (const [id, until] of this.skipUntil) if (until <= now) this.skipUntil.delete(id);
    return this.peerList.filter((p) => {
      if (this.bad.has(p.id) || this.skipUntil.has(p.id)) return false;
      const miss = this.missUntil.get(`${p.id}/${fileKey}`);
      return miss === undefined || miss <= now;
    });
  }

  /** The open connection to `peer`; one (re)connect at a time per peer, whoever asks. */
  private connection(peer: PeerEndpoint, tries = 0): Promise<PeerConnection> {
    const c = this.conns.get(peer.id);
    if (!c) return this.reconnect(peer);
    return c.then((conn) => {
      if (!conn.closed) return conn;
      if (this.conns.get(peer.id) === c) return this.reconnect(peer); // the first to notice reconnects
      if (tries >= 2) throw new PeerConnectionError('CLOSED', 'connection keeps closing');
      return this.connection(peer, tries + 1); // another caller already did: use theirs
    });
  }

  private reconnect(peer: PeerEndpoint): Promise<PeerConnection> {
    if (this.conns.size >= MAX_CONNECTIONS && !this.conns.has(peer.id)) {
      const [oldest] = this.conns.keys();
      this.dropConnection(oldest!);
    }
    const c = PeerConnection.open({ host: peer.host, port: peer.port, clock: this.clock, stallMs: this.o.stallMs, requestTimeoutMs: this.o.requestTimeoutMs });
    c.catch(() => undefined);
    this.conns.set(peer.id, c);
    return c;
  }

  private dropConnection(id: string): void {
    const c = this.conns.get(id);
    this.conns.delete(id);
    void c?.then((conn) => conn.close()).catch(() => undefined);
  }

  /** A peer that sent a block the manifest refutes (or a reply to another question): never again this session. */
  private drop(peer: PeerEndpoint, rejectedBlocks: number): void {
    const peers = this.o.counters.peers!;
    peers.rejectedBlocks += rejectedBlocks;
    if (peers.badPeers.size < MAX_TRACKED_PEERS) peers.badPeers.add(peer.label);
    if (this.bad.size >= MAX_TRACKED_PEERS) this.bad.delete(this.bad.values().next().value as string);
    this.bad.add(peer.id);
    this.dropConnection(peer.id);
  }

  /** Closes every peer connection. Idempotent. */
  close(): void {
    this.closed = true;
    for (const id of [...this.conns.keys()]) this.dropConnection(id);
  }
}

/** The path id a peer request names a file by: the first 20 bytes of SHA-256 of its path (as the proxy's path handles). */
export function peerFileId(path: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(path).digest().subarray(0, 20));
}
