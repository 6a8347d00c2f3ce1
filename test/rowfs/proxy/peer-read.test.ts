// readViaPeers with a fake peer set and a fake server: runs no peer had each get their own reply
// buffer (a shared `replyInto` let the second run overwrite the first), and a server that answers a
// run short is read on to the run's end.
import test from 'ava';
import { Nfs3Status } from '../../../rowfs/nfs3/types.js';
import type { Nfs3ArgsOf, Nfs3ResOf } from '../../../rowfs/nfs3/procedures.js';
import type { RpcCallOptions } from '../../../rowfs/rpc/client.js';
import { readViaPeers, type PeerReadContext } from '../../../rowfs/proxy/peer-read.js';

const BS = 16;
const BLOCKS = 16;
const content = Buffer.from(Array.from({ length: BS * BLOCKS }, (_, i) => Math.floor(i / BS) * 7 + (i % BS)));
const READ_ARGS = (offset: number, count: number): Nfs3ArgsOf<'READ'> => ({ file: new Uint8Array(22), offset: BigInt(offset), count });

/** A peer set holding blocks [lo, hi]; a server that lands replies in `replyInto` when given one, at most `maxReply` bytes each. */
function context(lo: number, hi: number, maxReply = Infinity): PeerReadContext & { calls: number } {
  const c = {
    calls: 0,
    blockSize: BS,
    entry: { type: 'file', size: content.length },
    peers: { fetch: async (_p: string, _f: Uint8Array, first: number, last: number) => Array.from({ length: last - first + 1 }, (_, i) => (first + i >= lo && first + i <= hi ? content.subarray((first + i) * BS, (first + i + 1) * BS) : undefined)) },
    server: async (a: Nfs3ArgsOf<'READ'>, o?: RpcCallOptions): Promise<Nfs3ResOf<'READ'>> => {
      c.calls++;
      const at = Number(a.offset);
      const bytes = content.subarray(at, Math.min(at + a.count, at + maxReply, content.length));
      let data: Uint8Array = Buffer.from(bytes);
      if (o?.replyInto) {
        o.replyInto.set(bytes, 0);
        data = o.replyInto.subarray(0, bytes.length);
      }
      return { status: Nfs3Status.OK, count: data.length, eof: at + data.length >= content.length, data };
    },
  };
  return c;
}

test('runs around a peer-held range each keep their own bytes (no shared reply buffer)', async (t) => {
  const c = context(4, 7);
  const pool = new Uint8Array(content.length + 64);
  const r = await readViaPeers(c, 'f', new Uint8Array(20), READ_ARGS(0, content.length), { replyInto: pool });
  if (!r || r.status !== Nfs3Status.OK) return t.fail('no OK reply');
  t.is(c.calls, 2, 'blocks 0-3 and 8-15 from the server');
  t.true(Buffer.from(r.data).equals(content), 'block 0 is block 0, not block 8');
  t.true(r.eof);
});

test('a short server reply is read on to the end of the run, not an error', async (t) => {
  const c = context(0, 1, 3 * BS);
  const r = await readViaPeers(c, 'f', new Uint8Array(20), READ_ARGS(5, content.length - 10));
  if (!r || r.status !== Nfs3Status.OK) return t.fail('no OK reply');
  t.true(Buffer.from(r.data).equals(content.subarray(5, content.length - 5)));
  t.is(c.calls, 5, '14 blocks in replies of 3');
});

test('no peer block: undefined, the caller reads the server', async (t) => {
  t.is(await readViaPeers(context(99, 99), 'f', new Uint8Array(20), READ_ARGS(0, 64)), undefined);
});
