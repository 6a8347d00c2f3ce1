// The one shape of the binary codecs here: the encoding length of a value, encode into a buffer at an
// offset (zero-copy into a caller's buffer, e.g. behind a header), decode at an offset reporting the
// bytes used. Whole-buffer encode and decode are derived from it, never written again per codec.

export interface Decoded<T> {
  readonly value: T;
  readonly bytesUsed: number;
}

export interface BinaryCodec<T> {
  /** Bytes `value` takes when encoded. */
  encodingLength(value: T): number;
  /** Writes `value` at `offset` of `out`; returns the bytes written. RangeError if it cannot be encoded or does not fit. */
  encodeInto(value: T, out: Uint8Array, offset: number): number;
  /** Reads one value at `offset`; throws the codec's decode error on malformed input. */
  decodeAt(bytes: Uint8Array, offset: number): Decoded<T>;
}

/** messageCodec's one-pass whole-buffer encoder: one length computation, no zeroing of a new buffer. */
const ENCODE_NEW = Symbol('encodeNew');
type WithEncodeNew<T> = BinaryCodec<T> & { [ENCODE_NEW]?: (value: T) => Uint8Array };

/** `value` encoded into a new buffer of exactly its length. */
export function encodeToBytes<T>(codec: BinaryCodec<T>, value: T): Uint8Array {
  const fast = (codec as WithEncodeNew<T>)[ENCODE_NEW];
  if (fast) return fast(value);
  const out = new Uint8Array(codec.encodingLength(value));
  codec.encodeInto(value, out, 0);
  return out;
}

/**
 * A codec for a message that fills the rest of its datagram or record: `write` gets a zeroed view of
 * exactly `encodingLength(value)` bytes, `read` the bytes from the offset to the end.
 */
export function messageCodec<T>(parts: {
  encodingLength(value: T): number;
  write(value: T, out: Uint8Array): void;
  read(bytes: Uint8Array): T;
}): BinaryCodec<T> {
  const codec: WithEncodeNew<T> = {
    encodingLength: parts.encodingLength,
    encodeInto(value, out, offset) {
      const length = parts.encodingLength(value);
      if (!Number.isInteger(offset) || offset < 0 || out.length - offset < length) {
        throw new RangeError(`buffer too small: need ${length} bytes at offset ${offset}, have ${out.length - offset}`);
      }
      const view = out.subarray(offset, offset + length);
      view.fill(0);
      parts.write(value, view);
      return length;
    },
    decodeAt(bytes, offset) {
      if (!Number.isInteger(offset) || offset < 0 || offset > bytes.length) throw new RangeError(`offset ${offset} outside ${bytes.length} bytes`);
      return { value: parts.read(offset === 0 ? bytes : bytes.subarray(offset)), bytesUsed: bytes.length - offset };
    },
    // A new buffer is already zeroed, and its length needs computing once (hot for link and relay frames).
    [ENCODE_NEW](value) {
      const out = new Uint8Array(parts.encodingLength(value));
      parts.write(value, out);
      return out;
    },
  };
  return codec;
}
