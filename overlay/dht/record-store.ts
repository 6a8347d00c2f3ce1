// The records one node holds, as a replica or primary. Pure apart from signature checks: time is
// passed in. One slot per (key, owner), holding that owner's newest version (tombstones included,
// so a removed value cannot be resurrected by a stale replica).
import type { RingAddress } from '../ring/ring.js';
import { keyToAddress } from '../ring/ring.js';
import { verifyRecord, type SignedRecord } from './record.js';

export interface HeldRecord {
  record: SignedRecord;
  expiresAt: number;
  /** Peers this copy was already pushed to by re-replication. */
  pushedTo: Set<RingAddress>;
}

export interface KeySlot {
  key: Uint8Array;
  position: RingAddress;
  byOwner: Map<string, HeldRecord>;
}

export type StoreOutcome = 'stored' | 'refreshed' | 'stale' | 'conflict' | 'invalid';

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');

export class RecordStore {
  private readonly slots = new Map<string, KeySlot>();

  /** Number of live (non-expired) records, tombstones excluded. */
  liveCount(now: number): number {
    let n = 0;
    for (const s of this.slots.values()) for (const h of s.byOwner.values()) if (h.expiresAt > now && !h.record.tombstone) n++;
    return n;
  }

  slotsView(): IterableIterator<KeySlot> {
    return this.slots.values();
  }

  /** Live values under `key` from owners other than `owner`, tombstones excluded. */
  private othersLive(slot: KeySlot | undefined, owner: string, now: number): boolean {
    if (!slot) return false;
    for (const [o, h] of slot.byOwner) if (o !== owner && h.expiresAt > now && !h.record.tombstone) return true;
    return false;
  }

  /**
   * Stores `record` with `ttlLeftMs` to live (capped by its signed ttl). `exclusive` makes it a
   * create: refused with 'conflict' while another owner holds a live value. Signature checked here.
   */
  apply(record: SignedRecord, ttlLeftMs: number, now: number, exclusive: boolean, verified = false): StoreOutcome {
    const life = Math.min(ttlLeftMs, record.ttlMs);
    if (!(life > 0)) return 'invalid';
    const k = hex(record.key);
    const owner = hex(record.owner);
    let slot = this.slots.get(k);
    const same = slot?.byOwner.get(owner);
    // A copy identical to one already checked needs no second signature check (re-replication, read repair).
    const known = same !== undefined && same.record.seq === record.seq && Buffer.compare(same.record.sig, record.sig) === 0;
    if (!verified && !known && !verifyRecord(record)) return 'invalid';
    if (exclusive && !record.tombstone && this.othersLive(slot, owner, now)) return 'conflict';
    const held = slot?.byOwner.get(owner);
    const expiresAt = now + life;
    if (held && held.expiresAt > now) {
      if (record.seq < held.record.seq) return 'stale';
      if (record.seq === held.record.seq) {
        if (expiresAt > held.expiresAt) held.expiresAt = expiresAt;
        return 'refreshed';
      }
    }
    if (!slot) {
      slot = { key: record.key, position: keyToAddress(record.key), byOwner: new Map() };
      this.slots.set(k, slot);
    }
    slot.byOwner.set(owner, { record, expiresAt, pushedTo: new Set() });
    return 'stored';
  }

  /** Every unexpired copy under `key` (tombstones included: the reader merges versions). */
  lookup(key: Uint8Array, now: number): Array<{ record: SignedRecord; ttlLeftMs: number }> {
    const slot = this.slots.get(hex(key));
    if (!slot) return [];
    const out: Array<{ record: SignedRecord; ttlLeftMs: number }> = [];
    for (const h of slot.byOwner.values()) if (h.expiresAt > now) out.push({ record: h.record, ttlLeftMs: h.expiresAt - now });
    return out;
  }

  /** Undoes an aborted create: drops exactly that version if it is still the one held. */
  drop(key: Uint8Array, owner: Uint8Array, seq: number): void {
    const slot = this.slots.get(hex(key));
    const h = slot?.byOwner.get(hex(owner));
    if (slot && h && h.record.seq === seq) {
      slot.byOwner.delete(hex(owner));
      if (slot.byOwner.size === 0) this.slots.delete(hex(key));
    }
  }

  /** Notes that `peer` holds exactly this version (it sent it to us, or acknowledged our copy), so re-replication skips it. */
  notePeerHas(record: SignedRecord, peer: RingAddress): void {
    const h = this.slots.get(hex(record.key))?.byOwner.get(hex(record.owner));
    if (h && h.record.seq === record.seq) h.pushedTo.add(peer);
  }

  /** Sequence number of the live version `owner` holds under `key`, if any. */
  heldSeq(key: Uint8Array, owner: Uint8Array, now: number): number | undefined {
    const h = this.slots.get(hex(key))?.byOwner.get(hex(owner));
    return h && h.expiresAt > now ? h.record.seq : undefined;
  }

  /** Forgets expired copies. */
  expire(now: number): void {
    for (const [k, slot] of this.slots) {
      for (const [o, h] of slot.byOwner) if (h.expiresAt <= now) slot.byOwner.delete(o);
      if (slot.byOwner.size === 0) this.slots.delete(k);
    }
  }
}

/** Keeps, per owner, the newest version among copies gathered from several replicas. */
export function mergeCopies(copies: Array<{ record: SignedRecord; ttlLeftMs: number }>): Array<{ record: SignedRecord; ttlLeftMs: number }> {
  const best = new Map<string, { record: SignedRecord; ttlLeftMs: number }>();
  for (const c of copies) {
    const o = hex(c.record.owner);
    const b = best.get(o);
    if (!b || c.record.seq > b.record.seq || (c.record.seq === b.record.seq && c.ttlLeftMs > b.ttlLeftMs)) best.set(o, c);
  }
  return [...best.values()];
}
