// ONC RPC record marking over a byte stream (RFC 5531 s11): each record is one or more fragments,
// each prefixed by 4 bytes: the top bit marks the last fragment, the low 31 bits give its length.
// The decoder is fed arbitrary chunks and emits whole records; it enforces a maximum record size
// before buffering anything, so a hostile peer cannot make us allocate without bound.
import { RecordMarkingError } from './errors.js';

export const LAST_FRAGMENT_BIT = 0x80000000;
export const FRAGMENT_LENGTH_MASK = 0x7fffffff;
/** Default cap on one record: a 1 MiB READ/WRITE payload plus headers, with room to spare. */
export const DEFAULT_MAX_RECORD_BYTES = 4 * 1024 * 1024;

/** Frames `payload` as one record with a single last fragment. */
export function encodeRecord(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, (LAST_FRAGMENT_BIT | payload.length) >>> 0);
  out.set(payload, 4);
  return out;
}

/**
 * Writes the record mark of a record sent as `parts` (the first part starts with 4 reserved bytes,
 * the rest follow in order) into those 4 bytes; returns `parts`.
 */
export function markRecordParts<P extends Uint8Array | { readonly length: number }>(parts: P[]): P[] {
  let len = -4;
  for (const p of parts) len += p.length;
  const first = parts[0];
  if (!first || !(first instanceof Uint8Array) || first.length < 4 || len < 0) throw new RecordMarkingError('RECORD_TOO_LARGE', 'no room for the record mark');
  if (len > FRAGMENT_LENGTH_MASK) throw new RecordMarkingError('RECORD_TOO_LARGE', `${len} bytes`);
  new DataView(first.buffer, first.byteOffset, 4).setUint32(0, (LAST_FRAGMENT_BIT | len) >>> 0);
  return parts;
}

/**
 * Reassembles records from stream chunks with as few copies as possible: a fragment that lies
 * wholly inside one chunk is returned as a view of it (no copy); a fragment spread over chunks is
 * copied once, as its bytes arrive, into a buffer of its exact size (its length is known from the
 * mark), so no list of chunks is kept. Only records of several fragments are joined (rare: the
 * clients and servers we know send one fragment per record).
 */
export class RecordDecoder {
  /** Bytes of a record mark split across chunks. */
  private readonly mark = new Uint8Array(4);
  private markHave = 0;
  /** Length of the fragment being read, -1 while waiting for its mark. */
  private fragLen = -1;
  private fragLast = false;
  /** Destination of a fragment spread over chunks, and how much of it has arrived. */
  private fragBuf: Uint8Array | undefined;
  private fragHave = 0;
  /** Complete fragments of the record being assembled. */
  private fragments: Uint8Array[] = [];
  private recordBytes = 0;
  /** The scratch buffer handed out by the last readTarget(), if that was the target. */
  private scratch: Uint8Array | undefined;

  constructor(
    private readonly maxRecordBytes = DEFAULT_MAX_RECORD_BYTES,
    /**
     * Where to assemble a record that arrives as one fragment spread over chunks: given its length
     * and its first bytes (at least 4 when available), a buffer of at least that length, or
     * undefined for a new one. Lets a caller supply the buffer a reply lands in (see RpcCallOptions.replyInto).
     */
    private readonly fragmentTarget?: (length: number, head: Uint8Array) => Uint8Array | undefined,
  ) {}

  /** True while the fragment being assembled lives in `buf` (a buffer fragmentTarget returned). */
  assemblingInto(buf: Uint8Array): boolean {
    return this.fragBuf !== undefined && this.fragBuf.buffer === buf.buffer;
  }

  /**
   * Feeds stream bytes; returns the records completed by them. Throws RecordMarkingError when a
   * record would exceed the maximum or a non-final fragment is empty; the stream is then unusable.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    return this.consume(chunk, false);
  }

  /**
   * Where the next socket read should land (for `net.connect({ onread })`): the unfilled rest of a
   * fragment being assembled, so the kernel writes bulk data straight into the record (no copy and
   * no per-read chunk allocation), else the reusable `scratch` buffer. Then call `pushRead(n)`.
   */
  readTarget(scratch: Uint8Array): Uint8Array {
    if (this.fragBuf !== undefined) {
      this.scratch = undefined;
      return this.fragBuf.subarray(this.fragHave);
    }
    this.scratch = scratch;
    return scratch;
  }

  /** Takes the `n` bytes the last read put into `readTarget()`'s buffer; returns completed records. */
  pushRead(n: number): Uint8Array[] {
    const scratch = this.scratch;
    this.scratch = undefined;
    if (scratch !== undefined) return this.consume(scratch.subarray(0, n), true);
    if (this.fragBuf === undefined || n > this.fragLen - this.fragHave) throw new RecordMarkingError('RECORD_TOO_LARGE', 'read past the fragment');
    this.fragHave += n;
    const out: Uint8Array[] = [];
    if (this.fragHave === this.fragLen) {
      const frag = this.fragBuf;
      this.fragBuf = undefined;
      this.fragHave = 0;
      this.endFragment(frag, out);
    }
    return out;
  }

  /** `reused`: the chunk's memory is overwritten later, so fragments in it are copied, not viewed. */
  private consume(chunk: Uint8Array, reused: boolean): Uint8Array[] {
    const out: Uint8Array[] = [];
    let off = 0;
    while (off < chunk.length) {
      if (this.fragLen < 0) {
        let mark: number;
        if (this.markHave === 0 && chunk.length - off >= 4) {
          mark = readUint32(chunk, off);
          off += 4;
        } else {
          const k = Math.min(4 - this.markHave, chunk.length - off);
          this.mark.set(chunk.subarray(off, off + k), this.markHave);
          this.markHave += k;
          off += k;
          if (this.markHave < 4) break;
          this.markHave = 0;
          mark = readUint32(this.mark, 0);
        }
        const len = mark & FRAGMENT_LENGTH_MASK;
        const last = (mark & LAST_FRAGMENT_BIT) !== 0;
        if (this.recordBytes + len > this.maxRecordBytes) {
          throw new RecordMarkingError('RECORD_TOO_LARGE', `record of ${this.recordBytes + len} bytes, max ${this.maxRecordBytes}`);
        }
        if (len === 0 && !last) throw new RecordMarkingError('EMPTY_FRAGMENT', 'empty non-final fragment');
        this.fragLen = len;
        this.fragLast = last;
        if (len === 0) {
          this.endFragment(new Uint8Array(0), out);
          continue;
        }
      }
      const avail = chunk.length - off;
      if (this.fragBuf === undefined && avail >= this.fragLen) {
        const frag = reused ? copyOf(chunk.subarray(off, off + this.fragLen)) : chunk.subarray(off, off + this.fragLen);
        off += this.fragLen;
        this.endFragment(frag, out);
        continue;
      }
      // allocUnsafe: every byte is overwritten before the fragment is handed out.
      if (this.fragBuf === undefined) {
        const lone = this.fragLast && this.fragments.length === 0;
        const given = lone ? this.fragmentTarget?.(this.fragLen, chunk.subarray(off, off + Math.min(avail, 4))) : undefined;
        this.fragBuf = given !== undefined && given.length >= this.fragLen ? given.subarray(0, this.fragLen) : Buffer.allocUnsafe(this.fragLen);
      }
      const k = Math.min(avail, this.fragLen - this.fragHave);
      this.fragBuf.set(chunk.subarray(off, off + k), this.fragHave);
      this.fragHave += k;
      off += k;
      if (this.fragHave === this.fragLen) {
        const frag = this.fragBuf;
        this.fragBuf = undefined;
        this.fragHave = 0;
        this.endFragment(frag, out);
      }
    }
    return out;
  }

  /** True between the first byte of a record and its last (a record mark counts). */
  midRecord(): boolean {
    return this.markHave > 0 || this.fragLen >= 0 || this.fragments.length > 0;
  }

  /** Bytes held for an incomplete record. */
  pendingBytes(): number {
    return this.markHave + this.fragHave + this.recordBytes;
  }

  private endFragment(frag: Uint8Array, out: Uint8Array[]): void {
    this.fragLen = -1;
    if (this.fragments.length === 0 && this.fragLast) {
      out.push(frag);
      return;
    }
    this.fragments.push(frag);
    this.recordBytes += frag.length;
    if (!this.fragLast) return;
    out.push(concat(this.fragments, this.recordBytes));
    this.fragments = [];
    this.recordBytes = 0;
  }
}

function copyOf(b: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(b.length);
  out.set(b);
  return out;
}

function readUint32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = Buffer.allocUnsafe(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
