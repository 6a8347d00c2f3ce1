// What the RPC server needs of Node's socket internals, in one place: reading into our own buffers
// (`onread` on a socket re-created around the accepted handle), the socket's file descriptor (for
// sendfile), and writing a reply whose bodies are file ranges. Each falls back to the public API
// when the internals are not reachable.
import net from 'node:net';
import type { FileSender } from './file-sender.js';
import { isFileSlice, type FileSlice } from '../xdr/file-slice.js';

/** Where the kernel writes the next read (`buffer`), and what was read (`callback`: false stops reading). */
export type Onread = { buffer: () => Uint8Array; callback: (n: number) => boolean };

/**
 * The accepted socket re-created around its handle with `onread` (net.Server has no such option):
 * the kernel then writes straight into the record being assembled or into the connection's scratch
 * buffer, instead of into a new chunk per read. Falls back to the socket itself (and 'data' events)
 * when the handle is not reachable.
 */
export function adoptWithOnread(accepted: net.Socket, onread: Onread): net.Socket {
  const internal = accepted as unknown as { _handle: unknown };
  const handle = internal._handle;
  if (!handle || accepted.destroyed) return accepted;
  try {
    internal._handle = null;
    const s = new net.Socket({ handle, onread, readable: true, writable: true } as net.SocketConstructorOpts);
    accepted.destroy();
    return s;
  } catch {
    internal._handle = handle;
    return accepted;
  }
}

/** The socket's file descriptor, or undefined when Node does not expose it. */
export function socketFd(s: net.Socket): number | undefined {
  const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** Bytes before a file range that the file sender sends along with it (see sendWithFiles). */
const FILE_HEAD_MAX_BYTES = 4096;

/**
 * Writes one record whose parts include file ranges: buffers through the socket, each file range
 * by sendfile once the socket has taken every byte before it (a small run of buffers right before a
 * range goes with it, in the sender's call). Nothing else writes meanwhile.
 */
export async function sendWithFiles(s: net.Socket, fd: number, sender: FileSender, parts: Array<Uint8Array | FileSlice>): Promise<void> {
  let i = 0;
  while (i < parts.length) {
    const bufs: Uint8Array[] = [];
    let bytes = 0;
    while (i < parts.length && !isFileSlice(parts[i]!)) {
      bytes += (parts[i] as Uint8Array).length;
      bufs.push(parts[i++] as Uint8Array);
    }
    if (i === parts.length) {
      if (bufs.length > 0) await writeAll(s, bufs);
      break;
    }
    // Small bytes before a range (the reply's header) go out with it in the sender's one call, when
    // nothing is queued in the socket's stream (else they would overtake it): no stream write and
    // no segment of their own.
    const withRange = sender.sendsHead === true && bytes <= FILE_HEAD_MAX_BYTES && s.writableLength === 0;
    if (bufs.length > 0 && !withRange) await writeAll(s, bufs);
    if (s.destroyed) throw new Error('connection closed');
    await sender.send(fd, parts[i++] as FileSlice, withRange && bufs.length > 0 ? bufs : undefined);
  }
}

/** Resolves once the kernel has taken `bufs` (and, the writes being ordered, all before them). */
function writeAll(s: net.Socket, bufs: Uint8Array[]): Promise<void> {
  return new Promise((resolve, reject) => {
    for (let j = 0; j < bufs.length; j++) {
      const last = j === bufs.length - 1;
      s.write(bufs[j]!, last ? (err) => (err ? reject(err) : s.writableLength === 0 ? resolve() : reject(new Error('socket still has queued bytes'))) : undefined);
    }
  });
}
