import test from 'ava';
import fc from 'fast-check';
import { addressToBytes, bytesToAddress, closerTo, cwDist, HALF_RING, isBetween, ringAdd, ringDist, RING_SIZE } from '../../overlay/ring/ring.js';

const address = fc.bigInt({ min: 0n, max: RING_SIZE - 1n });

test('clockwise distances both ways add up to the ring (or zero)', (t) => {
  fc.assert(
    fc.property(address, address, (a, b) => {
      const s = cwDist(a, b) + cwDist(b, a);
      return a === b ? s === 0n : s === RING_SIZE;
    }),
  );
  t.is(cwDist(RING_SIZE - 1n, 0n), 1n);
  t.is(cwDist(0n, RING_SIZE - 1n), RING_SIZE - 1n);
});

test('ring distance is symmetric, at most half the ring, zero only for equal addresses', (t) => {
  fc.assert(
    fc.property(address, address, (a, b) => {
      const d = ringDist(a, b);
      return d === ringDist(b, a) && d <= HALF_RING && (d === 0n) === (a === b) && d === (cwDist(a, b) < cwDist(b, a) ? cwDist(a, b) : cwDist(b, a));
    }),
  );
  t.is(ringDist(5n, RING_SIZE - 5n), 10n);
});

test('isBetween is the open clockwise arc, wrapping at zero', (t) => {
  t.true(isBetween(10n, 11n, 20n));
  t.false(isBetween(10n, 10n, 20n));
  t.false(isBetween(10n, 20n, 20n));
  t.false(isBetween(10n, 25n, 20n));
  t.true(isBetween(RING_SIZE - 10n, 3n, 20n));
  t.true(isBetween(RING_SIZE - 10n, RING_SIZE - 1n, 20n));
  fc.assert(fc.property(address, address, address, (a, x, b) => isBetween(a, x, b) === (x !== a && cwDist(a, x) < cwDist(a, b))));
});

test('ringAdd wraps and inverts', (t) => {
  fc.assert(fc.property(address, fc.bigInt({ min: -RING_SIZE, max: RING_SIZE }), (a, o) => ringAdd(ringAdd(a, o), -o) === a));
  t.is(ringAdd(RING_SIZE - 1n, 2n), 1n);
});

test('closerTo is a strict total order around a key', (t) => {
  fc.assert(
    fc.property(address, address, address, (k, a, b) => {
      if (a === b) return !closerTo(k, a, b);
      return closerTo(k, a, b) !== closerTo(k, b, a);
    }),
  );
  t.true(closerTo(100n, 101n, 98n));
});

test('addresses round-trip through 20 big-endian bytes', (t) => {
  fc.assert(fc.property(address, (a) => bytesToAddress(addressToBytes(a)) === a && addressToBytes(a).length === 20));
  t.is(addressToBytes(1n)[19], 1);
});

test('address conversions are memoized correctly: equal prefixes with different tails, offsets, many addresses', (t) => {
  const base = 0xabcdef0123456789n << 96n;
  const tails = [0n, 1n, 0xffffn, (1n << 96n) - 1n, 0x1234n << 40n];
  const buf = new Uint8Array(20 * tails.length + 3);
  tails.forEach((tail, i) => buf.set(addressToBytes(base | tail), 3 + 20 * i));
  for (let round = 0; round < 2; round++) tails.forEach((tail, i) => t.is(bytesToAddress(buf, 3 + 20 * i), base | tail));
  fc.assert(fc.property(fc.array(address, { minLength: 1, maxLength: 50 }), (as) => as.every((a) => bytesToAddress(addressToBytes(a)) === a)), { numRuns: 50 });
});
