// The one error class of the image service core (names, DHT records, manifests, registry). Codecs
// turn the XDR layer's XdrError into ImageError here, so callers of rowfs/image catch one class.
import { CodedError } from '../../lib/coded-error.js';
import { XdrError } from '../xdr/index.js';

export type ImageErrorCode =
  | 'BAD_NAME' // an app name, version, path or name component breaks its rules
  | 'BAD_RECORD' // a DHT value that does not decode (or would not encode) as its record kind
  | 'BAD_MANIFEST' // manifest bytes that do not decode, or a manifest that breaks its rules
  | 'NOT_FOUND' // no claim for the app, no such version, no such path
  | 'NOT_OWNER' // the app is owned by another key, or we are not a named publisher
  | 'CONTESTED' // several owners hold claim values and none is the caller's known owner
  | 'MISMATCH' // a tree or block does not match its manifest (or changed while being read)
  | 'IN_USE' // a version still has sharers
  | 'TOO_LARGE' // a value would exceed its bound (16 KiB DHT value, 2,000,000 manifest entries)
  | 'IO'; // a file of the tree could not be read

export class ImageError extends CodedError<ImageErrorCode> {
  constructor(
    code: ImageErrorCode,
    message: string,
  ) {
    super(code, message);
  }
}

/** Runs a decoder, turning an XdrError (or a RangeError from a checker) into ImageError(code). */
export function decodingAs<T>(code: 'BAD_RECORD' | 'BAD_MANIFEST', what: string, decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    if (err instanceof ImageError) throw err.code === code ? err : new ImageError(code, `${what}: ${err.message}`);
    if (err instanceof XdrError || err instanceof RangeError) throw new ImageError(code, `${what}: ${err.message}`);
    throw err;
  }
}

/** Short printable form of a hostile string for an error message (quoted, at most 40 characters). */
export function quote(s: string): string {
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}...` : s);
}

/** First 8 bytes of a key in hex: enough to tell owners apart in a message. */
export function keyPrefix(key: Uint8Array): string {
  return Buffer.from(key.subarray(0, 8)).toString('hex');
}
