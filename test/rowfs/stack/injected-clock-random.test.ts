// Time and randomness in rowfs come from the injected Clock and Random (lib/clock.ts,
// lib/random.ts): the block cache's debounced index write, the RPC client's first xid and the
// embedded server's write verifier.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockCache } from '../../../rowfs/cache/block-cache.js';
import { TcpRpcClient } from '../../../rowfs/rpc/client.js';
import { RpcServer, type RpcProcedure } from '../../../rowfs/rpc/server.js';
import { LocalExport } from '../../../rowfs/server/local-export.js';
import { seededRandom } from '../../../lib/random.js';
import { ManualClock } from '../../vnet/manual-clock.js';

function tmp(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'rowfs-injected-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('block cache: the index write waits on the injected clock, one timer however many writes; close cancels it', async (t) => {
  const clock = new ManualClock();
  const cache = BlockCache.open(tmp(t), 4096, clock);
  t.is(clock.pendingTimers, 0);
  await cache.write('k', 0, Buffer.alloc(4096, 1));
  await cache.write('k', 1, Buffer.alloc(4096, 2));
  t.is(clock.pendingTimers, 1, 'one debounced index write');
  await clock.advance(199);
  t.is(clock.pendingTimers, 1, 'not before 200 ms');
  await clock.advance(1);
  t.is(clock.pendingTimers, 0, 'written at 200 ms');
  await cache.write('k', 2, Buffer.alloc(10, 3));
  t.is(clock.pendingTimers, 1);
  await cache.close();
  t.is(clock.pendingTimers, 0, 'close flushes and cancels the timer');
});

test('RPC client: the first xid comes from the injected Random', async (t) => {
  const PROG = 0x20000002;
  const xidEcho: RpcProcedure<void, number> = { decodeArgs: () => undefined, run: (_a, ctx) => ctx.xid, encodeResult: (w, x) => void w.uint32(x) };
  const server = new RpcServer().addProgram({ prog: PROG, vers: 1, procedures: new Map([[1, xidEcho]]) });
  const port = await server.listenTcp(0, '127.0.0.1');
  t.teardown(() => server.close());
  const xidsOf = async (seed: number) => {
    const c = new TcpRpcClient({ host: '127.0.0.1', port, random: seededRandom(seed), timeoutMs: 10_000 });
    try {
      const out: number[] = [];
      for (let i = 0; i < 2; i++) out.push((await c.call(PROG, 1, 1, () => undefined)).uint32());
      return out;
    } finally {
      c.close();
    }
  };
  const first = seededRandom(42).int(0x7fffffff);
  t.deepEqual(await xidsOf(42), [first, first + 1]);
  t.deepEqual(await xidsOf(42), [first, first + 1], 'same seed, same xids');
  t.notDeepEqual(await xidsOf(43), [first, first + 1]);
});

test('embedded server: the write verifier comes from the injected Random', (t) => {
  const dir = tmp(t);
  t.deepEqual(new LocalExport({ root: dir, random: seededRandom(7) }).writeVerf, seededRandom(7).bytes(8));
  t.notDeepEqual(new LocalExport({ root: dir, random: seededRandom(8) }).writeVerf, seededRandom(7).bytes(8));
});
