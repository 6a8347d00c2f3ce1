// The proxy's cold-read paths against an embedded read-only main: the native one (main's READ data
// spliced into the block cache, large cached READs sent to clients with sendfile) and the JS one
// (RPC client into pooled buffers, cache writes, replies from memory). Both must give main's exact
// bytes for sequential, random and block-crossing reads on one connection at once (large replies by
// sendfile interleaved with small ones), fetch each block from main once, and nothing when warm.
import test, { type ExecutionContext } from 'ava';
import { expectOk } from '../../../rowfs/nfs3/errors.js';
import { loadSpliceAddon } from '../../../rowfs/proxy/splice-fetcher.js';
import { lookup, pattern, proxyOverEmbeddedMain } from './fixture.js';

const FILE_BYTES = 9 * 1024 * 1024 + 777; // not a multiple of the block size
const BLOCK_BYTES = 64 * 1024;
const IO_BYTES = 1024 * 1024;

async function readsAreExact(t: ExecutionContext, splice: boolean) {
  const content = pattern(FILE_BYTES, 31);
  const { proxy, faults, open } = await proxyOverEmbeddedMain(t, { 'data.bin': content }, { blockSizeBytes: BLOCK_BYTES, splice });
  t.is(proxy.payloadMemory()?.splicing, splice);
  const ex = await open();
  t.teardown(() => ex.close());
  const fh = await lookup(ex, ex.root, 'data.bin');
  const read = async (offset: number, count: number) => {
    const r = expectOk(await ex.nfs.read({ file: fh, offset: BigInt(offset), count }), 'READ');
    const want = content.subarray(offset, Math.min(offset + count, FILE_BYTES));
    if (!Buffer.from(r.data).equals(want)) t.fail(`bytes differ at ${offset}+${count} (got ${r.data.length}, want ${want.length})`);
    t.is(r.eof, offset + count >= FILE_BYTES, `eof at ${offset}+${count}`);
  };
  // Cold: a sequential reader (8 READs of 1 MiB in flight) and, on the same connection, small
  // and block-crossing reads at once.
  let next = 0;
  const sequential = async () => {
    while (next * IO_BYTES < FILE_BYTES) await read(next++ * IO_BYTES, IO_BYTES);
  };
  const odd = async () => {
    for (let i = 0; i < 40; i++) {
      const offset = (i * 2_654_435) % FILE_BYTES;
      await read(offset, [4096, 100_000, 3 * BLOCK_BYTES + 5, 700_001][i % 4]!);
    }
  };
  await Promise.all([...Array.from({ length: 8 }, sequential), odd()]);
  const cold = proxy.counters.snapshot();
  // Each block came from main once (read-ahead and the odd reads share fetches).
  t.is(cold.bytes.fromMain, FILE_BYTES);
  t.is(cold.cache.missBlocks, Math.ceil(FILE_BYTES / BLOCK_BYTES));
  const coldReads = Math.ceil(FILE_BYTES / IO_BYTES) + 40;
  t.true(cold.cache.waitedReads >= 1 && cold.cache.waitedReads <= coldReads, `${cold.cache.waitedReads} of ${coldReads} cold reads waited for main`);
  // Warm: everything again, nothing from main; the last bytes of the file and past its end.
  next = 0;
  await Promise.all([...Array.from({ length: 4 }, sequential), odd()]);
  await read(FILE_BYTES - 10, IO_BYTES);
  t.is(proxy.counters.snapshot().cache.waitedReads, cold.cache.waitedReads, 'no warm read waited for main');
  const past = expectOk(await ex.nfs.read({ file: fh, offset: BigInt(FILE_BYTES + 5), count: 4096 }), 'READ');
  t.is(past.data.length, 0);
  t.true(past.eof);
  t.is(proxy.counters.snapshot().bytes.fromMain, FILE_BYTES);
  if (splice) t.true(proxy.fileReplies > 0, 'large cached READs went out by sendfile');
  else t.is(proxy.fileReplies, 0);
  t.deepEqual(faults, []);
  t.is(proxy.payloadMemory()?.fillFailures ?? 0, 0);
}

test('JS path: main bytes exactly, each block fetched once, warm reads fetch nothing', (t) => readsAreExact(t, false));

test('native splice + sendfile path: the same', async (t) => {
  if (!loadSpliceAddon()) {
    t.fail('build/Release/rowfssplice.node missing: run `npm run install` (scripts/setup.sh does)');
    return;
  }
  await readsAreExact(t, true);
});
