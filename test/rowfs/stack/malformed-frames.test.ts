// Hostile bytes sent to the embedded server over raw TCP and UDP: broken framing, undecodable
// headers, garbage arguments for every NFS and MOUNT procedure, random records. Each is counted
// (or answered GARBAGE_ARGS), the process never crashes, and the server keeps serving.
import test from 'ava';
import net from 'node:net';
import dgram from 'node:dgram';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedServer } from '../../../rowfs/server/index.js';
import { openExport } from '../../../rowfs/mount/open-export.js';
import { expectOk } from '../../../rowfs/nfs3/errors.js';
import { AcceptStat, AUTH_NONE, decodeReplyHeader, encodeCallHeader, ReplyStat } from '../../../rowfs/rpc/message.js';
import { RecordDecoder, encodeRecord } from '../../../rowfs/rpc/record-marking.js';
import { rootCred } from '../../../rowfs/rpc/message.js';
import { NFS3_PROGRAM } from '../../../rowfs/nfs3/types.js';
import { MOUNT_PROGRAM } from '../../../rowfs/mount/types.js';
import { XdrReader } from '../../../rowfs/xdr/reader.js';
import { XdrWriter } from '../../../rowfs/xdr/writer.js';

async function setup(t: import('ava').ExecutionContext) {
  const dir = mkdtempSync(join(tmpdir(), 'malformed-'));
  writeFileSync(join(dir, 'f.txt'), 'still here');
  const server = await startEmbeddedServer({ exportDir: dir, host: '127.0.0.1', udp: true });
  t.teardown(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const stillServes = async () => {
    const ex = await openExport({ host: '127.0.0.1', exportPath: server.exportPath, nfsPort: server.nfsPort, mountPort: server.mountPort });
    try {
      const f = expectOk(await ex.nfs.lookup({ what: { dir: ex.root, name: 'f.txt' } }), 'LOOKUP').object;
      return Buffer.from(expectOk(await ex.nfs.read({ file: f, offset: 0n, count: 100 }), 'READ').data).toString();
    } finally {
      await ex.close();
    }
  };
  return { server, stillServes };
}

function connect(port: number): Promise<{ sock: net.Socket; replies: Uint8Array[]; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const dec = new RecordDecoder();
    const replies: Uint8Array[] = [];
    sock.on('data', (d) => {
      try {
        replies.push(...dec.push(d));
      } catch {
        /* not our concern here */
      }
    });
    sock.on('error', () => undefined);
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.once('connect', () => resolve({ sock, replies, closed }));
    sock.once('error', reject);
  });
}

const until = async (cond: () => boolean, ms = 3000) => {
  for (let i = 0; i < ms / 20 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
};

function call(prog: number, vers: number, proc: number, args: Uint8Array, xid = 1): Uint8Array {
  const w = new XdrWriter();
  encodeCallHeader(w, { xid, prog, vers, proc, cred: rootCred(), verf: AUTH_NONE });
  const head = w.bytes();
  const out = new Uint8Array(head.length + args.length);
  out.set(head);
  out.set(args, head.length);
  return out;
}

test('oversize record mark closes the connection; it is counted; the server still serves', async (t) => {
  const { server, stillServes } = await setup(t);
  const c = await connect(server.nfsPort);
  c.sock.write(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 1, 2, 3));
  await c.closed;
  t.is(server.stats.malformedFrames, 1);
  t.is(await stillServes(), 'still here');
});

test('undecodable records are dropped and counted, the connection stays usable', async (t) => {
  const { server, stillServes } = await setup(t);
  const c = await connect(server.nfsPort);
  t.teardown(() => c.sock.destroy());
  c.sock.write(encodeRecord(Uint8Array.of(0, 0, 0, 1))); // xid only
  c.sock.write(encodeRecord(Uint8Array.of(0, 0, 0, 1, 0, 0, 0, 1))); // a REPLY sent to a server
  c.sock.write(encodeRecord(call(NFS3_PROGRAM, 3, 0, new Uint8Array(0), 77).subarray(0, 30))); // truncated header
  c.sock.write(encodeRecord(call(NFS3_PROGRAM, 3, 0, new Uint8Array(0), 78)));
  await until(() => c.replies.length >= 1);
  t.is(c.replies.length, 1);
  t.is(decodeReplyHeader(new XdrReader(c.replies[0]!)).xid, 78);
  t.is(server.stats.malformedFrames, 3);
  t.is(await stillServes(), 'still here');
});

test('garbage arguments to every NFS and MOUNT procedure get GARBAGE_ARGS (or a typed NFS error), never a crash', async (t) => {
  const { server, stillServes } = await setup(t);
  const c = await connect(server.nfsPort);
  t.teardown(() => c.sock.destroy());
  const rng = fc.sample(fc.uint8Array({ maxLength: 120 }).map((b) => b.subarray(0, b.length & ~3)), { numRuns: 10, seed: 42 });
  let sent = 0;
  for (let proc = 0; proc <= 21; proc++) {
    for (const bytes of rng) c.sock.write(encodeRecord(call(NFS3_PROGRAM, 3, proc, bytes, ++sent)));
  }
  for (let proc = 0; proc <= 5; proc++) {
    for (const bytes of rng) c.sock.write(encodeRecord(call(MOUNT_PROGRAM, 3, proc, bytes, ++sent)));
  }
  await until(() => c.replies.length >= sent, 10_000);
  t.is(c.replies.length, sent);
  const headers = c.replies.map((r) => decodeReplyHeader(new XdrReader(r)));
  t.true(headers.every((h) => h.stat === ReplyStat.MSG_ACCEPTED && (h.accept === AcceptStat.SUCCESS || h.accept === AcceptStat.GARBAGE_ARGS)));
  t.true(server.stats.garbageArgs > 0);
  t.is(server.stats.systemErrors, 0);
  t.is(await stillServes(), 'still here');
});

test('fuzz: random records and random UDP datagrams never take the server down', async (t) => {
  const { server, stillServes } = await setup(t);
  const c = await connect(server.nfsPort);
  t.teardown(() => c.sock.destroy());
  const valid = call(NFS3_PROGRAM, 3, 1, new Uint8Array(0));
  const samples = fc.sample(
    fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })).map(([i, v]) => {
        const b = valid.slice();
        b[i] = v;
        return b;
      }),
    ),
    { numRuns: 500, seed: 7 },
  );
  for (const s of samples) c.sock.write(encodeRecord(s));
  const udp = dgram.createSocket('udp4');
  t.teardown(() => udp.close());
  for (const s of samples.slice(0, 200)) udp.send(s, server.nfsPort, '127.0.0.1');
  await until(() => server.stats.calls + server.stats.malformedFrames >= 500, 10_000);
  t.true(server.stats.malformedFrames > 0);
  t.is(server.stats.systemErrors, 0);
  t.is(await stillServes(), 'still here');
});

test('a retransmitted REMOVE (same xid, new connection) is answered from the duplicate request cache', async (t) => {
  const { server } = await setup(t);
  const args = new XdrWriter();
  args.opaque(server.rootHandle).string('f.txt');
  const msg = encodeRecord(call(NFS3_PROGRAM, 3, 12, args.bytes(), 4242));
  const statusOf = (reply: Uint8Array) => {
    const r = new XdrReader(reply);
    decodeReplyHeader(r);
    return r.uint32();
  };
  const first = await connect(server.nfsPort);
  first.sock.write(msg);
  await until(() => first.replies.length >= 1);
  first.sock.destroy();
  const second = await connect(server.nfsPort);
  t.teardown(() => second.sock.destroy());
  second.sock.write(msg);
  await until(() => second.replies.length >= 1);
  t.is(statusOf(first.replies[0]!), 0);
  t.is(statusOf(second.replies[0]!), 0, 'the replay says OK, not NOENT');
  t.deepEqual(Buffer.from(second.replies[0]!), Buffer.from(first.replies[0]!));
  t.is(server.stats.duplicateReplays, 1);
  // A new xid really runs again.
  const again = encodeRecord(call(NFS3_PROGRAM, 3, 12, args.bytes(), 4243));
  second.sock.write(again);
  await until(() => second.replies.length >= 2);
  t.is(statusOf(second.replies[1]!), 2); // NFS3ERR_NOENT
});
