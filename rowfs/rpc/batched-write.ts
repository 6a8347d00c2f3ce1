// Writes made in the same tick go out in one writev: the first write corks the socket and a
// microtask uncorks it. Under load (many calls in flight) this saves a system call per message.
import type net from 'node:net';

const corked = new WeakSet<net.Socket>();

export function batchedWrite(socket: net.Socket, bytes: Uint8Array, onWritten?: (err?: Error | null) => void): void {
  if (!corked.has(socket)) {
    corked.add(socket);
    socket.cork();
    process.nextTick(() => {
      corked.delete(socket);
      socket.uncork();
    });
  }
  socket.write(bytes, onWritten);
}

/**
 * Writes a record given as several buffers (header, bodies by reference) in the same writev.
 * `onWritten` runs once the kernel has taken every part (or the write failed): the parts may be
 * reused from then on.
 */
export function batchedWriteParts(socket: net.Socket, parts: readonly Uint8Array[], onWritten?: () => void): void {
  let last = -1;
  for (let i = 0; i < parts.length; i++) if (parts[i]!.length > 0) last = i;
  // onWritten goes to write() as is (it ignores the error argument): no closure per record.
  for (let i = 0; i <= last; i++) if (parts[i]!.length > 0) batchedWrite(socket, parts[i]!, i === last ? onWritten : undefined);
  if (last < 0) onWritten?.();
}
