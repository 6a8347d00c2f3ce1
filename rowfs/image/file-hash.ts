// Streaming SHA-256 of a file's blocks: reads in chunks of CHUNK_BYTES into two buffers allocated
// once (the next read runs in the thread pool while this chunk is hashed), so memory stays bounded
// whatever the file's size. The file is opened without following symlinks and without blocking on
// a fifo; if it is not the regular file of `size` bytes the walk saw, it changed under us: MISMATCH.
import { open, type FileHandle } from 'node:fs/promises';
import { constants } from 'node:fs';
import { createHash } from 'node:crypto';
import { ImageError, quote } from './errors.js';
import { HASH_BYTES, blocksOf } from './manifest-codec.js';

/** Bytes per read: a multiple of every allowed block size (<= 1 MiB). */
export const CHUNK_BYTES = 1 << 20;

export class ChunkBuffers {
  readonly a = Buffer.allocUnsafe(CHUNK_BYTES);
  readonly b = Buffer.allocUnsafe(CHUNK_BYTES);
}

async function readFull(fh: FileHandle, buf: Buffer, length: number, position: number): Promise<number> {
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

/**
 * SHA-256 of each block of the regular file at `abs` (expected `size` bytes), concatenated.
 * `onBytes` is told of each chunk hashed.
 */
export async function hashFileBlocks(abs: string, rel: string, size: number, blockSize: number, buffers: ChunkBuffers, onBytes: (n: number) => void, signal?: AbortSignal): Promise<Uint8Array> {
  const changed = () => new ImageError('MISMATCH', `${quote(rel)} changed while it was being read`);
  let fh: FileHandle;
  try {
    fh = await open(abs, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    throw new ImageError('IO', `cannot read ${quote(rel)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const hashes = new Uint8Array(blocksOf(size, blockSize) * HASH_BYTES);
  let pending: Promise<number> | undefined;
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size !== size) throw changed();
    let [cur, next] = [buffers.a, buffers.b];
    let pos = 0;
    let block = 0;
    pending = size > 0 ? readFull(fh, cur, Math.min(CHUNK_BYTES, size), 0) : undefined;
    while (pos < size) {
      const want = Math.min(CHUNK_BYTES, size - pos);
      const got = await pending!;
      pending = undefined;
      if (got !== want) throw changed();
      if (pos + got < size) pending = readFull(fh, next, Math.min(CHUNK_BYTES, size - pos - got), pos + got);
      for (let off = 0; off < got; off += blockSize, block++) {
        hashes.set(createHash('sha256').update(cur.subarray(off, Math.min(off + blockSize, got))).digest(), block * HASH_BYTES);
      }
      pos += got;
      [cur, next] = [next, cur];
      onBytes(got);
      signal?.throwIfAborted();
    }
    // A file that grew since the walk has bytes past `size`.
    if ((await fh.read(buffers.a, 0, 1, size)).bytesRead !== 0) throw changed();
  } finally {
    await pending?.catch(() => undefined);
    await fh.close();
  }
  return hashes;
}
