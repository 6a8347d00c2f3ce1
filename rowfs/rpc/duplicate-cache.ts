// Duplicate request cache (the classic NFS server "DRC"): a client that lost its connection
// resends calls with the same xid. For procedures that are not idempotent (REMOVE, RENAME,
// CREATE GUARDED...) running them twice gives a wrong answer (NOENT, EXIST), so the reply of the
// first execution is kept and replayed. Keyed by client address (not port: a reconnect changes
// it), xid, program/version/procedure and a checksum of the arguments; the oldest entry goes first.
// Every namespace change passes through here, so the lookup is by xid (a number) in a map and a
// short chain, and eviction by a ring of slots: no key string to build and hash per call, no
// iterator per eviction (a string-keyed Map cost 4-5 us a call in a CPU profile of creates). A
// chain holds the calls of one xid (other clients, or one client's calls with other arguments), so
// it is at most the ring's size long, however a client picks its xids.
import { crc32 } from 'node:zlib';

/** Default number of remembered replies. */
export const DEFAULT_DUPLICATE_CACHE_ENTRIES = 1024;
/** Argument bytes folded into the checksum (length always counts). */
const CHECKSUM_BYTES = 512;

export interface DuplicateKeyParts {
  remoteAddress: string;
  xid: number;
  prog: number;
  vers: number;
  proc: number;
  args: Uint8Array;
}

/** What identifies one call: its parts with the arguments reduced to their length and checksum. */
export interface DuplicateKey {
  readonly remoteAddress: string;
  readonly xid: number;
  readonly prog: number;
  readonly vers: number;
  readonly proc: number;
  readonly argsLength: number;
  readonly checksum: number;
}

export function duplicateKey(p: DuplicateKeyParts): DuplicateKey {
  // CRC-32 (zlib's, native) of the first bytes of the arguments: a byte loop in JS cost more than the rest of the key.
  const checksum = crc32(p.args.length > CHECKSUM_BYTES ? p.args.subarray(0, CHECKSUM_BYTES) : p.args);
  return { remoteAddress: p.remoteAddress, xid: p.xid, prog: p.prog, vers: p.vers, proc: p.proc, argsLength: p.args.length, checksum };
}

function sameCall(a: DuplicateKey, b: DuplicateKey): boolean {
  return a.xid === b.xid && a.proc === b.proc && a.checksum === b.checksum && a.argsLength === b.argsLength && a.prog === b.prog && a.vers === b.vers && a.remoteAddress === b.remoteAddress;
}

/** One remembered call: its key, its reply (being computed, or done), and the next entry with its xid. */
interface Entry {
  key: DuplicateKey;
  reply: Promise<Uint8Array | undefined>;
  sameXid: Entry | undefined;
}

export class DuplicateCache {
  /** The newest entry of each xid, chained to older ones with the same xid (other clients). */
  private readonly byXid = new Map<number, Entry>();
  /** Every entry in order of storing; a full ring's next slot holds the oldest. */
  private readonly ring: (Entry | undefined)[];
  private next = 0;
  private readonly maxEntries: number;
  hits = 0;

  constructor(maxEntries = DEFAULT_DUPLICATE_CACHE_ENTRIES) {
    this.maxEntries = Math.max(0, Math.floor(maxEntries));
    this.ring = new Array<Entry | undefined>(this.maxEntries).fill(undefined);
  }

  /** The earlier reply to the same call, if any (waits when the first one is still running). */
  lookup(key: DuplicateKey): Promise<Uint8Array | undefined> | undefined {
    for (let e = this.byXid.get(key.xid); e; e = e.sameXid) {
      if (sameCall(e.key, key)) {
        this.hits++;
        return e.reply;
      }
    }
    return undefined;
  }

  /** Records the reply a call will produce (an entry of the same call keeps its place, with this reply). */
  store(key: DuplicateKey, reply: Promise<Uint8Array | undefined>): void {
    if (this.maxEntries <= 0) return;
    for (let e = this.byXid.get(key.xid); e; e = e.sameXid) {
      if (sameCall(e.key, key)) {
        e.reply = reply;
        return;
      }
    }
    const old = this.ring[this.next];
    if (old) this.unlink(old);
    const e: Entry = { key, reply, sameXid: this.byXid.get(key.xid) };
    this.byXid.set(key.xid, e);
    this.ring[this.next] = e;
    this.next = (this.next + 1) % this.maxEntries;
  }

  /** Entries remembered now (tests). */
  get size(): number {
    let n = 0;
    for (const e of this.ring) if (e) n++;
    return n;
  }

  /** Takes `entry` out of its xid's chain (its ring slot is about to be reused). */
  private unlink(entry: Entry): void {
    let prev: Entry | undefined;
    for (let e = this.byXid.get(entry.key.xid); e; prev = e, e = e.sameXid) {
      if (e !== entry) continue;
      if (prev) prev.sameXid = e.sameXid;
      else if (e.sameXid) this.byXid.set(e.key.xid, e.sameXid);
      else this.byXid.delete(e.key.xid);
      return;
    }
  }
}
