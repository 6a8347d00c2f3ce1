// RpcServer dispatch and refusals, RpcClient xid matching, timeouts, reconnection, UDP, and the
// portmapper registry, all on loopback.
import test from 'ava';
import net from 'node:net';
import { TcpRpcClient, UdpRpcClient } from '../../../rowfs/rpc/client.js';
import { RpcReplyError, RpcTransportError } from '../../../rowfs/rpc/errors.js';
import { AUTH_NONE, encodeAuthSys, encodeCallHeader, decodeReplyHeader, ReplyStat, RejectStat } from '../../../rowfs/rpc/message.js';
import { encodeRecord, RecordDecoder } from '../../../rowfs/rpc/record-marking.js';
import { RpcServer, type RpcProcedure } from '../../../rowfs/rpc/server.js';
import { XdrReader } from '../../../rowfs/xdr/reader.js';
import { XdrWriter } from '../../../rowfs/xdr/writer.js';
import { PortmapClient } from '../../../rowfs/portmap/client.js';
import { PortmapRegistry } from '../../../rowfs/portmap/registry.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../../../rowfs/portmap/types.js';

const PROG = 0x20000001;

/** A toy program v1..v2: proc 1 echoes a uint32 after an optional delay, proc 2 throws, proc 3 never answers. */
function toyServer(): RpcServer {
  const echo: RpcProcedure<{ v: number; delay: number }, number> = {
    decodeArgs: (r) => ({ v: r.uint32(), delay: r.uint32() }),
    run: ({ v, delay }) => new Promise((res) => setTimeout(() => res(v), delay)),
    encodeResult: (w, v) => void w.uint32(v),
  };
  const fail: RpcProcedure<void, void> = { decodeArgs: () => undefined, run: () => { throw new Error('boom'); }, encodeResult: () => undefined };
  const hang: RpcProcedure<void, void> = { decodeArgs: () => undefined, run: () => new Promise(() => undefined), encodeResult: () => undefined };
  const big: RpcProcedure<number, number> = { decodeArgs: (r) => r.uint32(), run: (n) => n, encodeResult: (w, n) => void w.opaque(new Uint8Array(n)) };
  const procs = new Map<number, RpcProcedure>([
    [0, { decodeArgs: () => undefined, run: () => undefined, encodeResult: () => undefined }],
    [4, big],
    [1, echo],
    [2, fail],
    [3, hang],
  ]);
  const s = new RpcServer();
  s.addProgram({ prog: PROG, vers: 1, procedures: procs }).addProgram({ prog: PROG, vers: 2, procedures: procs });
  return s;
}

const echoArgs = (v: number, delay = 0) => (w: XdrWriter) => void w.uint32(v).uint32(delay);

test('dispatch and every refusal: PROG_UNAVAIL, PROG_MISMATCH, PROC_UNAVAIL, GARBAGE_ARGS, SYSTEM_ERR, AUTH_ERROR', async (t) => {
  const s = toyServer();
  const port = await s.listenTcp(0, '127.0.0.1');
  t.teardown(() => s.close());
  const c = new TcpRpcClient({ host: '127.0.0.1', port, timeoutMs: 3000 });
  t.teardown(() => c.close());
  const r = await c.call(PROG, 1, 1, echoArgs(1234));
  t.is(r.uint32(), 1234);
  const code = async (p: Promise<unknown>) => ((await t.throwsAsync(p, { instanceOf: RpcReplyError })) as RpcReplyError);
  t.is((await code(c.call(PROG + 1, 1, 0, () => undefined))).code, 'PROG_UNAVAIL');
  const mismatch = await code(c.call(PROG, 7, 0, () => undefined));
  t.is(mismatch.code, 'PROG_MISMATCH');
  t.deepEqual([mismatch.detail?.low, mismatch.detail?.high], [1, 2]);
  t.is((await code(c.call(PROG, 1, 99, () => undefined))).code, 'PROC_UNAVAIL');
  t.is((await code(c.call(PROG, 1, 1, (w) => void w.uint32(1)))).code, 'GARBAGE_ARGS'); // too short
  t.is((await code(c.call(PROG, 1, 1, (w) => void w.uint32(1).uint32(0).uint32(9)))).code, 'GARBAGE_ARGS'); // trailing bytes
  t.is((await code(c.call(PROG, 1, 2, () => undefined))).code, 'SYSTEM_ERR');
  t.is((await code(c.call(PROG, 1, 0, () => undefined, { cred: { flavor: 6, body: new Uint8Array(4) } }))).code, 'AUTH_ERROR');
  t.is((await code(c.call(PROG, 1, 0, () => undefined, { cred: { flavor: 1, body: new Uint8Array(3) } }))).code, 'AUTH_ERROR');
  await c.call(PROG, 1, 0, () => undefined, { cred: encodeAuthSys({ stamp: 1, machineName: 'm', uid: 5, gid: 5, gids: [] }) });
  t.like(s.stats, { progUnavail: 1, progMismatch: 1, procUnavail: 1, garbageArgs: 2, systemErrors: 1, authErrors: 2 });
});

test('replies are matched by xid when they come back out of order', async (t) => {
  const s = toyServer();
  const port = await s.listenTcp(0, '127.0.0.1');
  t.teardown(() => s.close());
  const c = new TcpRpcClient({ host: '127.0.0.1', port });
  t.teardown(() => c.close());
  const values = Array.from({ length: 50 }, (_, i) => i);
  const got = await Promise.all(values.map((v) => c.call(PROG, 1, 1, echoArgs(v, (50 - v) * 2)).then((r) => r.uint32())));
  t.deepEqual(got, values);
});

test('RPC version 3 gets RPC_MISMATCH; garbage records are counted and the connection keeps working', async (t) => {
  const s = toyServer();
  const port = await s.listenTcp(0, '127.0.0.1');
  t.teardown(() => s.close());
  const sock = net.connect(port, '127.0.0.1');
  t.teardown(() => sock.destroy());
  await new Promise((r) => sock.once('connect', r));
  const dec = new RecordDecoder();
  const replies: Uint8Array[] = [];
  sock.on('data', (d) => replies.push(...dec.push(d)));
  const w = new XdrWriter();
  encodeCallHeader(w, { xid: 9, prog: PROG, vers: 1, proc: 0, cred: AUTH_NONE, verf: AUTH_NONE });
  const call = w.bytes().slice();
  const v3 = call.slice();
  new DataView(v3.buffer).setUint32(8, 3);
  sock.write(encodeRecord(v3));
  sock.write(encodeRecord(Uint8Array.of(1, 2, 3))); // not even an xid
  sock.write(encodeRecord(new Uint8Array(0)));
  sock.write(encodeRecord(call));
  for (let i = 0; i < 100 && replies.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
  t.is(replies.length, 2);
  const h = decodeReplyHeader(new XdrReader(replies[0]!));
  t.like(h, { xid: 9, stat: ReplyStat.MSG_DENIED, reject: RejectStat.RPC_MISMATCH, low: 2, high: 2 });
  t.like(decodeReplyHeader(new XdrReader(replies[1]!)), { xid: 9, stat: ReplyStat.MSG_ACCEPTED });
  t.is(s.stats.malformedFrames, 2);
  t.is(s.stats.rpcMismatch, 1);
});

test('timeouts are bounded; new calls fail fast when nothing listens; close() fails pending calls', async (t) => {
  const s = toyServer();
  const port = await s.listenTcp(0, '127.0.0.1');
  t.teardown(() => s.close());
  const c = new TcpRpcClient({ host: '127.0.0.1', port, timeoutMs: 300 });
  const e = await t.throwsAsync(c.call(PROG, 1, 3, () => undefined), { instanceOf: RpcTransportError });
  t.is(e!.code, 'TIMEOUT');
  const pending = c.call(PROG, 1, 3, () => undefined, { timeoutMs: 10_000 });
  c.close();
  t.is((await t.throwsAsync(pending, { instanceOf: RpcTransportError }))!.code, 'CLIENT_CLOSED');
  t.is((await t.throwsAsync(c.call(PROG, 1, 0, () => undefined), { instanceOf: RpcTransportError }))!.code, 'CLIENT_CLOSED');
  // A port with nothing behind it.
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const deadPort = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const dead = new TcpRpcClient({ host: '127.0.0.1', port: deadPort, timeoutMs: 5000 });
  t.teardown(() => dead.close());
  const t0 = Date.now();
  t.is((await t.throwsAsync(dead.call(PROG, 1, 0, () => undefined), { instanceOf: RpcTransportError }))!.code, 'CONNECT_FAILED');
  t.true(Date.now() - t0 < 2000);
});

test('a call in flight when the server restarts is retransmitted on a new connection', async (t) => {
  let s = toyServer();
  const port = await s.listenTcp(0, '127.0.0.1');
  const c = new TcpRpcClient({ host: '127.0.0.1', port, timeoutMs: 8000 });
  t.teardown(() => c.close());
  t.is((await c.call(PROG, 1, 1, echoArgs(1))).uint32(), 1);
  // The server dies while the call is being worked on, and comes back on the same port.
  const inflight = c.call(PROG, 1, 1, echoArgs(42, 400));
  await new Promise((r) => setTimeout(r, 100));
  await s.close();
  s = toyServer();
  await new Promise((r) => setTimeout(r, 300));
  await s.listenTcp(port, '127.0.0.1');
  t.teardown(() => s.close());
  t.is((await inflight).uint32(), 42);
  t.is((await c.call(PROG, 1, 1, echoArgs(7))).uint32(), 7);
});

test('UDP: calls, refusals and retransmission', async (t) => {
  const s = toyServer();
  const port = await s.listenUdp(0, '127.0.0.1');
  t.teardown(() => s.close());
  const c = new UdpRpcClient({ host: '127.0.0.1', port, timeoutMs: 3000, retransmitMs: 200 });
  t.teardown(() => c.close());
  t.is((await c.call(PROG, 2, 1, echoArgs(99))).uint32(), 99);
  t.is((await t.throwsAsync(c.call(PROG, 1, 99, () => undefined), { instanceOf: RpcReplyError }))!.code, 'PROC_UNAVAIL');
  // Slower than the retransmit interval: duplicates are answered, the first reply wins, the rest are stray.
  t.is((await c.call(PROG, 1, 1, echoArgs(5, 500))).uint32(), 5);
  t.is((await t.throwsAsync(c.call(PROG, 1, 3, () => undefined, { timeoutMs: 500 }), { instanceOf: RpcTransportError }))!.code, 'TIMEOUT');
});

test('portmapper registry: SET, GETPORT, DUMP, UNSET over TCP and UDP', async (t) => {
  const reg = new PortmapRegistry();
  const s = new RpcServer().addProgram(reg.program());
  const port = await s.listenTcp(0, '127.0.0.1');
  await s.listenUdp(port, '127.0.0.1');
  t.teardown(() => s.close());
  const pm = PortmapClient.connect({ host: '127.0.0.1', port });
  t.teardown(() => pm.close());
  await pm.null();
  t.true(await pm.set({ prog: 100003, vers: 3, prot: IPPROTO_TCP, port: 2049 }));
  t.false(await pm.set({ prog: 100003, vers: 3, prot: IPPROTO_TCP, port: 2050 }));
  t.true(await pm.set({ prog: 100003, vers: 3, prot: IPPROTO_UDP, port: 2049 }));
  t.is(await pm.getport(100003, 3), 2049);
  t.is(await pm.getport(100005, 3), 0);
  t.is((await pm.dump()).length, 2);
  const udp = PortmapClient.connect({ host: '127.0.0.1', port, transport: 'udp' });
  t.teardown(() => udp.close());
  t.is(await udp.getport(100003, 3, IPPROTO_UDP), 2049);
  t.true(await pm.unset({ prog: 100003, vers: 3, prot: 0, port: 0 }));
  t.deepEqual(await pm.dump(), []);
});

test('a reply bigger than the client accepts fails that call with TOO_LARGE; the client recovers', async (t) => {
  const s = toyServer();
  const port = await s.listenTcp(0, '127.0.0.1');
  t.teardown(() => s.close());
  const c = new TcpRpcClient({ host: '127.0.0.1', port, timeoutMs: 5000, maxRecordBytes: 64 * 1024 });
  t.teardown(() => c.close());
  t.is((await c.call(PROG, 1, 4, (w) => void w.uint32(1000))).opaque().length, 1000);
  const e = await t.throwsAsync(c.call(PROG, 1, 4, (w) => void w.uint32(100_000)), { instanceOf: RpcTransportError });
  t.is(e!.code, 'TOO_LARGE');
  t.is((await c.call(PROG, 1, 1, echoArgs(3))).uint32(), 3);
});

test('closing the server while calls are running (TCP and UDP) does not crash it', async (t) => {
  const s = toyServer();
  const port = await s.listenTcp(0, '127.0.0.1');
  const uport = await s.listenUdp(0, '127.0.0.1');
  const c = new TcpRpcClient({ host: '127.0.0.1', port, timeoutMs: 1000 });
  const u = new UdpRpcClient({ host: '127.0.0.1', port: uport, timeoutMs: 1000 });
  t.teardown(() => {
    c.close();
    u.close();
  });
  const calls = [c.call(PROG, 1, 1, echoArgs(1, 200)), u.call(PROG, 1, 1, echoArgs(2, 200))];
  await new Promise((r) => setTimeout(r, 50));
  await s.close();
  const results = await Promise.allSettled(calls);
  t.true(results.every((r) => r.status === 'rejected'));
  // The handlers finished after close and tried to answer: still alive.
  await new Promise((r) => setTimeout(r, 300));
  t.pass();
});

test('duplicate request cache: same xid replayed (not re-run); a SYSTEM_ERR is retried; other xids run', async (t) => {
  let runs = 0;
  let failNext = false;
  const counter: RpcProcedure<void, number> = {
    decodeArgs: () => undefined,
    run: () => {
      if (failNext) {
        failNext = false;
        throw new Error('transient');
      }
      return ++runs;
    },
    encodeResult: (w, n) => void w.uint32(n),
  };
  const s = new RpcServer().addProgram({ prog: PROG, vers: 1, procedures: new Map([[1, counter]]), nonIdempotent: new Set([1]) });
  const port = await s.listenTcp(0, '127.0.0.1');
  t.teardown(() => s.close());
  const send = async (xid: number): Promise<{ accept: number; value?: number }> => {
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    const dec = new RecordDecoder();
    const got = new Promise<Uint8Array>((resolve) => sock.on('data', (d) => dec.push(d).forEach(resolve)));
    const w = new XdrWriter();
    encodeCallHeader(w, { xid, prog: PROG, vers: 1, proc: 1, cred: AUTH_NONE, verf: AUTH_NONE });
    sock.write(encodeRecord(w.bytes()));
    const rec = await got;
    sock.destroy();
    const r = new XdrReader(rec);
    const h = decodeReplyHeader(r);
    const accept = 'accept' in h ? h.accept : -1;
    return accept === 0 ? { accept, value: r.uint32() } : { accept };
  };
  t.deepEqual(await send(100), { accept: 0, value: 1 });
  t.deepEqual(await send(100), { accept: 0, value: 1 }); // replayed
  t.is(runs, 1);
  t.is(s.stats.duplicateReplays, 1);
  failNext = true;
  t.is((await send(200)).accept, 5); // SYSTEM_ERR
  t.deepEqual(await send(200), { accept: 0, value: 2 }); // retried, not replayed
  t.deepEqual(await send(201), { accept: 0, value: 3 });
  const off = new RpcServer({ duplicateCacheEntries: 0 }).addProgram({ prog: PROG, vers: 1, procedures: new Map([[1, counter]]), nonIdempotent: new Set([1]) });
  const offPort = await off.listenTcp(0, '127.0.0.1');
  t.teardown(() => off.close());
  const c = new TcpRpcClient({ host: '127.0.0.1', port: offPort });
  t.teardown(() => c.close());
  t.is((await c.call(PROG, 1, 1, () => undefined)).uint32(), 4);
});
