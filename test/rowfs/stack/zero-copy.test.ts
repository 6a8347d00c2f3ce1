// Zero-copy paths of the RPC/XDR layer: bodies appended by reference encode to exactly the bytes of
// the copying encoder, records reassemble the same however the stream is cut (and a record inside
// one chunk is a view of it), READ/WRITE codecs are unchanged on the wire, and a TCP server stops
// reading calls while its replies are not being read (bounded queued reply bytes).
import test from 'ava';
import fc from 'fast-check';
import net from 'node:net';
import { XdrError } from '../../../rowfs/xdr/errors.js';
import { XdrReader } from '../../../rowfs/xdr/reader.js';
import { MIN_REF_BYTES, XdrWriter } from '../../../rowfs/xdr/writer.js';
import { RecordMarkingError } from '../../../rowfs/rpc/errors.js';
import { RecordDecoder, encodeRecord, markRecordParts } from '../../../rowfs/rpc/record-marking.js';
import { RpcServer, type RpcProcedure } from '../../../rowfs/rpc/server.js';
import { TcpRpcClient } from '../../../rowfs/rpc/client.js';
import { AUTH_NONE, encodeCallHeader } from '../../../rowfs/rpc/message.js';
import { NFS3_PROCEDURES } from '../../../rowfs/nfs3/procedures.js';
import { Nfs3Status, StableHow } from '../../../rowfs/nfs3/types.js';

const join = (parts: Uint8Array[]): Uint8Array => Buffer.concat(parts);

type Op = { kind: 'u32'; v: number } | { kind: 'opaque'; data: Uint8Array } | { kind: 'str'; s: string };
const arbOp: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('u32' as const), v: fc.nat() }),
  fc.record({
    kind: fc.constant('opaque' as const),
    // Sizes around the by-reference threshold, odd lengths included (padding).
    data: fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.integer({ min: MIN_REF_BYTES - 3, max: 3 * MIN_REF_BYTES + 3 }).map((n) => new Uint8Array(n).map((_, i) => (i * 7 + n) & 0xff))),
  }),
  fc.record({ kind: fc.constant('str' as const), s: fc.string({ maxLength: 20 }) }),
);

function encodeOps(ops: Op[], byRef: boolean, reserve: number): XdrWriter {
  const w = new XdrWriter(16, reserve);
  for (const op of ops) {
    if (op.kind === 'u32') w.uint32(op.v);
    else if (op.kind === 'str') w.string(op.s);
    else if (byRef) w.opaqueRef(op.data);
    else w.opaque(op.data);
  }
  return w;
}

test('opaqueRef encodes exactly the bytes of opaque, as parts and contiguous, with and without a reserved prefix', (t) => {
  fc.assert(
    fc.property(fc.array(arbOp, { maxLength: 12 }), fc.constantFrom(0, 4), (ops, reserve) => {
      const copied = encodeOps(ops, false, reserve);
      const referenced = encodeOps(ops, true, reserve);
      const expected = Buffer.from(copied.bytes());
      t.deepEqual(Buffer.from(referenced.bytes()), expected);
      t.is(referenced.length, expected.length);
      const parts = referenced.framedParts();
      t.deepEqual(Buffer.from(join(parts)).subarray(reserve), expected);
      t.deepEqual(Buffer.from(referenced.framed()).subarray(reserve), expected);
      t.true(parts[0]!.length >= reserve);
      // Decodes back to the same values.
      const r = new XdrReader(referenced.bytes());
      for (const op of ops) {
        if (op.kind === 'u32') t.is(r.uint32(), op.v);
        else if (op.kind === 'str') t.is(r.string(), op.s);
        else t.deepEqual(Buffer.from(r.opaque()), Buffer.from(op.data));
      }
      r.expectEnd();
    }),
    { numRuns: 200 },
  );
});

test('opaqueRef sends large bodies by reference (the caller buffer itself is a part) and checks the maximum', (t) => {
  const body = new Uint8Array(64 * 1024 + 3).fill(9);
  const w = new XdrWriter(64, 4).uint32(7).opaqueRef(body).uint32(8);
  const parts = w.framedParts();
  t.true(parts.includes(body), 'the body is one of the parts, not a copy');
  t.is(w.length, 4 + 4 + body.length + 1 + 4);
  t.throws(() => new XdrWriter().opaqueRef(body, 1024), { instanceOf: XdrError, message: /max 1024/ });
  // Growing the header buffer after a reference keeps the order right.
  const w2 = new XdrWriter(16, 4).opaqueRef(body);
  for (let i = 0; i < 100; i++) w2.uint32(i);
  const r = new XdrReader(w2.bytes());
  t.deepEqual(Buffer.from(r.opaque()), Buffer.from(body));
  for (let i = 0; i < 100; i++) t.is(r.uint32(), i);
});

test('markRecordParts frames a record given as parts like encodeRecord frames it contiguously', (t) => {
  const body = new Uint8Array(10_000).map((_, i) => i & 0xff);
  const w = new XdrWriter(64, 4).uint32(1).opaqueRef(body).uint32(2);
  const framed = join(markRecordParts(w.framedParts()));
  t.deepEqual(Buffer.from(framed), Buffer.from(encodeRecord(w.bytes())));
  t.throws(() => markRecordParts([new Uint8Array(2)]), { instanceOf: RecordMarkingError });
});

test('READ results and WRITE arguments encode to the same bytes as before (body copied in place)', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 70_000 }), fc.boolean(), (n, eof) => {
      const data = new Uint8Array(n).map((_, i) => (i * 31) & 0xff);
      const res = { status: Nfs3Status.OK, count: n, eof, data } as const;
      const w = new XdrWriter(16, 4);
      NFS3_PROCEDURES.READ.encodeRes(w, res);
      // The former encoding: post_op_attr FALSE, count, eof, opaque copied.
      const old = new XdrWriter().uint32(Nfs3Status.OK).bool(false).uint32(n).bool(eof).opaque(data).bytes();
      t.deepEqual(Buffer.from(join(w.framedParts())).subarray(4), Buffer.from(old));
      const back = NFS3_PROCEDURES.READ.decodeRes(new XdrReader(w.bytes()));
      t.is(back.status, Nfs3Status.OK);
      if (back.status === Nfs3Status.OK) t.deepEqual(Buffer.from(back.data), Buffer.from(data));

      const fh = new Uint8Array(32).fill(3);
      const args = { file: fh, offset: 5n, count: n, stable: StableHow.UNSTABLE, data };
      const wa = new XdrWriter(16);
      NFS3_PROCEDURES.WRITE.encodeArgs(wa, args);
      const oldArgs = new XdrWriter().opaque(fh, 64).uint64(5n).uint32(n).int32(StableHow.UNSTABLE).opaque(data).bytes();
      t.deepEqual(Buffer.from(wa.bytes()), Buffer.from(oldArgs));
      const backArgs = NFS3_PROCEDURES.WRITE.decodeArgs(new XdrReader(wa.bytes()));
      t.deepEqual({ ...backArgs, data: Buffer.from(backArgs.data) }, { ...args, data: Buffer.from(data) });
    }),
    { numRuns: 60 },
  );
});

/** A stream of records (some of several fragments) and the records it carries. */
const arbStream = fc
  .array(fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 8 })
  .map((records) => {
    const bytes: Uint8Array[] = [];
    const expected: Uint8Array[] = [];
    for (const frags of records) {
      // Only the last fragment may be empty.
      const fs = frags.map((f, i) => (i < frags.length - 1 && f.length === 0 ? Uint8Array.of(1) : f));
      fs.forEach((f, i) => {
        const mark = new Uint8Array(4);
        new DataView(mark.buffer).setUint32(0, ((i === fs.length - 1 ? 0x80000000 : 0) | f.length) >>> 0);
        bytes.push(mark, f);
      });
      expected.push(join(fs));
    }
    return { stream: join(bytes), expected };
  });

function cut(stream: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const c of [...at, stream.length]) {
    chunks.push(stream.slice(from, c)); // copies: each chunk is its own buffer, like socket chunks
    from = c;
  }
  return chunks;
}

test('records reassemble identically however the stream is cut into chunks (marks and bodies split anywhere)', (t) => {
  fc.assert(
    fc.property(arbStream, fc.array(fc.nat(), { maxLength: 20 }), ({ stream, expected }, cuts) => {
      const dec = new RecordDecoder(10_000);
      const got: Uint8Array[] = [];
      for (const c of cut(stream, cuts)) got.push(...dec.push(c));
      t.deepEqual(got.map((r) => Buffer.from(r)), expected.map((r) => Buffer.from(r)));
      t.is(dec.pendingBytes(), 0);
    }),
    { numRuns: 300 },
  );
});

test('a single-fragment record inside one chunk is a view of that chunk; one spread over chunks is copied once', (t) => {
  const body = new Uint8Array(1000).map((_, i) => i & 0xff);
  const one = encodeRecord(body);
  const chunk = Buffer.concat([one, one]);
  const dec = new RecordDecoder();
  const recs = dec.push(chunk);
  t.is(recs.length, 2);
  t.is(recs[0]!.buffer, chunk.buffer, 'no copy');
  t.is(recs[1]!.byteOffset, chunk.byteOffset + one.length + 4);
  const parts = [one.slice(0, 2), one.slice(2, 300), one.slice(300)];
  const got = parts.flatMap((p) => dec.push(p));
  t.is(got.length, 1);
  t.deepEqual(Buffer.from(got[0]!), Buffer.from(body));
  t.is(got[0]!.length, body.length);
});

test('reads into readTarget (scratch or the record itself) reassemble the same records; nothing aliases the scratch', (t) => {
  fc.assert(
    fc.property(arbStream, fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 50 }), fc.integer({ min: 1, max: 64 }), ({ stream, expected }, sizes, scratchBytes) => {
      const dec = new RecordDecoder(10_000);
      const scratch = Buffer.alloc(scratchBytes);
      const got: Uint8Array[] = [];
      let off = 0;
      for (let i = 0; off < stream.length && i < 100_000; i++) {
        const target = dec.readTarget(scratch);
        t.true(target.length > 0);
        // The "kernel" fills at most the target and at most what the stream still has.
        const n = Math.min(target.length, sizes[i % sizes.length]!, stream.length - off);
        target.set(stream.subarray(off, off + n));
        off += n;
        got.push(...dec.pushRead(n));
        scratch.fill(0xee); // the next read overwrites the scratch: records must not see it
      }
      t.deepEqual(got.map((r) => Buffer.from(r)), expected.map((r) => Buffer.from(r)));
    }),
    { numRuns: 300 },
  );
});

test('a bulk fragment is read in place: after its mark, the read target is the record buffer that is handed out', (t) => {
  const body = new Uint8Array(100_000).map((_, i) => i & 0xff);
  const stream = encodeRecord(body);
  const dec = new RecordDecoder();
  const scratch = Buffer.alloc(1000);
  let target = dec.readTarget(scratch);
  t.is(target, scratch);
  target.set(stream.subarray(0, 1000));
  t.deepEqual(dec.pushRead(1000), []);
  target = dec.readTarget(scratch);
  t.is(target.length, stream.length - 1000);
  t.not(target.buffer, scratch.buffer);
  target.set(stream.subarray(1000));
  const [rec] = dec.pushRead(target.length);
  t.is(rec!.buffer, target.buffer, 'the record is the buffer the kernel wrote into');
  t.deepEqual(Buffer.from(rec!), Buffer.from(body));
  t.throws(() => dec.pushRead(1), { instanceOf: RecordMarkingError });
});

test('record decoder fuzz: random bytes in random chunks give records or RecordMarkingError, the same for every cut', (t) => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        arbStream.chain(({ stream }) => fc.tuple(fc.nat(stream.length), fc.integer({ min: 0, max: 255 })).map(([i, v]) => { const s = stream.slice(); if (s.length) s[i % s.length] = v; return s; })),
      ),
      fc.array(fc.nat(), { maxLength: 10 }),
      (stream, cuts) => {
        const run = (chunks: Uint8Array[]) => {
          const dec = new RecordDecoder(1000);
          const out: string[] = [];
          try {
            for (const c of chunks) for (const r of dec.push(c)) out.push(Buffer.from(r).toString('hex'));
            return { out, err: undefined as string | undefined };
          } catch (e) {
            if (!(e instanceof RecordMarkingError)) throw e;
            return { out, err: e.code as string };
          }
        };
        const whole = run([stream]);
        const split = run(cut(stream, cuts));
        // Records completed in the push that throws are not returned, so after an error only the
        // records before it are comparable: the whole stream's ones are a prefix of the split one's.
        t.is(split.err, whole.err);
        if (whole.err === undefined) t.deepEqual(split.out, whole.out);
        else t.deepEqual(split.out.slice(0, whole.out.length), whole.out);
      },
    ),
    { numRuns: 300 },
  );
});

const PROG = 0x20000002;
const BIG_BYTES = 1024 * 1024;

function bigServer(maxQueuedReplyBytes?: number): { server: RpcServer; body: Uint8Array } {
  const body = new Uint8Array(BIG_BYTES).map((_, i) => (i * 13) & 0xff);
  const big: RpcProcedure<number, number> = {
    decodeArgs: (r) => r.uint32(),
    run: (n) => n,
    encodeResult: (w, n) => void w.uint32(n).opaqueRef(body),
  };
  const server = new RpcServer({ ...(maxQueuedReplyBytes !== undefined ? { maxQueuedReplyBytes } : {}) });
  server.addProgram({ prog: PROG, vers: 1, procedures: new Map([[1, big]]) });
  return { server, body };
}

test('a reply with a body by reference arrives intact over TCP (writev of header and body), many in flight', async (t) => {
  const { server, body } = bigServer();
  const port = await server.listenTcp(0, '127.0.0.1');
  t.teardown(() => server.close());
  const c = new TcpRpcClient({ host: '127.0.0.1', port, timeoutMs: 10_000, maxRecordBytes: 2 * BIG_BYTES });
  t.teardown(() => c.close());
  const replies = await Promise.all(Array.from({ length: 16 }, (_, i) => c.call(PROG, 1, 1, (w) => void w.uint32(i))));
  replies.forEach((r, i) => {
    t.is(r.uint32(), i);
    t.true(Buffer.from(r.opaque()).equals(Buffer.from(body)));
  });
});

test('a TCP connection whose replies are not read stops having its calls run; reading again gets every reply', async (t) => {
  const { server } = bigServer(2 * BIG_BYTES);
  const port = await server.listenTcp(0, '127.0.0.1');
  t.teardown(() => server.close());
  const sock = net.connect(port, '127.0.0.1');
  t.teardown(() => void sock.destroy());
  await new Promise<void>((res, rej) => sock.once('connect', res).once('error', rej));
  sock.pause(); // we do not read: replies pile up in the kernel, then in the server
  const CALLS = 200;
  for (let i = 0; i < CALLS; i++) {
    const w = new XdrWriter(64, 4);
    encodeCallHeader(w, { xid: i + 1, prog: PROG, vers: 1, proc: 1, cred: AUTH_NONE, verf: AUTH_NONE });
    w.uint32(i);
    sock.write(join(markRecordParts(w.framedParts())));
  }
  // 200 MB of replies if it ran them all: it must stop well before (queued-bytes limit + socket buffers).
  for (let i = 0; i < 50 && server.stats.calls < 10; i++) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 500));
  const ranWhileBlocked = server.stats.calls;
  t.true(ranWhileBlocked > 0 && ranWhileBlocked < CALLS / 2, `ran ${ranWhileBlocked} calls while nobody read`);
  const dec = new RecordDecoder(2 * BIG_BYTES);
  let replies = 0;
  const done = new Promise<void>((res) => {
    sock.on('data', (d: Buffer) => {
      replies += dec.push(d).length;
      if (replies === CALLS) res();
    });
  });
  sock.resume();
  await Promise.race([done, new Promise((r) => setTimeout(r, 20_000))]);
  t.is(replies, CALLS);
  t.is(server.stats.calls, CALLS);
});
