// Loads the native TUN addon (src/tun/native/tun.c, built by node-gyp into build/Release at install).
// The path is found by walking up from this file, so it works from src/ and from dist/src/.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TunError } from './tun-error.js';

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

const MAX_PARENT_DIRS = 6;
let cached: NativeTun | undefined;

export function loadNativeTun(): NativeTun {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < MAX_PARENT_DIRS; i++) {
    const candidate = join(dir, 'build', 'Release', 'tun.node');
    if (existsSync(candidate)) {
      cached = createRequire(import.meta.url)(candidate) as NativeTun;
      return cached;
    }
    dir = dirname(dir);
  }
  throw new TunError('ADDON_MISSING', 'build/Release/tun.node not found: run `npm ci` (or `npm run install`) to build the TUN addon');
}
