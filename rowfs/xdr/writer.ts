// XDR encoding (RFC 4506) into one growing buffer. Values are range-checked and variable-length
// items checked against their maximum on write too, so we never emit what a peer must reject.
// `reserve` leaves room at the front (e.g. 4 bytes for a TCP record mark) so framing needs no copy.
// Large opaque bodies can be appended by reference (`opaqueRef`): the encoding is then a list of
// buffers (`framedParts`) that a transport sends with one writev, so bulk data is never copied.
import { XdrEncodeError } from './errors.js';
import { XdrReader } from './reader.js';
import { readFileSlice, type FileSlice } from './file-slice.js';

const UINT32_MAX = 0xffffffff;
const UINT64_MAX = (1n << 64n) - 1n;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const encoder = new TextEncoder();
/** Below this, copying an opaque body is cheaper than one more writev segment. */
export const MIN_REF_BYTES = 4096;

/** A body sent by reference: `data` (bytes or a file range) goes in the stream right before buffer offset `at`. */
interface Ref {
  at: number;
  data: Uint8Array | FileSlice;
}

/** Initial buffers up to this size are cut from a shared slab (every RPC message starts with one). */
const SLAB_PIECE_MAX_BYTES = 2048;
const SLAB_BYTES = 64 * 1024;
let slab = new Uint8Array(0);
let slabUsed = 0;

/**
 * A zeroed buffer of `n` bytes: a small one is the next piece of the current slab, never handed
 * out twice (one allocation per ~30-60 messages instead of one ArrayBuffer each, the way Node's
 * Buffer pool works), so a writer's bytes are its own for as long as anyone holds them; a slab is
 * freed when no piece of it is referenced any more.
 */
function smallBuffer(n: number): Uint8Array {
  if (n > SLAB_PIECE_MAX_BYTES) return new Uint8Array(n);
  if (slabUsed + n > slab.length) {
    slab = new Uint8Array(SLAB_BYTES);
    slabUsed = 0;
  }
  const piece = slab.subarray(slabUsed, slabUsed + n);
  slabUsed = (slabUsed + n + 7) & ~7; // pieces start 8-byte aligned
  return piece;
}

export class XdrWriter {
  private buf: Uint8Array;
  private view: DataView;
  pos: number;
  private readonly refs: Ref[] = [];
  private refBytes = 0;

  constructor(initialBytes = 512, readonly reserve = 0) {
    this.buf = smallBuffer(Math.max(initialBytes, reserve + 16));
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.pos = reserve;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  uint32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > UINT32_MAX) throw new XdrEncodeError('BAD_VALUE', `uint32 ${v}`);
    this.ensure(4);
    this.view.setUint32(this.pos, v);
    this.pos += 4;
    return this;
  }

  int32(v: number): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new XdrEncodeError('BAD_VALUE', `int32 ${v}`);
    this.ensure(4);
    this.view.setInt32(this.pos, v);
    this.pos += 4;
    return this;
  }

  uint64(v: bigint): this {
    if (typeof v !== 'bigint' || v < 0n || v > UINT64_MAX) throw new XdrEncodeError('BAD_VALUE', `uint64 ${v}`);
    this.ensure(8);
    this.view.setBigUint64(this.pos, v);
    this.pos += 8;
    return this;
  }

  int64(v: bigint): this {
    if (typeof v !== 'bigint' || v < INT64_MIN || v > INT64_MAX) throw new XdrEncodeError('BAD_VALUE', `int64 ${v}`);
    this.ensure(8);
    this.view.setBigInt64(this.pos, v);
    this.pos += 8;
    return this;
  }

  bool(v: boolean): this {
    return this.uint32(v ? 1 : 0);
  }

  /** Fixed-length opaque[n]: `data` must be exactly n bytes; zero padding is added. */
  fixedOpaque(data: Uint8Array, n: number): this {
    if (data.length !== n) throw new XdrEncodeError('BAD_VALUE', `fixed opaque of ${data.length} bytes, expected ${n}`);
    const padded = n + ((4 - (n % 4)) % 4); // arithmetic, not bit ops: n may exceed 2^31
    this.ensure(padded);
    this.buf.set(data, this.pos);
    this.buf.fill(0, this.pos + n, this.pos + padded);
    this.pos += padded;
    return this;
  }

  opaque(data: Uint8Array, max = UINT32_MAX): this {
    if (data.length > max) throw new XdrEncodeError('TOO_LONG', `opaque of ${data.length} bytes, max ${max}`);
    this.uint32(data.length);
    return this.fixedOpaque(data, data.length);
  }

  /**
   * opaque<max> whose body is sent by reference, not copied: `data` must stay unchanged until the
   * encoding has been written out. Small bodies are copied (same bytes either way).
   */
  opaqueRef(data: Uint8Array, max = UINT32_MAX): this {
    if (data.length < MIN_REF_BYTES) return this.opaque(data, max);
    if (data.length > max) throw new XdrEncodeError('TOO_LONG', `opaque of ${data.length} bytes, max ${max}`);
    this.uint32(data.length);
    this.refs.push({ at: this.pos, data });
    this.refBytes += data.length;
    const pad = (4 - (data.length % 4)) % 4;
    this.ensure(pad);
    this.buf.fill(0, this.pos, this.pos + pad);
    this.pos += pad;
    return this;
  }

  /**
   * opaque<max> whose body is a range of an open file, sent by reference (sendfile by transports
   * that can, read into memory by the others); the file must keep those bytes until written out.
   */
  opaqueFile(slice: FileSlice, max = UINT32_MAX): this {
    if (!Number.isInteger(slice.length) || slice.length < 0 || slice.length > max) throw new XdrEncodeError('TOO_LONG', `opaque of ${slice.length} bytes, max ${max}`);
    this.uint32(slice.length);
    this.refs.push({ at: this.pos, data: slice });
    this.refBytes += slice.length;
    const pad = (4 - (slice.length % 4)) % 4;
    this.ensure(pad);
    this.buf.fill(0, this.pos, this.pos + pad);
    this.pos += pad;
    return this;
  }

  /** True when some body is a file range (see framedPartsWithFiles). */
  get hasFileBodies(): boolean {
    return this.refs.some((r) => !(r.data instanceof Uint8Array));
  }

  string(s: string, max = UINT32_MAX): this {
    return this.opaque(encoder.encode(s), max);
  }

  optional<T>(v: T | undefined, item: (w: XdrWriter, v: T) => void): this {
    this.bool(v !== undefined);
    if (v !== undefined) item(this, v);
    return this;
  }

  array<T>(items: readonly T[], max: number, item: (w: XdrWriter, v: T) => void): this {
    if (items.length > max) throw new XdrEncodeError('TOO_LONG', `array of ${items.length} items, max ${max}`);
    this.uint32(items.length);
    for (const v of items) item(this, v);
    return this;
  }

  /** A linked list as repeated optional-data, terminated by FALSE. */
  list<T>(items: readonly T[], max: number, item: (w: XdrWriter, v: T) => void): this {
    if (items.length > max) throw new XdrEncodeError('TOO_LONG', `list of ${items.length} items, max ${max}`);
    for (const v of items) {
      this.bool(true);
      item(this, v);
    }
    return this.bool(false);
  }

  /** Appends already-encoded XDR bytes (length must be a multiple of 4). */
  raw(bytes: Uint8Array): this {
    if (bytes.length % 4 !== 0) throw new XdrEncodeError('BAD_VALUE', `raw XDR of ${bytes.length} bytes`);
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    return this;
  }

  /** Length of the encoding after the reserved prefix, bodies by reference included. */
  get length(): number {
    return this.pos - this.reserve + this.refBytes;
  }

  /** Encoded bytes after the reserved prefix (one contiguous copy when bodies were by reference). */
  bytes(): Uint8Array {
    return this.refs.length === 0 ? this.buf.subarray(this.reserve, this.pos) : this.framed().subarray(this.reserve);
  }

  /** The whole encoding including the reserved prefix, contiguous (for in-place framing). */
  framed(): Uint8Array {
    if (this.refs.length === 0) return this.buf.subarray(0, this.pos);
    const parts = this.framedParts();
    const out = new Uint8Array(this.pos + this.refBytes);
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }

  /**
   * The encoding including the reserved prefix as buffers to send in order, without copying bodies
   * appended by reference. The first part always starts with the reserved prefix.
   */
  framedParts(): Uint8Array[] {
    return this.framedPartsWithFiles().map((p) => (p instanceof Uint8Array ? p : readFileSlice(p)));
  }

  /** framedParts, with bodies that are file ranges left as such (for transports that send them). */
  framedPartsWithFiles(): Array<Uint8Array | FileSlice> {
    const parts: Array<Uint8Array | FileSlice> = [];
    let from = 0;
    for (const r of this.refs) {
      if (r.at > from || parts.length === 0) parts.push(this.buf.subarray(from, r.at));
      parts.push(r.data);
      from = r.at;
    }
    if (this.pos > from || parts.length === 0) parts.push(this.buf.subarray(from, this.pos));
    return parts;
  }
}

/** Encodes one value with `encode` and returns its bytes. */
export function encodeXdr<T>(encode: (w: XdrWriter, v: T) => void, v: T): Uint8Array {
  const w = new XdrWriter();
  encode(w, v);
  return w.bytes();
}

/** Decodes one complete value: leftover bytes are an error. */
export function decodeXdr<T>(decode: (r: XdrReader) => T, bytes: Uint8Array): T {
  const r = new XdrReader(bytes);
  const v = decode(r);
  r.expectEnd();
  return v;
}

