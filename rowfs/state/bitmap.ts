// Block presence bitmap: bit i set means block i of a file lives in the shadow (or, for the block
// cache, is stored locally). Growable, little-endian bit order within each byte, serialised as the
// raw bytes with trailing zero bytes trimmed so equal sets encode equally.
//
// Most files have fewer than 32 blocks (a 64 KiB block: 2 MiB), and the proxy keeps a bitmap per
// cached or shadowed file: those live in one 32-bit word, not in a typed array of their own
// (~100 bytes a file in the heap snapshot of docs/rowfs.md).

/** Blocks the word holds (0..31). */
const WORD_BLOCKS = 32;

export class BlockBitmap {
  /** Blocks 0..31, while `bytes` is undefined. */
  private word = 0;
  /** Every block, once a block past the word has been set (`word` is then unused). */
  private bytes: Uint8Array | undefined;

  constructor(bytes?: Uint8Array) {
    if (!bytes) return;
    let end = bytes.length;
    while (end > 0 && bytes[end - 1] === 0) end--;
    if (end * 8 <= WORD_BLOCKS) {
      for (let i = 0; i < end; i++) this.word |= bytes[i]! << (8 * i);
    } else {
      this.bytes = bytes.slice(0, end);
    }
  }

  has(block: number): boolean {
    const bytes = this.bytes;
    if (bytes === undefined) return block < WORD_BLOCKS && ((this.word >>> block) & 1) === 1;
    const byte = block >>> 3;
    return byte < bytes.length && (bytes[byte]! & (1 << (block & 7))) !== 0;
  }

  set(block: number): void {
    if (this.bytes === undefined && block < WORD_BLOCKS) {
      this.word |= 1 << block;
      return;
    }
    const bytes = this.grow((block >>> 3) + 1);
    bytes[block >>> 3]! |= 1 << (block & 7);
  }

  /** Sets blocks [first, last] inclusive. */
  setRange(first: number, last: number): void {
    for (let b = first; b <= last; b++) this.set(b);
  }

  /** Clears every block >= `block` (used by truncate). */
  clearFrom(block: number): void {
    const bytes = this.bytes;
    if (bytes === undefined) {
      if (block < WORD_BLOCKS) this.word &= (1 << block) - 1; // block 31: 0x7fffffff after ToInt32
      return;
    }
    for (let b = block; b < bytes.length * 8; b++) {
      const byte = b >>> 3;
      if ((b & 7) === 0 && byte < bytes.length) {
        bytes.fill(0, byte);
        break;
      }
      bytes[byte]! &= ~(1 << (b & 7));
    }
  }

  /** Number of blocks set. */
  count(): number {
    if (this.bytes === undefined) return popcount(this.word);
    let n = 0;
    for (const v of this.bytes) n += popcount(v);
    return n;
  }

  /** True when blocks [first, last] are all set. */
  hasAll(first: number, last: number): boolean {
    for (let b = first; b <= last; b++) if (!this.has(b)) return false;
    return true;
  }

  encode(): Uint8Array {
    const bytes = this.bytes;
    if (bytes === undefined) {
      const out = new Uint8Array(4);
      let end = 0;
      for (let i = 0; i < 4; i++) {
        out[i] = (this.word >>> (8 * i)) & 0xff;
        if (out[i] !== 0) end = i + 1;
      }
      return out.subarray(0, end);
    }
    let end = bytes.length;
    while (end > 0 && bytes[end - 1] === 0) end--;
    return bytes.slice(0, end);
  }

  static decode(bytes: Uint8Array | undefined | null): BlockBitmap {
    return new BlockBitmap(bytes ?? undefined);
  }

  /** The byte form, at least `len` bytes long (the word's blocks moved into it the first time). */
  private grow(len: number): Uint8Array {
    let bytes = this.bytes;
    if (bytes === undefined) {
      bytes = new Uint8Array(Math.max(len, 8));
      for (let i = 0; i < 4; i++) bytes[i] = (this.word >>> (8 * i)) & 0xff;
      this.word = 0;
      this.bytes = bytes;
      return bytes;
    }
    if (len <= bytes.length) return bytes;
    const next = new Uint8Array(Math.max(len, bytes.length * 2));
    next.set(bytes);
    this.bytes = next;
    return next;
  }
}

function popcount(x: number): number {
  let v = x >>> 0;
  let n = 0;
  while (v !== 0) {
    v &= v - 1;
    n++;
  }
  return n;
}
