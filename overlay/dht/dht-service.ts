// The DHT protocol of one node: the client side of `Dht`, and the primary and replica roles.
//
// Placement: a key lives at ring position SHA-256(key)[0..160). The node closest to it is the
// primary; the r - 1 next closest are replicas. The primary also writes to one spare (the r-th
// closest peer), so a replica that died but is not yet detected does not fail a put.
//
// Consistency of `create` (the primary decides, replicas vote): the client routes the claim to the
// primary, which applies it conditionally to its own store ("no live value of another owner") and
// then asks each replica to apply it conditionally too. Any refusal aborts: the copies already
// written are dropped and the client gets DhtConflictError. Because every holder checks, a claim is
// refused as long as any one of the nodes it reaches still holds the old value. This is what makes a
// primary change safe: a new primary that joined and has not yet received the records still has the
// old primary and the other replicas in its replica set, and they refuse. Two creates racing through
// two nodes that both believe they are primary (possible only while the ring is inconsistent) can both
// win if their replica sets do not intersect; with r = 3 and near links on both sides they share at
// least two nodes. Per-owner sequence numbers and tombstones stop stale copies from resurrecting.
import type { Dht, DhtRecord } from '../api.js';
import type { Clock, Random, Timer } from '../../lib/clock.js';
import type { Identity } from '../identity.js';
import type { RingAddress } from '../ring/ring.js';
import { closerTo, keyToAddress } from '../ring/ring.js';
import { DhtConflictError, DhtError } from './dht-errors.js';
import type { DhtCounter } from './dht-counters.js';
import { encodeDhtMessage, type Copy, type DhtRequest, type DhtResponse, type ReplicaMessage } from './dht-messages.js';
import { mergeCopies, RecordStore } from './record-store.js';
import { planPushes, replicaSet } from './replication.js';
import { checkLimits, signRecord, verifyRecord, type SignedRecord } from './record.js';

export interface DhtOptions {
  /** Replicas per value (primary included). */
  replicas: number;
  /** One client attempt (route to primary, replication, answer back). */
  requestTimeoutMs: number;
  /** How long the primary waits for its replicas. */
  replicaTimeoutMs: number;
  /** Client attempts before giving up (timeouts and replication shortfalls are retried). */
  attempts: number;
  /**
   * A hedged get (`get(key, { hedged: true })`) unanswered this long is also sent straight (exact) to
   * the next closest linked peer, which answers it as a primary would, from its copy and its
   * neighbours': when the primary, or the hop towards it, has died and nobody has noticed yet, the
   * answer need not wait for the request timeout and for retries that greedy routing sends to the
   * same dead node. The stand-in's view may be partial (a copy that has not reached it yet), so
   * only callers that prefer speed ask for it. 0: never.
   */
  hedgeMs: number;
  /** Base of the owner's sequence numbers: wall-clock ms at start for real nodes, so versions survive restarts. */
  seqEpochMs: number;
  /** Lifetime of a removal's tombstone when the removed value's ttl is unknown. */
  tombstoneTtlMs: number;
  /**
   * Period of the re-replication pass that runs besides the one on every near-set change: the
   * replica set also moves when far links or shortcuts come and go, which no near-set change reports.
   * A pass that finds every copy in place sends nothing.
   */
  repairIntervalMs: number;
}

/** What the DHT needs from the node it runs in. */
export interface DhtHost {
  readonly identity: Identity;
  readonly clock: Clock;
  readonly random: Random;
  readonly self: RingAddress;
  /**
   * Routes `payload` to the node closest to `position`; false if there is no route at all.
   * `detour`: start through a random neighbour, so a retry avoids a path with a dead hop.
   */
  routeToKey(position: RingAddress, payload: Uint8Array, detour: boolean): boolean;
  /** Routes `payload` to exactly `peer` (asking it to answer through our first hop; ourselves: delivered here); false if no route. */
  routeTo(peer: RingAddress, payload: Uint8Array): boolean;
  /** Routes an answer back to a client, through `replyVia` if the client asked for it. */
  replyTo(client: RingAddress, replyVia: RingAddress | undefined, payload: Uint8Array): void;
  /** Sends to a directly linked peer; false if there is no link. */
  sendLocal(peer: RingAddress, payload: Uint8Array): boolean;
  /** The `n` linked peers closest to `position`, closest first. */
  closestPeers(position: RingAddress, n: number): RingAddress[];
  count(name: DhtCounter): void;
}

const MAX_COPIES_PER_PUSH = 128;

export class DhtService implements Dht {
  readonly store = new RecordStore();
  private nextId: number;
  private seq = 0;
  private readonly clientWaits = new Map<number, { done: (r: DhtResponse) => void; timer: Timer }>();
  private readonly replicaWaits = new Map<number, (m: ReplicaMessage) => void>();
  private readonly ownTtl = new Map<string, number>();
  private stopped = false;
  private lastRepairAt = 0;

  constructor(private readonly host: DhtHost, private readonly opts: DhtOptions) {
    this.nextId = 1 + host.random.int(0x7fffffff);
  }

  private id(): number {
    this.nextId = this.nextId >= 0xfffffffe ? 1 : this.nextId + 1;
    return this.nextId;
  }

  private nextSeq(): number {
    this.seq = Math.max(this.seq + 1, Math.floor(this.opts.seqEpochMs + this.host.clock.now()));
    return this.seq;
  }

  // ---- client side -------------------------------------------------------------------------

  async put(key: Uint8Array, value: Uint8Array, ttlMs: number): Promise<void> {
    await this.write(key, value, ttlMs, false, false);
  }

  async create(key: Uint8Array, value: Uint8Array, ttlMs: number): Promise<void> {
    await this.write(key, value, ttlMs, true, false);
  }

  async remove(key: Uint8Array): Promise<void> {
    const ttl = this.ownTtl.get(Buffer.from(key).toString('hex')) ?? this.opts.tombstoneTtlMs;
    await this.write(key, new Uint8Array(0), ttl, false, true);
  }

  async get(key: Uint8Array, o: { hedged?: boolean } = {}): Promise<DhtRecord[]> {
    checkLimits({ key, value: new Uint8Array(0), ttlMs: 1 });
    const position = keyToAddress(key);
    const hedged = o.hedged === true;
    const build = (id: number): DhtRequest => (hedged ? { t: 'get', id, key, quick: true } : { t: 'get', id, key });
    let live = this.validCopies(key, (await this.attempt(position, build, false, hedged)).copies);
    if (live.length === 0) {
      // Nothing found: ask again along another path (through a random neighbour), in case the
      // first answer came from a node that only believed itself closest (the ring still settling).
      this.host.count('dht_get_retry_empty');
      live = this.validCopies(key, (await this.attempt(position, build, true, hedged)).copies);
    }
    return live
      // Plain copies: decoded fields are views into a received frame.
      .map((c) => ({ key: Uint8Array.from(c.record.key), value: Uint8Array.from(c.record.value), owner: Uint8Array.from(c.record.owner), ttlMs: c.ttlLeftMs }));
  }

  /** Copies under `key` with good signatures, newest per owner, tombstones dropped. */
  private validCopies(key: Uint8Array, copies: Copy[]): Copy[] {
    const valid = copies.filter((c) => Buffer.compare(c.record.key, key) === 0 && verifyRecord(c.record));
    if (valid.length !== copies.length) this.host.count('dht_get_rejected_copies');
    return mergeCopies(valid).filter((c) => !c.record.tombstone);
  }

  private async write(key: Uint8Array, value: Uint8Array, ttlMs: number, exclusive: boolean, tombstone: boolean): Promise<void> {
    if (!tombstone) this.ownTtl.set(Buffer.from(key).toString('hex'), ttlMs);
    const sign = () => signRecord(this.host.identity, { key, value, ttlMs, seq: this.nextSeq(), tombstone });
    let record = sign();
    try {
      await this.attempt(keyToAddress(key), (id) => ({ t: 'put', id, record, exclusive }));
    } catch (err) {
      // Our own newer version is out there (we restarted and our counter began lower): continue
      // numbering above it and write again, once.
      if (!(err instanceof DhtError) || err.code !== 'stale' || err.heldSeq === undefined) throw err;
      this.seq = Math.max(this.seq, err.heldSeq);
      record = sign();
      await this.attempt(keyToAddress(key), (id) => ({ t: 'put', id, record, exclusive }));
    }
  }

  /** Sends a request to the key's primary, retrying timeouts and replication shortfalls; `hedge`: see DhtOptions.hedgeMs (reads only). */
  private async attempt(position: RingAddress, build: (id: number) => DhtRequest, detourFirst = false, hedge = false): Promise<Extract<DhtResponse, { t: 'ok' }>> {
    let last: DhtResponse | undefined;
    for (let i = 0; i < this.opts.attempts && !this.stopped; i++) {
      last = hedge && this.opts.hedgeMs > 0 ? await this.hedgedRequest(position, build, detourFirst || i > 0, i) : await this.requestOnce(position, build(this.id()), detourFirst || i > 0);
      if (last.t === 'ok') return last;
      if (last.code === 'conflict') throw new DhtConflictError('another owner holds a live value under this key');
      if (last.code === 'invalid' || last.code === 'stale') throw new DhtError(last.code, `DHT refused the record: ${last.code}`, last.heldSeq);
    }
    const code = last?.t === 'err' ? last.code : 'timeout';
    throw new DhtError(code, `DHT request failed after ${this.opts.attempts} attempts: ${code}`);
  }

  /**
   * One attempt of a read: routed to the key, and if unanswered after hedgeMs, also sent exactly to
   * a stand-in (the next closest linked peer after the one greedy routing starts with, or ourselves;
   * later attempts take the following ones).
   * The first answer with copies wins; otherwise, once both are in, the routed one's.
   */
  private hedgedRequest(position: RingAddress, build: (id: number) => DhtRequest, detour: boolean, attemptNo: number): Promise<DhtResponse> {
    return new Promise((resolve) => {
      let pending = 1;
      let settled = false;
      let routed: DhtResponse | undefined;
      const finish = (r: DhtResponse, fromStandIn: boolean) => {
        pending--;
        if (settled) return;
        if (!fromStandIn) routed = r;
        // Only copies settle it early. A stand-in's empty answer is weak (it may lie outside the
        // replica set): with both in, the routed answer counts, and its error makes the caller retry.
        if (pending > 0 && !(r.t === 'ok' && r.copies.length > 0)) return;
        settled = true;
        hedgeTimer.cancel();
        resolve(r.t === 'ok' && r.copies.length > 0 ? r : routed ?? r);
      };
      const hedgeTimer = this.host.clock.setTimeout(() => {
        const near = this.host.closestPeers(position, this.opts.replicas + 1).filter((p) => closerTo(position, p, this.host.self));
        // near[0] is where greedy routing went; the next ones, or we ourselves, can stand in (if we
        // are closer than every peer, the request was ours to answer in the first place).
        const standIns = [...near.slice(1), this.host.self];
        const standIn = near.length > 0 ? standIns[attemptNo % standIns.length] : undefined;
        if (settled || standIn === undefined) return;
        this.host.count('dht_get_hedged');
        pending++;
        void this.requestOnce(position, build(this.id()), false, standIn).then((r) => finish(r, true));
      }, this.opts.hedgeMs);
      void this.requestOnce(position, build(this.id()), detour).then((r) => finish(r, false));
    });
  }

  /** One request, routed to the key (through a random neighbour if `detour`), or exactly to `to`. */
  private requestOnce(position: RingAddress, req: DhtRequest, detour: boolean, to?: RingAddress): Promise<DhtResponse> {
    return new Promise((resolve) => {
      const timer = this.host.clock.setTimeout(() => {
        this.clientWaits.delete(req.id);
        this.host.count('dht_request_timeouts');
        resolve({ t: 'err', id: req.id, code: 'timeout' });
      }, this.opts.requestTimeoutMs);
      this.clientWaits.set(req.id, { done: resolve, timer });
      const payload = encodeDhtMessage(req);
      if (!(to === undefined ? this.host.routeToKey(position, payload, detour) : this.host.routeTo(to, payload))) {
        // No link at all: fail this attempt at once rather than waiting.
        timer.cancel();
        this.clientWaits.delete(req.id);
        resolve({ t: 'err', id: req.id, code: 'timeout' });
      }
    });
  }

  /** An answer routed back to us. */
  onResponse(res: DhtResponse): void {
    const w = this.clientWaits.get(res.id);
    if (!w) return;
    this.clientWaits.delete(res.id);
    w.timer.cancel();
    w.done(res);
  }

  // ---- primary -----------------------------------------------------------------------------

  /** A request that greedy routing delivered here: we are the closest node we know of to the key. */
  onRequest(client: RingAddress, replyVia: RingAddress | undefined, req: DhtRequest): void {
    const answer = (res: DhtResponse) => this.host.replyTo(client, replyVia, encodeDhtMessage(res));
    if (req.t === 'get') {
      this.host.count('dht_primary_get');
      this.gather(req.key, req.quick === true, () => answer({ t: 'ok', id: req.id, copies: this.store.lookup(req.key, this.host.clock.now()) }));
      return;
    }
    this.host.count('dht_primary_put');
    const { record, exclusive } = req;
    const now = this.host.clock.now();
    const outcome = this.store.apply(record, record.ttlMs, now, exclusive);
    if (outcome === 'stale') {
      answer({ t: 'err', id: req.id, code: outcome, heldSeq: this.store.heldSeq(record.key, record.owner, now) ?? 0 });
      return;
    }
    if (outcome === 'invalid' || outcome === 'conflict') {
      answer({ t: 'err', id: req.id, code: outcome });
      return;
    }
    const position = keyToAddress(record.key);
    const peers = this.host.closestPeers(position, this.opts.replicas);
    const needed = Math.min(this.opts.replicas - 1, peers.length);
    this.replicate(peers, { record, ttlLeftMs: record.ttlMs }, exclusive, needed, (result) => {
      if (result.conflict) {
        this.store.drop(record.key, record.owner, record.seq);
        for (const p of result.storedAt) this.host.sendLocal(p, encodeDhtMessage({ t: 'drop', key: record.key, owner: record.owner, seq: record.seq }));
        answer({ t: 'err', id: req.id, code: 'conflict' });
      } else if (result.storedAt.length >= needed) {
        for (const p of result.storedAt) this.store.notePeerHas(record, p);
        answer({ t: 'ok', id: req.id, copies: [] });
      } else {
        answer({ t: 'err', id: req.id, code: 'replication' });
      }
    });
  }

  /**
   * Sends one copy to `peers` and reports once all answered or the replica timeout passed; a
   * non-exclusive write reports as soon as `needed` peers stored it.
   */
  private replicate(peers: RingAddress[], copy: Copy, exclusive: boolean, needed: number, done: (r: { conflict: boolean; storedAt: RingAddress[] }) => void): void {
    const storedAt: RingAddress[] = [];
    let conflict = false;
    this.askPeers(
      peers,
      (id) => encodeDhtMessage({ t: 'store', id, exclusive, copies: [copy] }),
      (peer, m) => {
        if (m.t !== 'stored') return false;
        const o = m.outcomes[0];
        if (o === 'conflict') conflict = true;
        else if (o === 'stored' || o === 'refreshed') storedAt.push(peer);
        return true;
      },
      () => !exclusive && storedAt.length >= needed,
      (timedOut) => {
        if (timedOut) this.host.count('dht_replica_timeouts');
        done({ conflict, storedAt });
      },
    );
  }

  /**
   * Pulls the copies the replicas hold into our store, then calls `done`. Asks two more peers than
   * there are replicas (copies written while the ring was settling may sit one place off); if that
   * finds nothing at all, asks the next ones along the ring once more. Then read repair: each
   * answering member of the replica set that lacked the newest version of a value gets it.
   */
  private gather(key: Uint8Array, quick: boolean, done: () => void): void {
    const position = keyToAddress(key);
    const r = this.opts.replicas;
    const asked = new Set<RingAddress>();
    const answers = new Map<RingAddress, Copy[]>();
    const wave = (peers: RingAddress[], then: () => void) => {
      for (const p of peers) asked.add(p);
      this.askPeers(
        peers,
        (id) => encodeDhtMessage({ t: 'fetch', id, key }),
        (peer, m) => {
          if (m.t !== 'copies') return false;
          const now = this.host.clock.now();
          const mine = m.copies.filter((c) => Buffer.compare(c.record.key, key) === 0);
          for (const c of mine) this.store.apply(c.record, c.ttlLeftMs, now, false);
          answers.set(peer, mine);
          return true;
        },
        // A quick (hedged) read does not wait for one silent peer once the others answered and a copy
        // is in hand: it is likely dead and not yet detected, and every write reached r holders.
        (unanswered) => quick && unanswered <= 1 && answers.size > 0 && this.store.lookup(key, this.host.clock.now()).length > 0,
        () => then(),
      );
    };
    wave(this.host.closestPeers(position, r + 2), () => {
      if (this.store.lookup(key, this.host.clock.now()).length > 0) {
        this.readRepair(key, position, answers);
        done();
        return;
      }
      const further = this.host.closestPeers(position, 2 * r + 4).filter((p) => !asked.has(p));
      if (further.length === 0) return done();
      this.host.count('dht_gather_widened');
      wave(further, () => {
        this.readRepair(key, position, answers);
        done();
      });
    });
  }

  /** Sends our newest versions under `key` to the replica-set members whose answer lacked them. */
  private readRepair(key: Uint8Array, position: RingAddress, answers: Map<RingAddress, Copy[]>): void {
    const now = this.host.clock.now();
    const newest = this.store.lookup(key, now);
    if (newest.length === 0) return;
    const set = replicaSet(position, this.host.self, this.host.closestPeers(position, this.opts.replicas), this.opts.replicas);
    for (const peer of set) {
      const had = answers.get(peer);
      if (!had) continue; // no answer: dead or unreachable, re-replication handles its successor
      const missing = newest.filter((c) => !had.some((h) => h.record.seq >= c.record.seq && Buffer.compare(h.record.owner, c.record.owner) === 0));
      if (missing.length === 0) continue;
      this.host.count('dht_read_repairs');
      this.host.sendLocal(peer, encodeDhtMessage({ t: 'store', id: 0, exclusive: false, copies: missing }));
      for (const c of missing) this.store.notePeerHas(c.record, peer);
    }
  }

  /**
   * Sends `request(id)` to each linked peer (one id each) and collects the answers: `answer` returns
   * false for a message that is not an answer to it (ignored). Ends -- `done` runs exactly once --
   * when every reachable peer answered, when `enough(unanswered)` holds, or after the replica timeout.
   */
  private askPeers(
    peers: RingAddress[],
    request: (id: number) => Uint8Array,
    answer: (peer: RingAddress, m: ReplicaMessage) => boolean,
    enough: (unanswered: number) => boolean,
    done: (timedOut: boolean) => void,
  ): void {
    let waiting = 0;
    let finished = false;
    const ids: number[] = [];
    const finish = (timedOut: boolean) => {
      if (finished) return;
      finished = true;
      timer.cancel();
      for (const id of ids) this.replicaWaits.delete(id);
      done(timedOut);
    };
    const timer = this.host.clock.setTimeout(() => finish(true), this.opts.replicaTimeoutMs);
    for (const peer of peers) {
      const id = this.id();
      if (!this.host.sendLocal(peer, request(id))) continue;
      waiting++;
      ids.push(id);
      this.replicaWaits.set(id, (m) => {
        if (!answer(peer, m)) return;
        waiting--;
        if (waiting === 0 || enough(waiting)) finish(false);
      });
    }
    if (waiting === 0 || enough(waiting)) finish(false);
  }

  // ---- replica -----------------------------------------------------------------------------

  /** A message from a directly linked peer (primary or replica traffic). */
  onLocal(from: RingAddress, m: ReplicaMessage): void {
    const now = this.host.clock.now();
    switch (m.t) {
      case 'store': {
        const outcomes = m.copies.map((c) => {
          const o = this.store.apply(c.record, c.ttlLeftMs, now, m.exclusive);
          // The sender holds this version: re-replication need not send it back.
          if (o === 'stored' || o === 'refreshed') this.store.notePeerHas(c.record, from);
          return o;
        });
        if (outcomes.includes('invalid')) this.host.count('dht_invalid_copies');
        if (m.id !== 0) this.host.sendLocal(from, encodeDhtMessage({ t: 'stored', id: m.id, outcomes }));
        return;
      }
      case 'fetch':
        this.host.sendLocal(from, encodeDhtMessage({ t: 'copies', id: m.id, copies: this.store.lookup(m.key, now) }));
        return;
      case 'drop':
        this.store.drop(m.key, m.owner, m.seq);
        return;
      case 'stored':
      case 'copies':
        this.replicaWaits.get(m.id)?.(m);
        return;
    }
  }

  /**
   * Re-replication after our view of the ring changed (see replication.ts): every copy we hold goes
   * to the members of its replica set that have not had it from us, whether or not we are a member.
   */
  onNeighboursChanged(): void {
    const now = this.host.clock.now();
    this.lastRepairAt = now;
    const plan = planPushes(this.store.slotsView(), this.host.self, (p, n) => this.host.closestPeers(p, n), this.opts.replicas, now);
    for (const [peer, copies] of plan.batches) {
      for (let i = 0; i < copies.length; i += MAX_COPIES_PER_PUSH) {
        this.host.count('dht_rereplication_pushes');
        this.host.sendLocal(peer, encodeDhtMessage({ t: 'store', id: 0, exclusive: false, copies: copies.slice(i, i + MAX_COPIES_PER_PUSH) }));
      }
    }
  }

  /** Before a graceful leave: push every copy we hold to the closest peers, which take over. */
  handOff(): void {
    const now = this.host.clock.now();
    const batches = new Map<RingAddress, Copy[]>();
    for (const slot of this.store.slotsView()) {
      const peers = this.host.closestPeers(slot.position, this.opts.replicas);
      for (const held of slot.byOwner.values()) {
        if (held.expiresAt <= now) continue;
        for (const p of peers) {
          if (held.pushedTo.has(p)) continue;
          let b = batches.get(p);
          if (!b) batches.set(p, (b = []));
          b.push({ record: held.record, ttlLeftMs: held.expiresAt - now });
        }
      }
    }
    for (const [peer, copies] of batches) {
      for (let i = 0; i < copies.length; i += MAX_COPIES_PER_PUSH) {
        this.host.sendLocal(peer, encodeDhtMessage({ t: 'store', id: 0, exclusive: false, copies: copies.slice(i, i + MAX_COPIES_PER_PUSH) }));
      }
    }
  }

  tick(now: number): void {
    this.store.expire(now);
    if (now - this.lastRepairAt >= this.opts.repairIntervalMs) this.onNeighboursChanged();
  }

  stop(): void {
    this.stopped = true;
    for (const [id, w] of this.clientWaits) {
      w.timer.cancel();
      w.done({ t: 'err', id, code: 'timeout' });
    }
    this.clientWaits.clear();
    this.replicaWaits.clear();
  }
}

export type { SignedRecord };
