// The frame every registry record shares: a leading magic word (three ASCII letters naming the
// kind, then a format version byte) and a body of at most MAX_RECORD_BYTES (the DHT's value cap).
// A record occupies bytes[offset, end) exactly: bytes left before `end` are an error.
import { XdrReader, XdrWriter, XdrError, XdrDecodeError } from '../xdr/index.js';
import { ImageError, decodingAs } from './errors.js';

/** The DHT refuses larger values (overlay/dht/record.ts MAX_VALUE_BYTES). */
export const MAX_RECORD_BYTES = 16 * 1024;
export const RECORD_FORMAT_VERSION = 1;

export interface RecordCodec<T> {
  encode(v: T): Uint8Array;
  decode(bytes: Uint8Array, offset?: number, end?: number): { value: T; bytesUsed: number };
  encodedLength(v: T): number;
}

/** XDR length of a string/opaque of `n` bytes: length word plus data padded to 4. */
export const xdrOpaqueLength = (n: number): number => 4 + n + ((4 - (n % 4)) % 4);
export const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8');

/** Three ASCII letters naming a kind, then the format version byte. */
export function magicWord(tag: string): number {
  if (!/^[A-Z]{3}$/.test(tag)) throw new Error('a magic tag is three capital letters');
  return ((tag.charCodeAt(0) << 24) | (tag.charCodeAt(1) << 16) | (tag.charCodeAt(2) << 8) | RECORD_FORMAT_VERSION) >>> 0;
}

export function readMagic(r: XdrReader, magic: number, kind: string): void {
  const m = r.uint32();
  if (m >>> 8 !== magic >>> 8) throw new XdrDecodeError('BAD_VALUE', `not a ${kind} (magic 0x${m.toString(16).padStart(8, '0')})`);
  if ((m & 0xff) !== (magic & 0xff)) throw new XdrDecodeError('BAD_VALUE', `unsupported ${kind} format ${m & 0xff}`);
}

export function recordCodec<T>(
  kind: string,
  tag: string,
  body: { write(w: XdrWriter, v: T): void; read(r: XdrReader): T; length(v: T): number },
): RecordCodec<T> {
  const magic = magicWord(tag);
  return {
    encode(v) {
      const w = new XdrWriter(256);
      try {
        w.uint32(magic);
        body.write(w, v);
      } catch (err) {
        if (err instanceof XdrError) throw new RangeError(`${kind}: ${err.message}`);
        throw err;
      }
      if (w.length > MAX_RECORD_BYTES) throw new ImageError('TOO_LARGE', `${kind} of ${w.length} bytes exceeds the DHT's ${MAX_RECORD_BYTES}`);
      return w.bytes().slice();
    },
    decode(bytes, offset = 0, end = bytes.length) {
      return decodingAs('BAD_RECORD', kind, () => {
        if (end - offset > MAX_RECORD_BYTES) throw new XdrDecodeError('TOO_LONG', `${end - offset} bytes, max ${MAX_RECORD_BYTES}`);
        const r = new XdrReader(bytes, offset, end);
        readMagic(r, magic, kind);
        const value = body.read(r);
        r.expectEnd();
        return { value, bytesUsed: end - offset };
      });
    },
    encodedLength: (v) => 4 + body.length(v),
  };
}
