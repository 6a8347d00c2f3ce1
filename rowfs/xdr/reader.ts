// XDR decoding (RFC 4506) from a byte buffer. Every read checks bounds first, every variable-length
// item is checked against its maximum before anything is allocated, padding must be zero, and
// opaque data is returned as a view into the input (no copy).
import { XdrDecodeError } from './errors.js';

const UINT32_MAX = 0xffffffff;
const utf8 = new TextDecoder('utf-8', { fatal: false });

export class XdrReader {
  private readonly view: DataView;
  /** Current read position, relative to the start of `buf`. */
  pos: number;

  constructor(
    readonly buf: Uint8Array,
    offset = 0,
    private readonly end = buf.length,
  ) {
    if (offset < 0 || end > buf.length || offset > end) throw new XdrDecodeError('SHORT_BUFFER', 'bad reader bounds');
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = offset;
  }

  remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): void {
    if (n > this.end - this.pos) {
      throw new XdrDecodeError('SHORT_BUFFER', `${what}: need ${n} bytes at ${this.pos}, have ${this.end - this.pos}`);
    }
  }

  uint32(): number {
    this.need(4, 'uint32');
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  int32(): number {
    this.need(4, 'int32');
    const v = this.view.getInt32(this.pos);
    this.pos += 4;
    return v;
  }

  uint64(): bigint {
    this.need(8, 'uint64');
    const v = this.view.getBigUint64(this.pos);
    this.pos += 8;
    return v;
  }

  int64(): bigint {
    this.need(8, 'int64');
    const v = this.view.getBigInt64(this.pos);
    this.pos += 8;
    return v;
  }

  /** RFC 4506 s4.4: a bool is an enum with only 0 and 1 valid. */
  bool(): boolean {
    const v = this.uint32();
    if (v > 1) throw new XdrDecodeError('BAD_VALUE', `bool ${v}`);
    return v === 1;
  }

  /** An enum value that must be one of `allowed` (a set of the declared values). */
  enumOf<T extends number>(allowed: ReadonlySet<number>, what: string): T {
    const v = this.int32();
    if (!allowed.has(v)) throw new XdrDecodeError('BAD_VALUE', `${what} ${v}`);
    return v as T;
  }

  /** Fixed-length opaque[n]: n bytes plus zero padding to a multiple of 4. */
  fixedOpaque(n: number): Uint8Array {
    const padded = n + ((4 - (n % 4)) % 4); // arithmetic, not bit ops: n may exceed 2^31
    this.need(padded, 'opaque');
    const out = this.buf.subarray(this.pos, this.pos + n);
    for (let i = this.pos + n; i < this.pos + padded; i++) {
      if (this.buf[i] !== 0) throw new XdrDecodeError('NONZERO_PADDING', `padding byte at ${i}`);
    }
    this.pos += padded;
    return out;
  }

  /** Variable-length opaque<max>; the length is checked against `max` before reading the data. */
  opaque(max = UINT32_MAX): Uint8Array {
    const len = this.uint32();
    if (len > max) throw new XdrDecodeError('TOO_LONG', `opaque of ${len} bytes, max ${max}`);
    return this.fixedOpaque(len);
  }

  string(max = UINT32_MAX): string {
    return utf8.decode(this.opaque(max));
  }

  /** Optional-data (`*T`, RFC 4506 s4.19). */
  optional<T>(item: (r: XdrReader) => T): T | undefined {
    return this.bool() ? item(this) : undefined;
  }

  /** Variable-length array T<max>. */
  array<T>(max: number, item: (r: XdrReader) => T): T[] {
    const n = this.uint32();
    if (n > max) throw new XdrDecodeError('TOO_LONG', `array of ${n} items, max ${max}`);
    // Each item takes at least 4 bytes: refuse counts the input cannot hold before allocating.
    this.need(n * 4, 'array');
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item(this));
    return out;
  }

  /** A linked list encoded as repeated optional-data (`entry *next`), at most `max` items. */
  list<T>(max: number, item: (r: XdrReader) => T): T[] {
    const out: T[] = [];
    while (this.bool()) {
      if (out.length >= max) throw new XdrDecodeError('TOO_LONG', `list longer than ${max}`);
      out.push(item(this));
    }
    return out;
  }

  /** Throws if any input is left: a complete message must consume everything. */
  expectEnd(): void {
    if (this.pos !== this.end) throw new XdrDecodeError('TRAILING_BYTES', `${this.end - this.pos} bytes left`);
  }
}
