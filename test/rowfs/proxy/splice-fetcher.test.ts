// The native READ fetcher (rowfssplice addon) against a fake main server on loopback that answers
// with chosen bytes: a well-formed reply (one or several record fragments) puts exactly its data
// into the file; mutated, truncated or random replies give a status or a SpliceFetchError, never a
// crash or a hang (fast-check); wrong xid, a server that never answers, a refused connection.
import test from 'ava';
import fc from 'fast-check';
import net from 'node:net';
import { mkdtempSync, openSync, closeSync, readSync, rmSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XdrWriter } from '../../../rowfs/xdr/writer.js';
import { XdrReader } from '../../../rowfs/xdr/reader.js';
import { AcceptStat, AUTH_NONE, ReplyStat, encodeReplyHeader } from '../../../rowfs/rpc/message.js';
import { READ } from '../../../rowfs/nfs3/procedures.js';
import { Nfs3Status } from '../../../rowfs/nfs3/types.js';
import { rootCred } from '../../../rowfs/rpc/message.js';
import { SpliceFetcher, SpliceFetchError, loadSpliceAddon } from '../../../rowfs/proxy/splice-fetcher.js';

const TIMEOUT_MS = 300;
const CODES = new Set(['TIMEOUT', 'IO', 'PROTOCOL', 'DENIED', 'NOT_ACCEPTED', 'CACHE_IO', 'BROKEN', 'CLOSED', 'CONNECT_FAILED']);
const FH = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);

/** A READ reply record body for `xid` carrying `data` (with attributes when `attrs`). */
function readReply(xid: number, data: Uint8Array, eof: boolean): Uint8Array {
  const w = new XdrWriter(256 + data.length);
  encodeReplyHeader(w, { xid, stat: ReplyStat.MSG_ACCEPTED, verf: AUTH_NONE, accept: AcceptStat.SUCCESS });
  READ.encodeRes(w, { status: Nfs3Status.OK, count: data.length, eof, data });
  return w.bytes();
}

/** Record-marks `body` as fragments cut at `cuts` (sorted offsets inside it). */
function frame(body: Uint8Array, cuts: number[] = []): Buffer {
  const bounds = [0, ...cuts.filter((c) => c > 0 && c < body.length), body.length];
  const out: Buffer[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const mark = Buffer.alloc(4);
    mark.writeUInt32BE(((i + 2 === bounds.length ? 0x80000000 : 0) | (bounds[i + 1]! - bounds[i]!)) >>> 0);
    out.push(mark, Buffer.from(body.subarray(bounds[i]!, bounds[i + 1]!)));
  }
  return Buffer.concat(out);
}

/** A fake main: each call is answered by `answer(xid)` (undefined = no answer); `end` closes after it. */
async function fakeMain(answer: (xid: number) => { bytes?: Buffer; end?: boolean }): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let pending = Buffer.alloc(0);
    s.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const len = pending.readUInt32BE(0) & 0x7fffffff;
        if (pending.length < 4 + len) return;
        const xid = new XdrReader(pending.subarray(4, 8)).uint32();
        pending = pending.subarray(4 + len);
        const a = answer(xid);
        if (a.bytes) s.write(a.bytes);
        if (a.end) s.end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

function scratchFile(t: { teardown(fn: () => void): void }): { fd: number; bytesAt(offset: number, n: number): Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'rowfs-splice-fetch-'));
  const fd = openSync(join(dir, 'cache'), 'w+');
  t.teardown(() => {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    fd,
    bytesAt(offset, n) {
      const b = Buffer.alloc(n);
      const got = readSync(fd, b, 0, n, offset);
      return b.subarray(0, got);
    },
  };
}

const hasAddon = loadSpliceAddon() !== undefined;
const needAddon = (t: { fail(m: string): void }) => {
  if (!hasAddon) t.fail('build/Release/rowfssplice.node missing: run `npm run install`');
  return hasAddon;
};

test('a well-formed reply, in one or several fragments, puts exactly its data at the file offset', async (t) => {
  if (!needAddon(t)) return;
  const file = scratchFile(t);
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 300_000 }), fc.array(fc.nat(), { maxLength: 4 }), fc.boolean(), fc.nat(1 << 20), async (data, cutsRaw, eof, fileOffset) => {
      const main = await fakeMain((xid) => {
        const body = readReply(xid, data, eof);
        const cuts = cutsRaw.map((c) => c % (body.length + 1)).sort((a, b) => a - b);
        return { bytes: frame(body, cuts) };
      });
      const f = SpliceFetcher.open({ host: '127.0.0.1', port: main.port, cred: rootCred(), connections: 1, timeoutMs: 5000 })!;
      try {
        ftruncateSync(file.fd, 0);
        const r = await f.read(FH, 0, data.length + 10, file.fd, fileOffset);
        t.deepEqual(r, { status: Nfs3Status.OK, bytes: data.length, eof });
        t.true(file.bytesAt(fileOffset, data.length).equals(Buffer.from(data)));
      } finally {
        f.close();
        await main.close();
      }
    }),
    { numRuns: 25 },
  );
});

test('mutated, truncated and random replies: a status or a SpliceFetchError, never a crash or hang', async (t) => {
  if (!needAddon(t)) return;
  const file = scratchFile(t);
  const arbReply = fc.oneof(
    // a valid reply with some bytes flipped, then maybe cut short
    fc.record({ data: fc.uint8Array({ maxLength: 5000 }), flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 6 }), cut: fc.option(fc.nat()) }).map(
      (m) => (xid: number) => {
        const rec = frame(readReply(xid, m.data, false));
        for (const [at, x] of m.flips) rec[at % rec.length]! ^= x;
        return m.cut === null ? rec : rec.subarray(0, m.cut % (rec.length + 1));
      },
    ),
    // random bytes behind a plausible record mark, or just random bytes
    fc.uint8Array({ maxLength: 2000 }).map((b) => (xid: number) => {
      const body = Buffer.concat([Buffer.from(new Uint32Array([0]).buffer), Buffer.from(b)]);
      body.writeUInt32BE(xid, 0);
      return frame(body);
    }),
    fc.uint8Array({ maxLength: 2000 }).map((b) => () => Buffer.from(b)),
  );
  await fc.assert(
    fc.asyncProperty(arbReply, async (make) => {
      const main = await fakeMain((xid) => ({ bytes: make(xid), end: true }));
      const f = SpliceFetcher.open({ host: '127.0.0.1', port: main.port, cred: rootCred(), connections: 1, timeoutMs: TIMEOUT_MS })!;
      try {
        const count = 8192;
        const r = await f.read(FH, 0, count, file.fd, 0).catch((e: unknown) => e);
        if (r instanceof SpliceFetchError) t.true(CODES.has(r.code), r.code);
        else {
          const ok = r as { status: number; bytes: number; eof: boolean };
          t.true(Number.isInteger(ok.status));
          t.true(ok.bytes >= 0 && ok.bytes <= count);
        }
      } finally {
        f.close();
        await main.close();
      }
    }),
    { numRuns: 60 },
  );
});

test('wrong xid is a PROTOCOL error; no answer is a TIMEOUT; a refused connection is CONNECT_FAILED', async (t) => {
  if (!needAddon(t)) return;
  const file = scratchFile(t);
  const wrong = await fakeMain((xid) => ({ bytes: frame(readReply((xid + 1) >>> 0, new Uint8Array(10), true)) }));
  t.teardown(() => wrong.close());
  const f1 = SpliceFetcher.open({ host: '127.0.0.1', port: wrong.port, cred: rootCred(), connections: 1, timeoutMs: TIMEOUT_MS })!;
  t.teardown(() => f1.close());
  t.is(((await f1.read(FH, 0, 10, file.fd, 0).catch((e) => e)) as SpliceFetchError).code, 'PROTOCOL');

  const silent = await fakeMain(() => ({}));
  t.teardown(() => silent.close());
  const f2 = SpliceFetcher.open({ host: '127.0.0.1', port: silent.port, cred: rootCred(), connections: 1, timeoutMs: TIMEOUT_MS })!;
  t.teardown(() => f2.close());
  t.is(((await f2.read(FH, 0, 10, file.fd, 0).catch((e) => e)) as SpliceFetchError).code, 'TIMEOUT');

  const refused = await fakeMain(() => ({}));
  const port = refused.port;
  await refused.close();
  const f3 = SpliceFetcher.open({ host: '127.0.0.1', port, cred: rootCred(), connections: 1, timeoutMs: TIMEOUT_MS })!;
  t.teardown(() => f3.close());
  t.is(((await f3.read(FH, 0, 10, file.fd, 0).catch((e) => e)) as SpliceFetchError).code, 'CONNECT_FAILED');
});
