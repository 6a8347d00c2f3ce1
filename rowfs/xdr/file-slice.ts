// A byte range of an open file that an encoding carries by reference instead of as bytes (READ
// replies served from the block cache): a transport that can (TCP with the native sender) passes
// it to the kernel with sendfile(2); anything else materialises it with one read.
import { readSync } from 'node:fs';
import { XdrEncodeError } from './errors.js';

export interface FileSlice {
  readonly fd: number;
  readonly offset: number;
  readonly length: number;
}

export function isFileSlice(p: Uint8Array | FileSlice): p is FileSlice {
  return !(p instanceof Uint8Array);
}

/** The slice's bytes, read now (the file must hold them). */
export function readFileSlice(s: FileSlice): Uint8Array {
  const out = Buffer.allocUnsafe(s.length);
  let got = 0;
  while (got < s.length) {
    const n = readSync(s.fd, out, got, s.length - got, s.offset + got);
    if (n === 0) throw new XdrEncodeError('BAD_VALUE', `file body ends ${s.length - got} bytes early`);
    got += n;
  }
  return out;
}
