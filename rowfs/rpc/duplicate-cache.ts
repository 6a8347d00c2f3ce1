// Duplicate request cache (the classic NFS server "DRC"): a client that lost its connection
// resends calls with the same xid. For procedures that are not idempotent (REMOVE, RENAME,
// CREATE GUARDED...) running them twice gives a wrong answer (NOENT, EXIST), so the reply of the
// first execution is kept and replayed. Keyed by client address (not port: a reconnect changes
// it), xid, program/version/procedure and a checksum of the arguments; bounded LRU.
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

export function duplicateKey(p: DuplicateKeyParts): string {
  // CRC-32 (zlib's, native) of the first bytes of the arguments: a byte loop in JS cost more than the rest of the key.
  const h = crc32(p.args.length > CHECKSUM_BYTES ? p.args.subarray(0, CHECKSUM_BYTES) : p.args);
  return `${p.remoteAddress}|${p.xid}|${p.prog}|${p.vers}|${p.proc}|${p.args.length}|${h}`;
}

export class DuplicateCache {
  /** A reply being computed (a promise) or done (its bytes, without record mark). */
  private readonly entries = new Map<string, Promise<Uint8Array | undefined>>();
  hits = 0;

  constructor(private readonly maxEntries = DEFAULT_DUPLICATE_CACHE_ENTRIES) {}

  /** The earlier reply to the same call, if any (waits when the first one is still running). */
  lookup(key: string): Promise<Uint8Array | undefined> | undefined {
    const e = this.entries.get(key);
    if (e) this.hits++;
    return e;
  }

  /** Records the reply a call will produce. */
  store(key: string, reply: Promise<Uint8Array | undefined>): void {
    this.entries.set(key, reply);
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }
}
