// SO_BINDTODEVICE for a Node dgram socket. Node has no API for it, so we hand the socket's file
// descriptor to a one-line python3 child (inherited as fd 3): setsockopt on the duplicate affects
// the very same kernel socket. After this the kernel delivers to the socket only datagrams that
// arrived on that interface (including limited broadcasts), and broadcasts we send leave by it.
// Callers must drop datagrams that arrived before this resolved.
import { spawn } from 'node:child_process';
import type { Socket } from 'node:dgram';

export class BindToDeviceError extends Error {
  override name = 'BindToDeviceError';
}

const BIND_SCRIPT = [
  'import socket, sys',
  's = socket.socket(fileno=3)',
  's.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, sys.argv[1].encode())',
  's.detach()',
].join('\n');

const HELPER_TIMEOUT_MS = 10_000;

/** The OS file descriptor behind a bound dgram socket (Node keeps it in an internal handle). */
export function socketFd(socket: Socket): number {
  const state = Object.getOwnPropertySymbols(socket)
    .map((sym) => (socket as unknown as Record<symbol, unknown>)[sym])
    .find((v): v is { handle: { fd: number } } => typeof (v as { handle?: { fd?: unknown } })?.handle?.fd === 'number');
  const fd = state?.handle.fd;
  if (fd === undefined || fd < 0) throw new BindToDeviceError('cannot find the socket file descriptor (socket not bound?)');
  return fd;
}

export function bindToDevice(socket: Socket, interfaceName: string): Promise<void> {
  const fd = socketFd(socket);
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', BIND_SCRIPT, interfaceName], { stdio: ['ignore', 'ignore', 'pipe', fd] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), HELPER_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new BindToDeviceError(`cannot run python3 for SO_BINDTODEVICE: ${err.message}`));
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new BindToDeviceError(`SO_BINDTODEVICE ${interfaceName} failed: ${stderr.trim().split('\n').pop() ?? `exit ${code}`}`));
    });
  });
}
