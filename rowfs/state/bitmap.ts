// Block presence bitmap: bit i set means block i of a file lives in the shadow (or, for the block
// cache, is stored locally). Growable, little-endian bit order within each byte, serialised as the
// raw bytes with trailing zero bytes trimmed so equal sets encode equally.

export class BlockBitmap {
  private bytes: Uint8Array;

  constructor(bytes?: Uint8Array) {
    this.bytes = bytes ? new Uint8Array(bytes) : new Uint8Array(0);
  }

  has(block: number): boolean {
    const byte = block >>> 3;
    return byte < this.bytes.length && (this.bytes[byte]! & (1 << (block & 7))) !== 0;
  }

  set(block: number): void {
    this.grow((block >>> 3) + 1);
    this.bytes[block >>> 3]! |= 1 << (block & 7);
  }

  /** Sets blocks [first, last] inclusive. */
  setRange(first: number, last: number): void {
    for (let b = first; b <= last; b++) this.set(b);
  }

  /** Clears every block >= `block` (used by truncate). */
  clearFrom(block: number): void {
    for (let b = block; b < this.bytes.length * 8; b++) {
      const byte = b >>> 3;
      if ((b & 7) === 0 && byte < this.bytes.length) {
        this.bytes.fill(0, byte);
        break;
      }
      this.bytes[byte]! &= ~(1 << (b & 7));
    }
  }

  /** Number of blocks set. */
  count(): number {
    let n = 0;
    for (const v of this.bytes) {
      let x = v;
      while (x) {
        n += x & 1;
        x >>>= 1;
      }
    }
    return n;
  }

  /** True when blocks [first, last] are all set. */
  hasAll(first: number, last: number): boolean {
    for (let b = first; b <= last; b++) if (!this.has(b)) return false;
    return true;
  }

  encode(): Uint8Array {
    let end = this.bytes.length;
    while (end > 0 && this.bytes[end - 1] === 0) end--;
    return this.bytes.slice(0, end);
  }

  static decode(bytes: Uint8Array | undefined | null): BlockBitmap {
    return new BlockBitmap(bytes ?? undefined);
  }

  private grow(len: number): void {
    if (len <= this.bytes.length) return;
    const next = new Uint8Array(Math.max(len, this.bytes.length * 2));
    next.set(this.bytes);
    this.bytes = next;
  }
}
