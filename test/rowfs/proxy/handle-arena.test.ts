import test from 'ava';
import { keepBytes } from '../../../rowfs/state/handle-arena.js';

test('kept handles are copies: equal to the original, unchanged when it changes, sharing slabs, across slab ends', (t) => {
  const kept: Array<[Uint8Array, number[]]> = [];
  for (let i = 0; i < 2000; i++) {
    const h = new Uint8Array(20 + (i % 45)).map((_, j) => (i * 7 + j) & 0xff);
    const k = keepBytes(h);
    kept.push([k, [...h]]);
    h.fill(0); // the caller's buffer reused: the copy keeps what it had
  }
  for (const [k, was] of kept) t.deepEqual([...k], was);
  // Small copies share their ArrayBuffers (no buffer of their own each).
  t.true(new Set(kept.map(([k]) => k.buffer)).size < 10);
  // A long byte string gets a buffer of its own.
  const long = new Uint8Array(1000).fill(5);
  const kl = keepBytes(long);
  t.is(kl.byteLength, kl.buffer.byteLength);
  t.deepEqual([...kl], [...long]);
});
