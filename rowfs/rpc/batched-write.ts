// Writes made in the same tick go out in one writev: the first write corks the socket and a
// microtask uncorks it. Under load (many calls in flight) this saves a system call per message.
import type net from 'node:net';

const corked = new WeakSet<net.Socket>();

export function batchedWrite(socket: net.Socket, bytes: Uint8Array): void {
  if (!corked.has(socket)) {
    corked.add(socket);
    socket.cork();
    process.nextTick(() => {
      corked.delete(socket);
      socket.uncork();
    });
  }
  socket.write(bytes);
}

/** Writes a record given as several buffers (header, bodies by reference) in the same writev. */
export function batchedWriteParts(socket: net.Socket, parts: readonly Uint8Array[]): void {
  for (const p of parts) if (p.length > 0) batchedWrite(socket, p);
}
