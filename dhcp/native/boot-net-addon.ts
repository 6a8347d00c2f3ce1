// Loads the boot-network addon (dhcp/native/*.c: SO_BINDTODEVICE, raw ICMPv6, connected UDP; target
// "bootnet" in binding.gyp, built by node-gyp into build/Release at install). Found by walking up
// from this file, so it works from src/ and dist/src/.
import { NativeNetError } from './native-net-error.js';
import type { UdpHandle } from './udp-connection.js';
import { loadNativeAddon } from '../../lib/native-addon.js';

/** Opaque handle of a raw ICMPv6 socket. */
export interface Icmp6Handle {
  readonly interfaceIndex: number;
}

export interface BootNetAddon {
  bindToDevice(fd: number, interfaceName: string): void;
  icmp6Open(interfaceName: string, acceptTypes: number[], groups: string[], maxMessageBytes?: number): Icmp6Handle;
  icmp6Send(h: Icmp6Handle, message: Uint8Array, destination: string): void;
  icmp6StartReceiving(h: Icmp6Handle, cb: (message: Buffer, source: string) => void): void;
  /** Messages dropped so far as longer than maxMessageBytes. */
  icmp6Truncated(h: Icmp6Handle): number;
  icmp6Close(h: Icmp6Handle): void;
  udpOpen(localAddress: string, remoteAddress: string, remotePort: number): UdpHandle;
  udpSend(h: UdpHandle, bytes: Uint8Array): number;
  udpStartReceiving(h: UdpHandle, buffer: Buffer, cb: (length: number) => void): void;
  udpServeChain(h: UdpHandle, chunk?: Buffer, chunkFirstBlock?: number, blockBytes?: number, chunkLength?: number, nextBlock?: number, stopBlock?: number): void;
  udpTakeServed(h: UdpHandle): number;
  udpClose(h: UdpHandle): void;
}

let cached: BootNetAddon | undefined;

export function loadBootNetAddon(): BootNetAddon {
  cached ??= loadNativeAddon<BootNetAddon>('bootnet');
  if (!cached) throw new NativeNetError('ADDON_MISSING', 'build/Release/bootnet.node not found: run `npm ci` (or `npm run install`) to build the native addons');
  return cached;
}
