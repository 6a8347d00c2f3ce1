// Read-ahead and pooled buffers against concurrent writes through the proxy (embedded read-only
// main, shadow directory, a small buffer pool so buffers are reused all the time): sequential
// readers keep read-ahead running over a file while another client writes random ranges of it;
// every write read back right after its reply is the written data, the whole file at the end is
// main's content with every write applied, and every pooled buffer comes back.
import test from 'ava';
import type { OpenedExport } from '../../../rowfs/mount/open-export.js';
import { expectOk } from '../../../rowfs/nfs3/errors.js';
import { StableHow } from '../../../rowfs/nfs3/types.js';
import { lookup, pattern, proxyOverEmbeddedMain, readAll } from './fixture.js';

const FILE_BYTES = 6 * 1024 * 1024 + 4321;
const POOL_BUFFERS = 6;

test('read-ahead with pooled buffers never serves stale or foreign bytes while the file is written', async (t) => {
  const original = pattern(FILE_BYTES, 77);
  const { proxy, faults, open } = await proxyOverEmbeddedMain(t, { 'data.bin': original, 'other.bin': pattern(FILE_BYTES, 78) }, { poolBuffers: POOL_BUFFERS });
  const clients: OpenedExport[] = [await open(), await open(), await open()];
  t.teardown(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
  });
  const [reader, writer, otherReader] = clients as [OpenedExport, OpenedExport, OpenedExport];
  const rfh = await lookup(reader, reader.root, 'data.bin');
  const wfh = await lookup(writer, writer.root, 'data.bin');
  const ofh = await lookup(otherReader, otherReader.root, 'other.bin');

  const expected = Buffer.from(original);
  let writing = true;
  // Sequential readers (read-ahead on), 4 READs in flight each, over and over until the writes end.
  const sequential = async (ex: OpenedExport, fh: Uint8Array, chunk: number, check?: Buffer) => {
    let passes = 0;
    while (writing || passes === 0) {
      let next = 0;
      const worker = async () => {
        while (next * chunk < FILE_BYTES) {
          const off = next++ * chunk;
          const r = expectOk(await ex.nfs.read({ file: fh, offset: BigInt(off), count: chunk }), 'READ');
          if (check && !Buffer.from(r.data).equals(check.subarray(off, off + chunk))) throw new Error(`other.bin differs at ${off}`);
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      passes++;
    }
    return passes;
  };
  const readers = [sequential(reader, rfh, 256 * 1024), sequential(otherReader, ofh, 1024 * 1024, pattern(FILE_BYTES, 78))];

  // The writer: random ranges (partial blocks, block-crossing, some FILE_SYNC), each read back at once.
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  for (let i = 0; i < 60; i++) {
    const off = rand(FILE_BYTES - 1);
    const len = 1 + rand(Math.min(300_000, FILE_BYTES - off));
    const data = pattern(len, 1000 + i);
    const stable = i % 3 === 0 ? StableHow.FILE_SYNC : StableHow.UNSTABLE;
    const w = expectOk(await writer.nfs.write({ file: wfh, offset: BigInt(off), count: len, stable, data }), 'WRITE');
    t.is(w.count, len);
    data.copy(expected, off);
    const back = expectOk(await writer.nfs.read({ file: wfh, offset: BigInt(off), count: len }), 'READ');
    if (!Buffer.from(back.data).equals(data)) t.fail(`write ${i} at ${off}+${len} did not read back`);
    // And through the reading client (its own connection and read-ahead state).
    const probe = Math.min(len, 70_000);
    const seen = expectOk(await reader.nfs.read({ file: rfh, offset: BigInt(off), count: probe }), 'READ');
    if (!Buffer.from(seen.data).equals(data.subarray(0, probe))) t.fail(`write ${i} not seen by the other client`);
  }
  writing = false;
  const passes = await Promise.all(readers);
  t.true(passes.every((p) => p >= 1));
  t.true((await readAll(reader, rfh, 1024 * 1024)).equals(expected), 'whole file = main + every write');

  const mem = proxy.payloadMemory()!;
  t.true(mem.pool.created <= POOL_BUFFERS, `pool created ${mem.pool.created}`);
  t.true(mem.pool.acquired > mem.pool.created, 'buffers were reused');
  for (let i = 0; i < 200 && proxy.payloadMemory()!.pool.inUse > 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.is(proxy.payloadMemory()!.pool.inUse, 0, 'every pooled buffer came back');
  t.deepEqual(faults, []);
});
