// What a transfer reads from: a regular file (positional reads, no whole-file buffering) or, for
// netascii mode, the file converted in memory (LF -> CR LF, CR -> CR NUL per RFC 764).
import { constants } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { CodedError } from '../../lib/coded-error.js';

export class FileSourceError extends CodedError<'NOT_REGULAR' | 'TOO_LARGE'> {}

export interface FileSource {
  /** Total bytes the client will receive. */
  readonly size: number;
  /** Fills buf[0..length) from `position`; resolves to the bytes read (fewer only at the end). */
  read(buf: Buffer, length: number, position: number): Promise<number>;
  close(): Promise<void>;
}

/** netascii conversion holds the file in memory: refuse files bigger than this. */
export const MAX_NETASCII_FILE_BYTES = 16 * 1024 * 1024;

/**
 * Opens a regular file only. A FIFO opened for reading blocks until a writer comes, inside one of
 * libuv's four pool threads (six requests for one stopped all TFTP service), and opening a device
 * can have side effects: so the path is checked first, then opened without blocking and without
 * following a symlink put there since, and the descriptor checked to be that same regular file.
 */
export async function openFileSource(path: string, mode: string): Promise<FileSource> {
  const before = await stat(path);
  if (!before.isFile()) throw new FileSourceError('NOT_REGULAR', 'not a regular file');
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW | constants.O_NOCTTY);
  try {
    const st = await handle.stat();
    if (!st.isFile() || st.ino !== before.ino || st.dev !== before.dev) throw new FileSourceError('NOT_REGULAR', 'not a regular file');
    if (mode !== 'netascii') return new PlainFileSource(handle, st.size);
    if (st.size > MAX_NETASCII_FILE_BYTES) throw new FileSourceError('TOO_LARGE', `file too large for netascii mode (> ${MAX_NETASCII_FILE_BYTES} bytes)`);
    const raw = await handle.readFile();
    await handle.close();
    return new MemorySource(toNetascii(raw));
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err;
  }
}

export function toNetascii(raw: Uint8Array): Buffer {
  let extra = 0;
  for (const b of raw) if (b === 0x0a || b === 0x0d) extra++;
  const out = Buffer.allocUnsafe(raw.length + extra);
  let j = 0;
  for (const b of raw) {
    if (b === 0x0a) {
      out[j++] = 0x0d;
      out[j++] = 0x0a;
    } else if (b === 0x0d) {
      out[j++] = 0x0d;
      out[j++] = 0x00;
    } else {
      out[j++] = b;
    }
  }
  return out;
}

class PlainFileSource implements FileSource {
  constructor(private readonly handle: FileHandle, readonly size: number) {}
  async read(buf: Buffer, length: number, position: number): Promise<number> {
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(buf, done, length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  }
  close(): Promise<void> {
    return this.handle.close();
  }
}

class MemorySource implements FileSource {
  readonly size: number;
  constructor(private readonly data: Buffer) {
    this.size = data.length;
  }
  async read(buf: Buffer, length: number, position: number): Promise<number> {
    return this.data.copy(buf, 0, position, Math.min(position + length, this.size));
  }
  async close(): Promise<void> {}
}
