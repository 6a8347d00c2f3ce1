// The dispatcher's and the in-process shadow's AUTH_SYS cache: the same bytes give the same
// (frozen) parameters, other bytes are decoded, a credential buffer reused in place is not mistaken
// for the one kept, and a bad body throws as decodeAuthSys does.
import test from 'ava';
import fc from 'fast-check';
import { AuthSysCache } from '../../../rowfs/rpc/auth-sys-cache.js';
import { decodeAuthSys, encodeAuthSys, type AuthSysParams } from '../../../rowfs/rpc/message.js';

const params = fc.record({
  stamp: fc.nat(),
  machineName: fc.string({ maxLength: 20 }),
  uid: fc.nat(),
  gid: fc.nat(),
  gids: fc.array(fc.nat(), { maxLength: 16 }),
});

test('every credential in a sequence decodes as decodeAuthSys does; repeats share one frozen result', (t) => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 12 }), params, params, params, (picks, p0, p1, p2) => {
      const cache = new AuthSysCache();
      const bodies = [p0, p1, p2].map((p) => encodeAuthSys(p as AuthSysParams).body);
      let last: { pick: number; got: AuthSysParams } | undefined;
      for (const pick of picks) {
        const buf = Uint8Array.from(bodies[pick]!); // a new buffer each call, as a record's view is
        const got = cache.decode(buf);
        t.deepEqual({ ...got, gids: [...got.gids] }, decodeAuthSys(bodies[pick]!));
        t.true(Object.isFrozen(got) && Object.isFrozen(got.gids));
        if (last && Buffer.from(bodies[last.pick]!).equals(Buffer.from(bodies[pick]!))) t.is(got, last.got);
        last = { pick, got };
      }
    }),
  );
});

test('a credential buffer changed in place after decoding is decoded again, and a bad one throws', (t) => {
  const cache = new AuthSysCache();
  const buf = Uint8Array.from(encodeAuthSys({ stamp: 1, machineName: 'vm', uid: 0, gid: 0, gids: [] }).body);
  t.is(cache.decode(buf).uid, 0);
  buf.set(encodeAuthSys({ stamp: 1, machineName: 'vm', uid: 1000, gid: 0, gids: [] }).body);
  t.is(cache.decode(buf).uid, 1000);
  t.throws(() => cache.decode(buf.subarray(0, 6)));
  t.is(cache.decode(buf).uid, 1000, 'the last good one is still known');
});
