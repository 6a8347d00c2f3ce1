// SO_BINDTODEVICE for a Node dgram socket. Node has no API for it, so the native boot-network
// addon sets it on the socket's file descriptor. After this the kernel delivers to the socket only
// datagrams that arrived on that interface (including limited broadcasts), and broadcasts we send
// leave by it. Callers must drop datagrams that arrived before this returned.
import type { Socket } from 'node:dgram';
import { loadBootNetAddon } from '../native/boot-net-addon.js';
import { NativeNetError } from '../native/native-net-error.js';
import { CodedError } from '../../lib/coded-error.js';

export class BindToDeviceError extends CodedError<string> {}

/** The OS file descriptor behind a bound dgram socket (Node keeps it in an internal handle). */
export function socketFd(socket: Socket): number {
  const state = Object.getOwnPropertySymbols(socket)
    .map((sym) => (socket as unknown as Record<symbol, unknown>)[sym])
    .find((v): v is { handle: { fd: number } } => typeof (v as { handle?: { fd?: unknown } })?.handle?.fd === 'number');
  const fd = state?.handle.fd;
  if (fd === undefined || fd < 0) {
    throw new BindToDeviceError('NO_FD', 'cannot find the socket file descriptor (socket not bound, or a Node version without handle.fd)');
  }
  return fd;
}

export function bindToDevice(socket: Socket, interfaceName: string): void {
  const fd = socketFd(socket);
  let addon;
  try {
    addon = loadBootNetAddon();
  } catch (err) {
    throw new BindToDeviceError((err as NativeNetError).code ?? 'ADDON_MISSING', (err as Error).message);
  }
  try {
    addon.bindToDevice(fd, interfaceName);
  } catch (err) {
    const e = err as { code?: string; message: string };
    throw new BindToDeviceError(e.code ?? 'NET_EIO', `SO_BINDTODEVICE ${interfaceName} failed: ${e.message}`);
  }
}
