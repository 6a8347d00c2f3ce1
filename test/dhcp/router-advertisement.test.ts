import test from 'ava';
import fc from 'fast-check';
import {
  decodeRouterAdvertisement, encodeRouterAdvertisement, RouterAdvertisementError, type RouterAdvertisement,
} from '../../dhcp/ra/router-advertisement.js';

const raArb: fc.Arbitrary<RouterAdvertisement> = fc.record({
  curHopLimit: fc.nat(255),
  managed: fc.boolean(),
  other: fc.boolean(),
  routerLifetimeS: fc.nat(0xffff),
  reachableTimeMs: fc.nat(0xffffffff),
  retransTimerMs: fc.nat(0xffffffff),
  mtu: fc.option(fc.nat(0xffffffff), { nil: undefined }),
  prefixes: fc.array(fc.record({
    prefix: fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((g) => g.map((x) => x.toString(16)).join(':')),
    prefixLength: fc.nat(128),
    onLink: fc.boolean(),
    autonomous: fc.boolean(),
    validLifetimeS: fc.nat(0xffffffff),
    preferredLifetimeS: fc.nat(0xffffffff),
  }), { maxLength: 3 }),
}).map((ra) => (ra.mtu === undefined ? (({ mtu: _m, ...rest }) => rest)(ra) : ra));

test('router advertisements round-trip', (t) => {
  fc.assert(fc.property(raArb, (ra) => {
    t.deepEqual(decodeRouterAdvertisement(encodeRouterAdvertisement(ra)), ra);
  }), { numRuns: 300 });
});

test('the boot-link RA: no M/O flags, router lifetime 0', (t) => {
  const bytes = encodeRouterAdvertisement({ curHopLimit: 64, managed: false, other: false, routerLifetimeS: 0, reachableTimeMs: 0, retransTimerMs: 0, prefixes: [] });
  t.deepEqual(Array.from(bytes), [134, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
});

test('fuzz: decoding random bytes returns or throws RouterAdvertisementError', (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }).map((b) => (b.length > 1 ? Uint8Array.of(134, 0, ...b) : b)), (bytes) => {
    try {
      decodeRouterAdvertisement(bytes);
    } catch (err) {
      if (!(err instanceof RouterAdvertisementError)) throw err;
    }
  }), { numRuns: 2000 });
  t.throws(() => decodeRouterAdvertisement(Uint8Array.of(134, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0)), { instanceOf: RouterAdvertisementError });
});
