// ONC RPC messages and TCP record marking (RFC 5531): round trips, hostile input.
import test from 'ava';
import fc from 'fast-check';
import { XdrReader } from '../../../rowfs/xdr/reader.js';
import {
  AcceptStat,
  AuthFlavor,
  decodeAuthSys,
  decodeCallHeader,
  decodeReplyHeader,
  encodeAuthSys,
  encodeCallHeader,
  encodeReplyHeader,
  RejectStat,
  ReplyStat,
  RpcVersionMismatch,
  type CallHeader,
  type ReplyHeader,
} from '../../../rowfs/rpc/message.js';
import { RecordDecoder, encodeRecord } from '../../../rowfs/rpc/record-marking.js';
import { RecordMarkingError } from '../../../rowfs/rpc/errors.js';
import { decodeSafely, encodeBytes, mutated, roundTrip } from './codec-helpers.js';
import { XdrError } from '../../../rowfs/xdr/errors.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const auth = fc.record({ flavor: u32, body: fc.uint8Array({ maxLength: 400 }) });
const callArb: fc.Arbitrary<CallHeader> = fc.record({ xid: u32, prog: u32, vers: u32, proc: u32, cred: auth, verf: auth });
const replyArb: fc.Arbitrary<ReplyHeader> = fc.oneof(
  fc.record({ xid: u32, stat: fc.constant(ReplyStat.MSG_ACCEPTED), verf: auth, accept: fc.constant(AcceptStat.SUCCESS as const) }),
  fc.record({ xid: u32, stat: fc.constant(ReplyStat.MSG_ACCEPTED), verf: auth, accept: fc.constant(AcceptStat.PROG_MISMATCH as const), low: u32, high: u32 }),
  fc.record({
    xid: u32,
    stat: fc.constant(ReplyStat.MSG_ACCEPTED),
    verf: auth,
    accept: fc.constantFrom(AcceptStat.PROG_UNAVAIL, AcceptStat.PROC_UNAVAIL, AcceptStat.GARBAGE_ARGS, AcceptStat.SYSTEM_ERR),
  }),
  fc.record({ xid: u32, stat: fc.constant(ReplyStat.MSG_DENIED), reject: fc.constant(RejectStat.RPC_MISMATCH as const), low: u32, high: u32 }),
  fc.record({ xid: u32, stat: fc.constant(ReplyStat.MSG_DENIED), reject: fc.constant(RejectStat.AUTH_ERROR as const), authStat: u32 }),
) as fc.Arbitrary<ReplyHeader>;

test('call and reply headers round trip (property)', (t) => {
  fc.assert(fc.property(callArb, (h) => roundTrip(t, encodeCallHeader, decodeCallHeader, h)), { numRuns: 200 });
  fc.assert(fc.property(replyArb, (h) => roundTrip(t, encodeReplyHeader, decodeReplyHeader, h)), { numRuns: 200 });
});

test('AUTH_SYS credential round trips; limits enforced', (t) => {
  const p = { stamp: 42, machineName: 'host', uid: 1000, gid: 100, gids: [1, 2, 3] };
  const a = encodeAuthSys(p);
  t.is(a.flavor, AuthFlavor.AUTH_SYS);
  t.deepEqual(decodeAuthSys(a.body), p);
  t.throws(() => encodeAuthSys({ ...p, gids: Array(17).fill(1) }), { instanceOf: XdrError });
  t.throws(() => encodeAuthSys({ ...p, machineName: 'x'.repeat(256) }), { instanceOf: XdrError });
  t.throws(() => decodeAuthSys(a.body.subarray(0, a.body.length - 4)), { instanceOf: XdrError });
});

test('a call with rpcvers 3 is reported with its xid (for an RPC_MISMATCH reply)', (t) => {
  const bytes = encodeBytes(encodeCallHeader, { xid: 77, prog: 1, vers: 1, proc: 0, cred: { flavor: 0, body: new Uint8Array() }, verf: { flavor: 0, body: new Uint8Array() } });
  new DataView(bytes.buffer).setUint32(8, 3);
  const err = t.throws(() => decodeCallHeader(new XdrReader(bytes)), { instanceOf: RpcVersionMismatch });
  t.is(err!.xid, 77);
});

test('fuzz: random and mutated headers decode or throw XdrError/RpcVersionMismatch', (t) => {
  const calls = callArb.map((h) => encodeBytes(encodeCallHeader, h));
  const replies = replyArb.map((h) => encodeBytes(encodeReplyHeader, h));
  const inputs = fc.oneof(fc.uint8Array({ maxLength: 200 }), mutated(calls), mutated(replies));
  fc.assert(
    fc.property(inputs, (b) => {
      decodeSafely(decodeCallHeader, b, [RpcVersionMismatch]);
      decodeSafely(decodeReplyHeader, b);
      decodeSafely((r) => decodeAuthSys(r.buf), b);
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

test('record marking: multi-fragment records reassemble from any chunking (property)', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.array(fc.uint8Array({ maxLength: 50 }), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 5 }),
      fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }),
      (records, cuts) => {
        // Each record is sent as several fragments; only the last has the top bit.
        const parts: Uint8Array[] = [];
        for (const frags of records) {
          frags.forEach((f, i) => {
            const h = new Uint8Array(4 + f.length);
            new DataView(h.buffer).setUint32(0, ((i === frags.length - 1 ? 0x80000000 : 0) | f.length) >>> 0);
            h.set(f, 4);
            parts.push(h);
          });
        }
        // Non-final empty fragments are refused by design: skip such cases.
        if (records.some((frags) => frags.slice(0, -1).some((f) => f.length === 0))) return;
        const stream = Buffer.concat(parts);
        const dec = new RecordDecoder(1 << 20);
        const got: Uint8Array[] = [];
        let pos = 0;
        let i = 0;
        while (pos < stream.length) {
          const n = cuts[i++ % cuts.length]!;
          got.push(...dec.push(stream.subarray(pos, pos + n)));
          pos += n;
        }
        t.deepEqual(got.map((g) => Buffer.from(g)), records.map((frags) => Buffer.concat(frags)));
        t.is(dec.pendingBytes(), 0);
      },
    ),
    { numRuns: 300 },
  );
});

test('record marking: oversize record and empty middle fragment are typed errors', (t) => {
  const dec = new RecordDecoder(100);
  const big = encodeRecord(new Uint8Array(101));
  const e1 = t.throws(() => dec.push(big.subarray(0, 4)), { instanceOf: RecordMarkingError });
  t.is(e1!.code, 'RECORD_TOO_LARGE');
  const e2 = t.throws(() => new RecordDecoder().push(Uint8Array.of(0, 0, 0, 0)), { instanceOf: RecordMarkingError });
  t.is(e2!.code, 'EMPTY_FRAGMENT');
  // Two fragments adding up past the cap.
  const d3 = new RecordDecoder(100);
  const f1 = new Uint8Array(4 + 60);
  new DataView(f1.buffer).setUint32(0, 60);
  d3.push(f1);
  t.throws(() => d3.push(Uint8Array.of(0x80, 0, 0, 60)), { instanceOf: RecordMarkingError });
});

test('fuzz: random streams give records or RecordMarkingError, never anything else', (t) => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 10 }), (chunks) => {
      const dec = new RecordDecoder(4096);
      try {
        for (const c of chunks) dec.push(c);
      } catch (e) {
        if (!(e instanceof RecordMarkingError)) throw e;
      }
    }),
    { numRuns: 2000 },
  );
  t.pass();
});
