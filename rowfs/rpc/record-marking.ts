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

/** Writes the record mark into the first 4 bytes of `framed` (payload follows in place). */
export function markRecordInPlace(framed: Uint8Array): Uint8Array {
  const len = framed.length - 4;
  if (len > FRAGMENT_LENGTH_MASK) throw new RecordMarkingError('RECORD_TOO_LARGE', `${len} bytes`);
  new DataView(framed.buffer, framed.byteOffset, 4).setUint32(0, (LAST_FRAGMENT_BIT | len) >>> 0);
  return framed;
}

export class RecordDecoder {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  /** Fragments of the record being assembled. */
  private fragments: Uint8Array[] = [];
  private recordBytes = 0;

  constructor(private readonly maxRecordBytes = DEFAULT_MAX_RECORD_BYTES) {}

  /**
   * Feeds stream bytes; returns the records completed by them. Throws RecordMarkingError when a
   * record would exceed the maximum or a non-final fragment is empty; the stream is then unusable.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const out: Uint8Array[] = [];
    for (;;) {
      if (this.buffered < 4) break;
      const header = this.peek(4);
      const mark = new DataView(header.buffer, header.byteOffset, 4).getUint32(0);
      const len = mark & FRAGMENT_LENGTH_MASK;
      const last = (mark & LAST_FRAGMENT_BIT) !== 0;
      if (this.recordBytes + len > this.maxRecordBytes) {
        throw new RecordMarkingError('RECORD_TOO_LARGE', `record of ${this.recordBytes + len} bytes, max ${this.maxRecordBytes}`);
      }
      if (len === 0 && !last) throw new RecordMarkingError('EMPTY_FRAGMENT', 'empty non-final fragment');
      if (this.buffered < 4 + len) break;
      this.take(4);
      const frag = this.take(len);
      this.fragments.push(frag);
      this.recordBytes += len;
      if (last) {
        out.push(this.fragments.length === 1 ? this.fragments[0]! : concat(this.fragments, this.recordBytes));
        this.fragments = [];
        this.recordBytes = 0;
      }
    }
    return out;
  }

  /** Bytes held for an incomplete record. */
  pendingBytes(): number {
    return this.buffered + this.recordBytes;
  }

  private peek(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    return concat(this.chunks, n);
  }

  private take(n: number): Uint8Array {
    if (n === 0) return new Uint8Array(0); // an empty last fragment: no chunk may be left to look at
    const first = this.chunks[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - off);
      out.set(c.subarray(0, k), off);
      off += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    const k = Math.min(p.length, total - off);
    out.set(p.subarray(0, k), off);
    off += k;
    if (off >= total) break;
  }
  return out;
}
