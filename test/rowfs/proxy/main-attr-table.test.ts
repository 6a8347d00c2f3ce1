import test from 'ava';
import fc from 'fast-check';
import { MainAttrTable } from '../../../rowfs/proxy/main-attr-table.js';
import { PROXY_FSID, virtualAttrs } from '../../../rowfs/proxy/attrs.js';
import type { Fattr3 } from '../../../rowfs/nfs3/types.js';

const u32 = fc.nat({ max: 0xffffffff });
const time = fc.record({ seconds: u32, nseconds: fc.nat({ max: 999_999_999 }) });
const fattr = fc.record({
  type: fc.integer({ min: 1, max: 7 }),
  mode: fc.nat({ max: 0o7777 }),
  nlink: u32,
  uid: u32,
  gid: u32,
  size: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  used: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  rdev: fc.record({ specdata1: u32, specdata2: u32 }),
  fsid: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fileid: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  atime: time,
  mtime: time,
  ctime: time,
}) as fc.Arbitrary<Fattr3>;

test('main attribute table: what is read back is the set remembered, with the virtual fileid and fsid', (t) => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat({ max: 3000 }), fattr), { minLength: 1, maxLength: 40 }), (sets) => {
      const table = new MainAttrTable(100);
      const model = new Map<number, Fattr3>();
      for (const [vid, a] of sets) {
        table.set(vid, a);
        model.set(vid, a);
      }
      for (const [vid, a] of model) t.deepEqual(table.get(vid), virtualAttrs(a, vid));
      t.is(table.size, model.size);
    }),
  );
});

test('main attribute table: the oldest remembered goes first when full, a re-remembered node counts as new, deleted slots are reused', (t) => {
  const a = (size: number): Fattr3 => ({
    type: 1, mode: 0o644, nlink: 1, uid: 0, gid: 0, size: BigInt(size), used: 0n, rdev: { specdata1: 0, specdata2: 0 },
    fsid: 9n, fileid: 7n, atime: { seconds: 1, nseconds: 2 }, mtime: { seconds: 3, nseconds: 4 }, ctime: { seconds: 5, nseconds: 6 },
  });
  // Past one chunk of slots (1,024), so records in later chunks are read and written too.
  const capacity = 2500;
  const table = new MainAttrTable(capacity);
  for (let vid = 0; vid < capacity; vid++) table.set(vid, a(vid));
  table.set(0, a(10_000)); // vid 0 is now the newest
  table.set(capacity, a(capacity)); // vid 1 goes
  t.is(table.size, capacity);
  t.is(table.get(1), undefined);
  t.is(table.get(0)!.size, 10_000n);
  for (let vid = 2; vid <= capacity; vid++) t.is(table.get(vid)?.size, BigInt(vid));
  table.delete(5);
  t.false(table.has(5));
  table.set(capacity + 1, a(42)); // takes vid 5's slot: nothing else goes
  t.is(table.size, capacity);
  t.is(table.get(2)!.size, 2n);
  t.is(table.get(capacity + 1)!.size, 42n);
  t.is(table.get(capacity + 1)!.fsid, PROXY_FSID);
  t.is(table.get(capacity + 1)!.fileid, BigInt(capacity + 1));
  // A set read back is the caller's to keep: changing it changes nothing remembered.
  const got = table.get(3)!;
  got.mtime.seconds = 99;
  t.is(table.get(3)!.mtime.seconds, 3);
});
