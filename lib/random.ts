// Random sources: cryptographic for real nodes, seeded (xoshiro128**) for reproducible simulations.
import { randomBytes, randomInt } from 'node:crypto';
import type { Random } from './clock.js';

// node's randomInt needs max - min < 2**48, so 48-bit floats come from six random bytes instead.
const float48 = () => randomBytes(6).readUIntBE(0, 6) / 2 ** 48;
export const cryptoRandom: Random = {
  float: float48,
  int: (n) => (n <= 1 ? 0 : n < 2 ** 48 ? randomInt(0, n) : Math.floor(float48() * n)),
  bytes: (n) => new Uint8Array(randomBytes(n)),
};

/** xoshiro128** seeded through splitmix32; same seed, same sequence, on every platform. */
export function seededRandom(seed: number): Random {
  let x = seed >>> 0;
  const split = () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  const s = [split(), split(), split(), split()];
  const rotl = (v: number, k: number) => ((v << k) | (v >>> (32 - k))) >>> 0;
  const next32 = () => {
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  };
  const float = () => (next32() * 2 ** 21 + (next32() >>> 11)) / 2 ** 53;
  return {
    float,
    int: (n) => Math.floor(float() * n),
    bytes: (n) => {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i += 4) {
        const v = next32();
        for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (v >>> (8 * j)) & 0xff;
      }
      return out;
    },
  };
}
