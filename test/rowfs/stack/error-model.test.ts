// The rowfs error model: each layer's error carries a code; encoders throw RangeError or the
// layer's encode error, never the error decoders throw. XDR: XdrDecodeError from readers and
// codecs' decoders, XdrEncodeError from writers (both are XdrError); a server answers GARBAGE_ARGS
// to the first only.
import test from 'ava';
import fc from 'fast-check';
import { XdrDecodeError, XdrEncodeError, XdrError } from '../../../rowfs/xdr/errors.js';
import { XdrReader } from '../../../rowfs/xdr/reader.js';
import { XdrWriter } from '../../../rowfs/xdr/writer.js';
import { NFS3_PROCEDURES } from '../../../rowfs/nfs3/procedures.js';
import { encodeAuthSys, decodeCallHeader, RpcVersionMismatch } from '../../../rowfs/rpc/message.js';
import { decodeVirtualHandle, encodeVirtualHandle, VirtualHandleError } from '../../../rowfs/state/vhandle.js';
import { BufferPool, BufferPoolError } from '../../../rowfs/rpc/buffer-pool.js';
import { Nfs3Client } from '../../../rowfs/nfs3/client.js';
import { MAX_NAME_BYTES } from '../../../rowfs/nfs3/types.js';
import { startEmbeddedServer } from '../../../rowfs/server/embedded-server.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('XDR writers throw XdrEncodeError with a code, readers XdrDecodeError; both are XdrError', (t) => {
  const enc = t.throws(() => new XdrWriter().uint32(-1), { instanceOf: XdrEncodeError })!;
  t.is(enc.code, 'BAD_VALUE');
  t.false(enc instanceof XdrDecodeError);
  const long = t.throws(() => new XdrWriter().opaque(new Uint8Array(10), 4), { instanceOf: XdrEncodeError })!;
  t.is(long.code, 'TOO_LONG');
  t.throws(() => encodeAuthSys({ stamp: 0, machineName: 'x'.repeat(256), uid: 0, gid: 0, gids: [] }), { instanceOf: XdrEncodeError });
  const dec = t.throws(() => new XdrReader(new Uint8Array(2)).uint32(), { instanceOf: XdrDecodeError })!;
  t.is(dec.code, 'SHORT_BUFFER');
  t.false(dec instanceof XdrEncodeError);
  t.true(enc instanceof XdrError && dec instanceof XdrError);
});

test('fuzz: NFSv3 and RPC header decoders on random bytes return a value or throw XdrDecodeError, never XdrEncodeError', (t) => {
  const decoders = [
    ...Object.values(NFS3_PROCEDURES).flatMap((c) => [(r: XdrReader) => c.decodeArgs(r), (r: XdrReader) => c.decodeRes(r)]),
    (r: XdrReader) => decodeCallHeader(r),
  ];
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat({ max: decoders.length - 1 }), (bytes, i) => {
      try {
        decoders[i]!(new XdrReader(bytes));
      } catch (e) {
        if (!(e instanceof XdrDecodeError) && !(e instanceof RpcVersionMismatch)) throw e;
      }
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('virtual handles: a bad value to encode is a RangeError; bytes that are no handle a VirtualHandleError with a code', (t) => {
  t.throws(() => encodeVirtualHandle({ instance: new Uint8Array(7), vid: 1 }), { instanceOf: RangeError });
  t.throws(() => encodeVirtualHandle({ instance: new Uint8Array(8), vid: 0 }), { instanceOf: RangeError });
  t.is(t.throws(() => decodeVirtualHandle(new Uint8Array(3)), { instanceOf: VirtualHandleError })!.code, 'BAD_LENGTH');
  t.is(t.throws(() => decodeVirtualHandle(new Uint8Array(20)), { instanceOf: VirtualHandleError })!.code, 'BAD_MAGIC');
});

test('buffer pool errors carry a code', (t) => {
  t.is(t.throws(() => new BufferPool(0, 1), { instanceOf: BufferPoolError })!.code, 'BAD_SIZE');
  const lease = new BufferPool(1024, 1).tryAcquire()!;
  lease.release();
  t.is(t.throws(() => lease.release(), { instanceOf: BufferPoolError })!.code, 'ALREADY_RELEASED');
});

test('an NFS call whose arguments cannot be encoded rejects with XdrEncodeError, not as a reply that did not decode', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rowfs-errors-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const s = await startEmbeddedServer({ exportDir: dir, host: '127.0.0.1' });
  t.teardown(() => s.stop());
  const nfs = Nfs3Client.connect({ host: '127.0.0.1', port: s.nfsPort });
  t.teardown(() => nfs.close());
  const err = await t.throwsAsync(nfs.lookup({ what: { dir: s.rootHandle, name: 'x'.repeat(MAX_NAME_BYTES + 1) } }), { instanceOf: XdrEncodeError });
  t.is(err!.code, 'TOO_LONG');
  // The connection is still usable.
  t.is((await nfs.getattr({ object: s.rootHandle })).status, 0);
});
