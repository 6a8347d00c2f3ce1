// Main's attributes of the nodes the proxy has seen, packed: 68 bytes a node in shared chunks,
// not a decoded attribute set (an object, three time objects, a device pair and three bigints:
// ~330 bytes, and a proxy remembers up to 16,384 of them). Each read decodes a fresh set with the
// node's virtual fileid and the proxy's fsid; sets are never changed in place, so a fresh one is
// as good as a shared one. Oldest-remembered first out, as a Map keeps its keys.
import type { Fattr3 } from '../nfs3/types.js';
import { PROXY_FSID } from './attrs.js';

/** type, mode, nlink, uid, gid; size, used; rdev; atime, mtime, ctime (fileid and fsid are virtual). */
const RECORD_BYTES = 68;
/** Slots per chunk: chunks are made as the table fills (86 KiB each). */
const CHUNK_SLOTS = 1024;

export class MainAttrTable {
  /** vid -> slot, in the order remembered. */
  private readonly slots = new Map<number, number>();
  private readonly chunks: DataView[] = [];
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.slots.size;
  }

  has(vid: number): boolean {
    return this.slots.has(vid);
  }

  /** Main's attributes of node `vid` as a client sees them (fileid = vid, fsid = the proxy's). */
  get(vid: number): Fattr3 | undefined {
    const slot = this.slots.get(vid);
    if (slot === undefined) return undefined;
    const v = this.chunks[(slot / CHUNK_SLOTS) | 0]!;
    const o = (slot % CHUNK_SLOTS) * RECORD_BYTES;
    return {
      type: v.getUint32(o),
      mode: v.getUint32(o + 4),
      nlink: v.getUint32(o + 8),
      uid: v.getUint32(o + 12),
      gid: v.getUint32(o + 16),
      size: v.getBigUint64(o + 20),
      used: v.getBigUint64(o + 28),
      rdev: { specdata1: v.getUint32(o + 36), specdata2: v.getUint32(o + 40) },
      fsid: PROXY_FSID,
      fileid: BigInt(vid),
      atime: { seconds: v.getUint32(o + 44), nseconds: v.getUint32(o + 48) },
      mtime: { seconds: v.getUint32(o + 52), nseconds: v.getUint32(o + 56) },
      ctime: { seconds: v.getUint32(o + 60), nseconds: v.getUint32(o + 64) },
    };
  }

  /** Remembers `a` for node `vid` (as the newest); the oldest goes when the table is full. */
  set(vid: number, a: Fattr3): void {
    let slot = this.slots.get(vid);
    if (slot !== undefined) this.slots.delete(vid);
    else slot = this.takeSlot();
    this.slots.set(vid, slot);
    const v = this.chunks[(slot / CHUNK_SLOTS) | 0]!;
    const o = (slot % CHUNK_SLOTS) * RECORD_BYTES;
    v.setUint32(o, a.type);
    v.setUint32(o + 4, a.mode);
    v.setUint32(o + 8, a.nlink);
    v.setUint32(o + 12, a.uid);
    v.setUint32(o + 16, a.gid);
    v.setBigUint64(o + 20, a.size);
    v.setBigUint64(o + 28, a.used);
    v.setUint32(o + 36, a.rdev.specdata1);
    v.setUint32(o + 40, a.rdev.specdata2);
    v.setUint32(o + 44, a.atime.seconds);
    v.setUint32(o + 48, a.atime.nseconds);
    v.setUint32(o + 52, a.mtime.seconds);
    v.setUint32(o + 56, a.mtime.nseconds);
    v.setUint32(o + 60, a.ctime.seconds);
    v.setUint32(o + 64, a.ctime.nseconds);
  }

  delete(vid: number): void {
    const slot = this.slots.get(vid);
    if (slot === undefined) return;
    this.slots.delete(vid);
    this.freeSlots.push(slot);
  }

  private takeSlot(): number {
    if (this.slots.size >= this.capacity) {
      const [oldestVid, slot] = this.slots.entries().next().value as [number, number];
      this.slots.delete(oldestVid);
      return slot;
    }
    const reused = this.freeSlots.pop();
    if (reused !== undefined) return reused;
    const slot = this.nextSlot++;
    if (slot % CHUNK_SLOTS === 0) this.chunks.push(new DataView(new ArrayBuffer(CHUNK_SLOTS * RECORD_BYTES)));
    return slot;
  }
}
