// Pooled payload buffers through the RPC layer: the pool against a model (a buffer is handed out
// again only once every holder has released it; finished leases cannot be revived), replies
// assembled in a caller's buffer (replyInto), a call that gives up mid-reply leaves that buffer
// alone, and the server's afterReply hooks run once the reply is written or the connection is gone.
import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import net from 'node:net';
import { BufferPool, BufferPoolError, heldBy, type Lease } from '../../../rowfs/rpc/buffer-pool.js';
import { RecordDecoder, encodeRecord } from '../../../rowfs/rpc/record-marking.js';
import { RpcServer, type RpcProcedure } from '../../../rowfs/rpc/server.js';
import { MAX_POOLED_RECORDS_PER_CONNECTION } from '../../../rowfs/rpc/tcp-connection.js';
import { TcpRpcClient } from '../../../rowfs/rpc/client.js';
import { RpcTransportError } from '../../../rowfs/rpc/errors.js';
import { XdrWriter } from '../../../rowfs/xdr/writer.js';
import { AcceptStat, AUTH_NONE, ReplyStat, decodeCallHeader, encodeReplyHeader } from '../../../rowfs/rpc/message.js';
import { XdrReader } from '../../../rowfs/xdr/reader.js';

const PROG = 0x20000099;

test('pool model: a buffer is never handed out while a holder has not released it; the cap holds', (t) => {
  type Cmd = { op: 'acquire' } | { op: 'retain'; i: number } | { op: 'release'; i: number };
  const arbCmd: fc.Arbitrary<Cmd> = fc.oneof(
    fc.constant({ op: 'acquire' as const }),
    fc.record({ op: fc.constant('retain' as const), i: fc.nat(20) }),
    fc.record({ op: fc.constant('release' as const), i: fc.nat(20) }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5 }), fc.array(arbCmd, { maxLength: 200 }), (max, cmds) => {
      const pool = new BufferPool(64, max);
      const live: Array<{ lease: Lease; refs: number }> = [];
      const finished: Lease[] = [];
      for (const c of cmds) {
        if (c.op === 'acquire') {
          const lease = pool.tryAcquire();
          if (live.length >= max) {
            if (lease) throw new Error('handed out past the cap');
            continue;
          }
          if (!lease) throw new Error('refused with buffers free');
          if (live.some((h) => h.lease.buf.buffer === lease.buf.buffer)) throw new Error('buffer still held was handed out');
          live.push({ lease, refs: 1 });
        } else if (live.length > 0) {
          const h = live[c.i % live.length]!;
          if (c.op === 'retain') {
            h.lease.retain();
            h.refs++;
          } else {
            h.lease.release();
            if (--h.refs === 0) {
              live.splice(live.indexOf(h), 1);
              finished.push(h.lease);
            }
          }
        }
        if (pool.stats.inUse !== live.length) throw new Error('inUse disagrees with the model');
        if (pool.stats.created > max) throw new Error('created past the cap');
      }
      for (const l of finished) {
        if (l.live) throw new Error('a finished lease is live');
        let threw = 0;
        for (const f of [() => l.retain(), () => l.release()]) {
          try {
            f();
          } catch (e) {
            if (e instanceof BufferPoolError) threw++;
          }
        }
        if (threw !== 2) throw new Error('a finished lease could be retained or released');
      }
    }),
    { numRuns: 300 },
  );
  const pool = new BufferPool(16, 1);
  const bytes = heldBy(pool.tryAcquire()!.buf, []);
  bytes.release();
  t.throws(() => bytes.release(), { instanceOf: BufferPoolError });
  t.throws(() => new BufferPool(0, 1), { instanceOf: BufferPoolError });
});

/** A server whose procedure 1 answers `n` bytes of a pattern by reference. */
function patternServer() {
  const body = Buffer.alloc(300_000).map((_, i) => (i * 31 + 7) & 0xff);
  const proc: RpcProcedure<number, number> = {
    decodeArgs: (r) => r.uint32(),
    run: (n) => n,
    encodeResult: (w, n) => void w.opaqueRef(body.subarray(0, n)),
  };
  const server = new RpcServer();
  server.addProgram({ prog: PROG, vers: 1, procedures: new Map([[1, proc]]) });
  return { server, body };
}

test('replyInto: a bulk reply is assembled in the caller buffer; small replies and too-small buffers are not', async (t) => {
  const { server, body } = patternServer();
  const port = await server.listenTcp(0, '127.0.0.1');
  t.teardown(() => server.close());
  const c = new TcpRpcClient({ host: '127.0.0.1', port, timeoutMs: 10_000 });
  t.teardown(() => c.close());
  const into = Buffer.alloc(300_100);
  const r = await c.call(PROG, 1, 1, (w) => void w.uint32(250_000), { replyInto: into });
  const data = r.opaque();
  t.is(data.buffer, into.buffer, 'the reply landed in the caller buffer');
  t.true(Buffer.from(data).equals(body.subarray(0, 250_000)));
  // Several at once, each into its own buffer.
  const bufs = Array.from({ length: 6 }, () => Buffer.alloc(300_100));
  const many = await Promise.all(bufs.map((b, i) => c.call(PROG, 1, 1, (w) => void w.uint32(100_000 + i * 1000), { replyInto: b })));
  many.forEach((m, i) => {
    const d = m.opaque();
    t.is(d.buffer, bufs[i]!.buffer);
    t.true(Buffer.from(d).equals(body.subarray(0, 100_000 + i * 1000)));
  });
  const small = Buffer.alloc(1000, 0xee);
  const big = await c.call(PROG, 1, 1, (w) => void w.uint32(200_000), { replyInto: small });
  t.not(big.opaque().buffer, small.buffer, 'a buffer too small for the record is not used');
  t.true(small.every((b) => b === 0xee), 'and not written');
});

test('a call that times out while its reply is arriving never writes into its replyInto buffer again', async (t) => {
  // A raw server: sends the first part of a big reply, waits past the client deadline, sends the rest.
  // The deadline leaves the first part time to land even on a loaded machine (400 ms failed once at load ~8).
  const REPLY_DATA = 400_000;
  const sent = { rest: undefined as (() => void) | undefined };
  const srv = net.createServer((s) => {
    const dec = new RecordDecoder();
    s.on('data', (chunk: Buffer) => {
      for (const rec of dec.push(chunk)) {
        const h = decodeCallHeader(new XdrReader(rec));
        const w = new XdrWriter(REPLY_DATA + 64, 0);
        encodeReplyHeader(w, { xid: h.xid, stat: ReplyStat.MSG_ACCEPTED, verf: AUTH_NONE, accept: AcceptStat.SUCCESS });
        w.opaque(Buffer.alloc(REPLY_DATA, 0x42));
        const whole = encodeRecord(w.bytes());
        s.write(whole.subarray(0, 100_000));
        sent.rest = () => s.write(whole.subarray(100_000));
      }
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => srv.close(() => r())));
  const c = new TcpRpcClient({ host: '127.0.0.1', port: (srv.address() as net.AddressInfo).port, timeoutMs: 1_500 });
  t.teardown(() => c.close());
  const into = Buffer.alloc(REPLY_DATA + 4096, 0);
  const err = await t.throwsAsync(c.call(PROG, 1, 1, (w) => void w.uint32(1), { replyInto: into }));
  t.true(err instanceof RpcTransportError && err.code === 'TIMEOUT');
  t.true(into.subarray(0, 90_000).some((b) => b === 0x42), 'the first part had landed in the buffer');
  into.fill(0x99); // the caller reuses its buffer
  sent.rest!();
  await new Promise((r) => setTimeout(r, 300));
  t.true(into.every((b) => b === 0x99), 'the rest of the reply went elsewhere');
});

test('afterReply hooks run once the reply is written, and when the connection is dropped before that', async (t) => {
  const events: string[] = [];
  let gate: (() => void) | undefined;
  const proc: RpcProcedure<number, number> = {
    decodeArgs: (r) => r.uint32(),
    run: async (n, ctx) => {
      ctx.afterReply?.(() => events.push(`released ${n}`));
      if (n === 2) await new Promise<void>((r) => (gate = r)); // answered only after the client is gone
      events.push(`ran ${n}`);
      return n;
    },
    encodeResult: (w, n) => void w.uint32(n).opaqueRef(Buffer.alloc(8192, n)),
  };
  const server = new RpcServer();
  server.addProgram({ prog: PROG, vers: 1, procedures: new Map([[1, proc]]) });
  const port = await server.listenTcp(0, '127.0.0.1');
  t.teardown(() => server.close());
  const c = new TcpRpcClient({ host: '127.0.0.1', port, timeoutMs: 5000 });
  const r = await c.call(PROG, 1, 1, (w) => void w.uint32(1));
  t.is(r.uint32(), 1);
  for (let i = 0; i < 100 && !events.includes('released 1'); i++) await new Promise((res) => setTimeout(res, 5));
  t.deepEqual(events, ['ran 1', 'released 1']);
  const pending = c.call(PROG, 1, 1, (w) => void w.uint32(2)).catch(() => undefined);
  for (let i = 0; i < 100 && !gate; i++) await new Promise((res) => setTimeout(res, 5));
  c.close();
  await pending;
  await new Promise((res) => setTimeout(res, 50));
  gate!();
  for (let i = 0; i < 100 && !events.includes('released 2'); i++) await new Promise((res) => setTimeout(res, 5));
  t.deepEqual(events, ['ran 1', 'released 1', 'ran 2', 'released 2'], 'a reply that could not be sent still releases');
});

/** A server of `proc` (program PROG, procedure 1) assembling large records in `pool`, and a client of it. */
async function pooledServer(t: ExecutionContext, pool: BufferPool, proc: RpcProcedure<Uint8Array, number>): Promise<{ port: number; c: TcpRpcClient }> {
  const server = new RpcServer({ recordPool: pool });
  server.addProgram({ prog: PROG, vers: 1, procedures: new Map([[1, proc]]) });
  const port = await server.listenTcp(0, '127.0.0.1');
  t.teardown(() => server.close());
  const c = new TcpRpcClient({ host: '127.0.0.1', port, timeoutMs: 10_000 });
  t.teardown(() => c.close());
  return { port, c };
}

test('server record pool: large calls are assembled in pooled buffers (read in place), each freed after its reply, also when the client vanishes mid-record', async (t) => {
  const pool = new BufferPool(300_000, 2);
  const sum = (b: Uint8Array) => b.reduce((a, x) => (a * 31 + x) >>> 0, 7);
  const seen: boolean[] = [];
  const proc: RpcProcedure<Uint8Array, number> = {
    decodeArgs: (r) => r.opaque(),
    run: async (data) => {
      seen.push(pool.stats.inUse > 0);
      await new Promise((r) => setTimeout(r, 2));
      return sum(data);
    },
    encodeResult: (w, n) => void w.uint32(n),
  };
  const { port, c } = await pooledServer(t, pool, proc);
  const bodies = Array.from({ length: 20 }, (_, i) => Buffer.alloc(200_000 + i * 100).map((_, k) => (k * (i + 3)) & 0xff));
  const replies = await Promise.all(bodies.map((b) => c.call(PROG, 1, 1, (w) => void w.opaqueRef(b))));
  replies.forEach((r, i) => t.is(r.uint32(), sum(bodies[i]!), `call ${i}`));
  t.true(seen.some(Boolean), 'records were assembled in pooled buffers');
  t.true(pool.stats.acquired > pool.stats.created && pool.stats.created <= 2, `acquired ${pool.stats.acquired}, created ${pool.stats.created}`);
  for (let i = 0; i < 100 && pool.stats.inUse > 0; i++) await new Promise((r) => setTimeout(r, 5));
  t.is(pool.stats.inUse, 0, 'every record buffer came back after its reply');
  // A client that sends the start of a large record and disconnects.
  const sock = net.connect(port, '127.0.0.1');
  await new Promise<void>((res, rej) => sock.once('connect', res).once('error', rej));
  const mark = Buffer.alloc(4);
  mark.writeUInt32BE((0x80000000 | 250_000) >>> 0);
  sock.write(Buffer.concat([mark, Buffer.alloc(100_000, 1)]));
  for (let i = 0; i < 100 && pool.stats.inUse === 0; i++) await new Promise((r) => setTimeout(r, 5));
  t.is(pool.stats.inUse, 1, 'the partial record is being assembled in a pooled buffer');
  sock.destroy();
  for (let i = 0; i < 100 && pool.stats.inUse > 0; i++) await new Promise((r) => setTimeout(r, 5));
  t.is(pool.stats.inUse, 0, 'and freed when its connection closed');
});

test('one connection holds at most MAX_POOLED_RECORDS_PER_CONNECTION whole pooled records (plus the one being read); the rest wait in the socket and all are answered', async (t) => {
  const pool = new BufferPool(300_000, 8);
  let running = 0;
  let mostRunning = 0;
  const proc: RpcProcedure<Uint8Array, number> = {
    decodeArgs: (r) => r.opaque(),
    run: async (data) => {
      mostRunning = Math.max(mostRunning, ++running);
      await new Promise((r) => setTimeout(r, 10));
      running--;
      return data.length;
    },
    encodeResult: (w, n) => void w.uint32(n),
  };
  const { port, c } = await pooledServer(t, pool, proc);
  const bodies = Array.from({ length: 12 }, (_, i) => Buffer.alloc(200_000 + i * 8, i));
  const replies = await Promise.all(bodies.map((b) => c.call(PROG, 1, 1, (w) => void w.opaqueRef(b))));
  replies.forEach((r, i) => t.is(r.uint32(), bodies[i]!.length, `call ${i}`));
  t.true(pool.stats.highWater <= MAX_POOLED_RECORDS_PER_CONNECTION + 1, `pool high water ${pool.stats.highWater}`);
  t.true(mostRunning >= 2 && mostRunning <= MAX_POOLED_RECORDS_PER_CONNECTION, `${mostRunning} ran at once`);
  t.is(pool.stats.misses, 0, 'no record fell back to an unpooled buffer');
});
