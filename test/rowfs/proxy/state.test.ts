// Unit tests of the proxy's pure pieces and its LMDB store: bitmap, virtual handles, state
// persistence across reopen, block cache.
import test from 'ava';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockBitmap } from '../../../rowfs/state/bitmap.js';
import { decodeVirtualHandle, encodeVirtualHandle, vidOfHandle, VirtualHandleError, VHANDLE_MAX_BYTES } from '../../../rowfs/state/vhandle.js';
import { ROOT_VID, StateStore, StateStoreError, type NodeRecord } from '../../../rowfs/state/store.js';
import { nodeRecord } from '../../../rowfs/state/node-record.js';
import { setFlagsFromString } from 'node:v8';
import { BlockCache } from '../../../rowfs/cache/block-cache.js';
import { Counters } from '../../../rowfs/counters.js';

function tmp(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'rowfs-state-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Random bitmap operations on blocks 0..maxBlock. */
const bitmapOps = (maxBlock: number, maxLength: number) =>
  fc.array(fc.oneof(fc.record({ set: fc.nat(maxBlock) }), fc.record({ clearFrom: fc.nat(maxBlock) })), { maxLength });

/** A bitmap and a Set model after the same operations. */
function bitmapAfter(ops: Array<{ set: number } | { clearFrom: number }>): { bm: BlockBitmap; model: Set<number> } {
  const bm = new BlockBitmap();
  const model = new Set<number>();
  for (const op of ops) {
    if ('set' in op) {
      bm.set(op.set);
      model.add(op.set);
    } else {
      bm.clearFrom(op.clearFrom);
      for (const b of [...model]) if (b >= op.clearFrom) model.delete(b);
    }
  }
  return { bm, model };
}

test('bitmap agrees with a Set model under random set/clearFrom and survives encode/decode', (t) => {
  fc.assert(
    fc.property(bitmapOps(300, 60), (ops) => {
      const { bm, model } = bitmapAfter(ops);
      const back = BlockBitmap.decode(bm.encode());
      for (let b = 0; b < 320; b++) {
        if (bm.has(b) !== model.has(b) || back.has(b) !== model.has(b)) return false;
      }
      return bm.count() === model.size;
    }),
  );
  const bm = new BlockBitmap();
  bm.setRange(3, 9);
  t.true(bm.hasAll(3, 9));
  t.false(bm.hasAll(2, 9));
  bm.clearFrom(100);
  t.is(bm.count(), 7);
});

test('bitmap: files of under 32 blocks (held in a word) agree with a Set model, encode as the byte form does, and move to bytes past block 31', (t) => {
  // The byte form's encoding, written out: trailing zero bytes trimmed, little-endian bits.
  const bytesOf = (model: Set<number>) => {
    const max = Math.max(-1, ...model);
    const out = new Uint8Array(max < 0 ? 0 : (max >>> 3) + 1);
    for (const b of model) out[b >>> 3]! |= 1 << (b & 7);
    return out;
  };
  fc.assert(
    fc.property(bitmapOps(40, 40), (ops) => {
      const { bm, model } = bitmapAfter(ops);
      const encoded = bm.encode();
      const back = BlockBitmap.decode(encoded);
      for (let b = 0; b < 48; b++) if (bm.has(b) !== model.has(b) || back.has(b) !== model.has(b)) return false;
      return bm.count() === model.size && back.count() === model.size && Buffer.from(encoded).equals(Buffer.from(bytesOf(model)));
    }),
  );
  const bm = new BlockBitmap();
  bm.setRange(0, 31);
  t.is(bm.count(), 32);
  t.deepEqual([...bm.encode()], [255, 255, 255, 255]);
  bm.clearFrom(31);
  t.false(bm.has(31));
  t.true(bm.hasAll(0, 30));
  bm.set(32);
  t.true(bm.hasAll(0, 30) && bm.has(32) && !bm.has(31));
  t.deepEqual([...bm.encode()], [255, 255, 255, 127, 1]);
  t.deepEqual([...BlockBitmap.decode(new Uint8Array([1, 0, 0, 0, 0, 0])).encode()], [1]);
});

test('vidOfHandle agrees with decodeVirtualHandle: the vid for our instance, -1 for another, the same VirtualHandleError code for garbage', (t) => {
  const ours = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
  const decodes = (bytes: Uint8Array) => {
    try {
      return decodeVirtualHandle(bytes);
    } catch (e) {
      return (e as VirtualHandleError).code;
    }
  };
  const fast = (bytes: Uint8Array) => {
    try {
      return vidOfHandle(bytes, ours);
    } catch (e) {
      return (e as VirtualHandleError).code;
    }
  };
  const check = (bytes: Uint8Array) => {
    const slow = decodes(bytes);
    const got = fast(bytes);
    if (typeof slow === 'string') return got === slow;
    return got === (Buffer.from(slow.instance).equals(Buffer.from(ours)) ? slow.vid : -1);
  };
  fc.assert(
    fc.property(fc.oneof(fc.constant(ours), fc.uint8Array({ minLength: 8, maxLength: 8 })), fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })), (instance, vid) =>
      check(encodeVirtualHandle({ instance, vid })),
    ),
  );
  fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 24 }), (bytes) => check(bytes)));
  // Edge vids and damaged headers, byte by byte.
  const good = encodeVirtualHandle({ instance: ours, vid: Number.MAX_SAFE_INTEGER });
  t.is(vidOfHandle(good, ours), Number.MAX_SAFE_INTEGER);
  t.is(vidOfHandle(encodeVirtualHandle({ instance: ours, vid: 2 ** 32 + 7 }), ours), 2 ** 32 + 7);
  for (let i = 0; i < 20; i++) {
    for (const v of [0, 0x20, 0xff]) {
      const b = good.slice();
      b[i] = v;
      t.true(check(b), `byte ${i} = ${v}`);
    }
  }
});

test('virtual handles round-trip, fit in 64 bytes, and reject anything else with VirtualHandleError', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 8, maxLength: 8 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (instance, vid) => {
      const bytes = encodeVirtualHandle({ instance, vid });
      const back = decodeVirtualHandle(bytes);
      return bytes.length <= VHANDLE_MAX_BYTES && back.vid === vid && Buffer.from(back.instance).equals(Buffer.from(instance));
    }),
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
      try {
        decodeVirtualHandle(bytes);
        return true;
      } catch (e) {
        return e instanceof VirtualHandleError;
      }
    }),
  );
  const good = encodeVirtualHandle({ instance: new Uint8Array(8), vid: 5 });
  t.throws(() => decodeVirtualHandle(good.slice(0, 19)), { instanceOf: VirtualHandleError });
  const bad = good.slice();
  bad[0] = 0;
  t.throws(() => decodeVirtualHandle(bad), { instanceOf: VirtualHandleError });
  t.throws(() => decodeVirtualHandle(new Uint8Array(20).fill(0xff)), { instanceOf: VirtualHandleError });
});

test('state store keeps nodes, names, whiteouts and bitmaps across close/reopen', async (t) => {
  const dir = tmp(t);
  const s1 = await StateStore.open(dir, { blockSizeBytes: 8192, mainId: 'h:/e' });
  const vid = s1.allocVid();
  t.true(vid > ROOT_VID);
  const bm = s1.bitmap(vid);
  bm.set(3);
  await s1.commit((tx) => {
    tx.putNode({ vid: ROOT_VID, type: 2, parent: ROOT_VID, name: '', main: new Uint8Array([1, 2]), shadow: new Uint8Array([3]), mainBlocks: 0 });
    tx.putNode({ vid, type: 1, parent: ROOT_VID, name: 'f', main: new Uint8Array([9, 9]), shadow: null, mainBlocks: 4 });
    tx.setName(ROOT_VID, 'f', vid);
    tx.setName(ROOT_VID, 'g', vid);
    tx.setWhiteout(ROOT_VID, 'gone');
    tx.setWhiteout(ROOT_VID + 1, 'other-dir');
    tx.putBitmap(vid, bm);
    tx.setMainIndex(new Uint8Array([9, 9]), vid);
  });
  const instance = Buffer.from(s1.instance);
  await s1.close();

  const s2 = await StateStore.open(dir, { mainId: 'h:/e' });
  t.is(s2.blockSize, 8192);
  t.deepEqual(Buffer.from(s2.instance), instance);
  t.true(s2.allocVid() > vid, 'vids are never reused after a restart');
  const n = s2.getNode(vid)!;
  t.is(n.name, 'f');
  t.deepEqual([...n.main!], [9, 9]);
  t.is(n.shadow, null);
  t.is(s2.lookupName(ROOT_VID, 'g'), vid);
  t.deepEqual(s2.namesIn(ROOT_VID).map((e) => e.name), ['f', 'g']);
  t.deepEqual([...s2.whiteoutsIn(ROOT_VID)], ['gone']);
  t.true(s2.isWhiteout(ROOT_VID, 'gone'));
  t.true(s2.bitmap(vid).has(3));
  t.false(s2.bitmap(vid).has(2));
  t.is(s2.byMainHandle(new Uint8Array([9, 9])), vid);
  await s2.commit((tx) => {
    tx.removeName(ROOT_VID, 'g');
    tx.clearWhiteout(ROOT_VID, 'gone');
    tx.removeNode(vid);
  });
  t.is(s2.lookupName(ROOT_VID, 'g'), undefined);
  t.false(s2.isWhiteout(ROOT_VID, 'gone'));
  t.is(s2.getNode(vid), undefined);
  await s2.close();

  await t.throwsAsync(StateStore.open(dir, { mainId: 'other:/x' }), { instanceOf: StateStoreError });
  await t.throwsAsync(StateStore.open(tmp(t), { blockSizeBytes: 1000 }), { instanceOf: StateStoreError });
});

test('a committed node is read back as committed (a copy, not the caller\'s object); a failed commit leaves the stored one', async (t) => {
  const dir = tmp(t);
  const s = await StateStore.open(dir, { mainId: 'h:/e' });
  t.teardown(() => s.close());
  const shadow = new Uint8Array([1, 2, 3]);
  const made = { vid: s.allocVid(), type: 1 as const, parent: ROOT_VID, name: 'f', main: null, shadow, mainBlocks: 0 };
  await s.commit((tx) => tx.putNode(made), 'process');
  shadow[0] = 9; // the caller's buffer changes later (a pooled reply): the store's node does not
  t.deepEqual(s.getNode(made.vid)?.shadow, new Uint8Array([1, 2, 3]));
  const next = { ...made, name: 'g', shadow: new Uint8Array([4]) };
  await s.commit((tx) => tx.putNode(next), 'process');
  t.is(s.getNode(made.vid)?.name, 'g');
  // A commit that throws is rolled back: the node read afterwards is the stored one, not the put.
  await t.throwsAsync(s.commit((tx) => {
    tx.putNode({ ...next, name: 'lost' });
    throw new Error('abort');
  }, 'process'), { message: 'abort' });
  t.is(s.getNode(made.vid)?.name, 'g');
  await s.commit((tx) => tx.removeNode(made.vid), 'process');
  t.is(s.getNode(made.vid), undefined);
});

test('begin/commitTx commits as commit does, across a reopen; a transaction not from begin is refused', async (t) => {
  const dir = tmp(t);
  const s = await StateStore.open(dir, { mainId: 'h:/e' });
  const made: NodeRecord = nodeRecord({ vid: s.allocVid(), type: 1 as const, parent: ROOT_VID, name: 'f', main: null, shadow: new Uint8Array([7]), mainBlocks: 0 });
  const tx = s.begin();
  tx.putNode(made);
  tx.setName(ROOT_VID, 'f', made.vid);
  tx.setWhiteout(ROOT_VID, 'w');
  t.is(s.getNode(made.vid), undefined, 'nothing applied before commitTx');
  await s.commitTx(tx, 'soon');
  t.is(s.lookupName(ROOT_VID, 'f'), made.vid);
  t.true(s.isWhiteout(ROOT_VID, 'w'));
  const foreign = { putNode() {}, removeNode() {}, setName() {}, removeName() {}, setWhiteout() {}, clearWhiteout() {}, putBitmap() {}, setMainIndex() {} };
  await t.throwsAsync(s.commitTx(foreign as never, 'soon'), { instanceOf: TypeError });
  await s.close();
  const again = await StateStore.open(dir, { mainId: 'h:/e' });
  t.teardown(() => again.close());
  t.is(again.getNode(made.vid)?.name, 'f');
  t.is(again.lookupName(ROOT_VID, 'f'), made.vid);
  t.true(again.isWhiteout(ROOT_VID, 'w'));
});

test('every node record has one hidden class: from a create, the pending batch, LMDB and a reopen (V8 threw optimized code away at each new shape)', async (t) => {
  setFlagsFromString('--allow-natives-syntax');
  const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;
  const dir = tmp(t);
  const s1 = await StateStore.open(dir, { mainId: 'h:/e' });
  const made = nodeRecord<NodeRecord>({ vid: s1.allocVid(), type: 1, parent: ROOT_VID, name: 'f', main: null, shadow: new Uint8Array([1, 2, 3]), mainBlocks: 0 });
  const fromMain = nodeRecord<NodeRecord>({ vid: s1.allocVid(), type: 2, parent: ROOT_VID, name: 'd', main: new Uint8Array([7, 7]), shadow: null, mainBlocks: 0 });
  await s1.commit((tx) => {
    tx.putNode(made);
    tx.putNode(fromMain);
  }, 'soon');
  const pending = s1.getNode(made.vid)!;
  t.true(sameMap(pending, made), 'a node in the pending batch');
  await s1.flushed(); // the batch goes to LMDB; the next read decodes the stored record
  const stored = s1.getNode(fromMain.vid)!;
  t.deepEqual([...stored.main!], [7, 7]);
  t.true(sameMap(stored, made), 'a node read back from LMDB');
  await s1.close();
  const s2 = await StateStore.open(dir, { mainId: 'h:/e' });
  t.teardown(() => s2.close());
  t.true(sameMap(s2.getNode(made.vid)!, made), 'a node after a reopen');
  t.true(sameMap(nodeRecord<NodeRecord>({ ...made, mainBlocks: 3 }), made), 'a changed copy');
});

test("a 'soon' commit survives a SIGKILL right after it resolves, and reaches the disk within flushDelayMs", async (t) => {
  const dir = tmp(t);
  // A separate process commits a name 'soon' and kills itself at once: before any fdatasync ran.
  const store = new URL('../../../rowfs/state/store.js', import.meta.url).href;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', `
    const { StateStore } = await import(${JSON.stringify(store)});
    const s = await StateStore.open(${JSON.stringify(dir)}, { flushDelayMs: 60_000 });
    const vid = s.allocVid();
    await s.commit((tx) => { tx.putNode({ vid, type: 1, parent: 1, name: 'made', main: null, shadow: new Uint8Array([7]), mainBlocks: 0 }); tx.setName(1, 'made', vid); }, 'soon');
    console.log('committed', vid, s.syncCount);
    process.kill(process.pid, 'SIGKILL');
  `], { encoding: 'utf8', timeout: 20_000 });
  t.is(child.signal, 'SIGKILL', child.stderr);
  const m = /committed (\d+) (\d+)/.exec(child.stdout);
  t.truthy(m, child.stdout + child.stderr);
  const s = await StateStore.open(dir, { flushDelayMs: 1000 });
  t.teardown(() => s.close());
  t.is(s.lookupName(ROOT_VID, 'made'), Number(m![1]), 'the name committed before the crash is there');
  // In this process: a 'soon' commit is followed by one fdatasync within the delay; a burst shares it.
  const before = s.syncCount;
  for (let i = 0; i < 20; i++) {
    const vid = s.allocVid();
    await s.commit((tx) => tx.setName(ROOT_VID, `n${i}`, vid), 'soon');
  }
  t.is(s.syncCount, before, 'no sync per commit');
  for (let i = 0; i < 250 && s.syncCount === before; i++) await new Promise((r) => setTimeout(r, 20));
  t.is(s.syncCount, before + 1, 'one group sync for the burst');
  // flushed() syncs only when a commit is not covered yet.
  await s.flushed();
  t.is(s.syncCount, before + 1);
  await s.commit((tx) => tx.setWhiteout(ROOT_VID, 'w'), 'process');
  await s.flushed();
  t.is(s.syncCount, before + 2);
});

test('block cache returns what was stored, including a short final block, after reopen', async (t) => {
  const dir = tmp(t);
  const c1 = BlockCache.open(dir, 4096);
  const a = Buffer.alloc(4096, 7);
  const tail = Buffer.from('end of file');
  await c1.write('k1', 2, a);
  await c1.write('k1', 5, tail);
  t.true(c1.has('k1', 2));
  t.false(c1.has('k1', 3));
  t.deepEqual(await c1.read('k1', 2), a);
  t.deepEqual(await c1.read('k1', 5), tail);
  t.is(await c1.read('k1', 3), undefined);
  t.is(await c1.read('k2', 2), undefined);
  // Many files at once exercise the pool of open data files.
  await Promise.all(Array.from({ length: 100 }, (_, i) => c1.write(`many${i}`, 0, Buffer.alloc(4096, i))));
  const back = await Promise.all(Array.from({ length: 100 }, (_, i) => c1.read(`many${i}`, 0)));
  t.true(back.every((b, i) => b!.equals(Buffer.alloc(4096, i))));
  // close() writes the (debounced) index
  await c1.close();
  const c2 = BlockCache.open(dir, 4096);
  t.deepEqual(await c2.read('k1', 5), tail);
  t.is(c2.cachedBlocks('k1'), 2);
  await c2.close();
});

test('counters count per target and procedure and format a table', (t) => {
  const c = new Counters();
  c.call('client', 'READ');
  c.call('client', 'READ');
  c.call('main', 'READ');
  c.call('shadow', 'GETATTR');
  c.bytesFromMain += 100;
  const s = c.snapshot();
  t.deepEqual(s.client, { READ: 2 });
  t.deepEqual(s.totals, { client: 2, main: 1, shadow: 1 });
  t.is(s.bytes.fromMain, 100);
  t.regex(Counters.format(s), /READ\s+2\s+1\s+0/);
  t.deepEqual(JSON.parse(JSON.stringify(s)), s);
});
