// Copies of small long-lived byte strings (file handles of the nodes the store keeps) as views
// into shared slabs: a `new Uint8Array(h)` per handle costs an ArrayBuffer and a native backing
// store of its own, ~200 bytes beside a 24-36 byte handle, and the store keeps thousands of nodes.
// A slab is freed when no view into it is left; nodes leave the store's caches oldest first, so a
// slab's views mostly go together.

const SLAB_BYTES = 16 * 1024;
/** Longer byte strings get an ArrayBuffer of their own (NFSv3 handles are at most 64 bytes). */
const MAX_SHARED_BYTES = 256;

let slab = new ArrayBuffer(SLAB_BYTES);
let used = 0;

/** A copy of `bytes` that shares its memory with other copies (never written through). */
export function keepBytes(bytes: Uint8Array): Uint8Array {
  const n = bytes.length;
  if (n > MAX_SHARED_BYTES) return bytes.slice();
  if (used + n > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    used = 0;
  }
  const out = new Uint8Array(slab, used, n);
  out.set(bytes);
  used += n;
  return out;
}
