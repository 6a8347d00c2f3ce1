// Loads the native TUN addon (src/tun/tun.c, built by node-gyp into build/Release at install).
// The path is found by walking up from this file, so it works from src/ and from dist/src/.
import { TunError } from './tun-error.js';
import { loadNativeAddon } from '../../lib/native-addon.js';

export interface NativeTunHandle {
  readonly name: string;
  readonly fd: number;
}

export interface NativeTun {
  open(path: string, name: string): NativeTunHandle;
  configure(h: NativeTunHandle, mtu: number, address: string, prefixLength: number, up: boolean): void;
  startReading(h: NativeTunHandle, maxBatch: number, cb: (packets: Buffer[], err?: Error) => void): void;
  write(h: NativeTunHandle, packets: Uint8Array[]): number;
  close(h: NativeTunHandle): void;
}

let cached: NativeTun | undefined;

export function loadNativeTun(): NativeTun {
  cached ??= loadNativeAddon<NativeTun>('tun');
  if (!cached) throw new TunError('ADDON_MISSING', 'build/Release/tun.node not found: run `npm ci` (or `npm run install`) to build the TUN addon');
  return cached;
}
