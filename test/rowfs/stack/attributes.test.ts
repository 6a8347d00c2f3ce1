// Local attributes to NFSv3 attributes (server/attributes.ts) without BigInt arithmetic where a
// Number does: the same results as BigIntStats' own type checks and BigInt arithmetic, for every
// file type a directory can hold and for values at the edges (times past 2^32 s, huge link counts).
import test from 'ava';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, type BigIntStats } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fattrOf, ftypeOf, nfsTime } from '../../../rowfs/server/attributes.js';
import { Ftype3 } from '../../../rowfs/nfs3/types.js';

// The conversions as written before, with BigInt arithmetic throughout.
const refTime = (ns: bigint) => (ns < 0n ? { seconds: 0, nseconds: 0 } : { seconds: Number((ns / 1_000_000_000n) & 0xffffffffn), nseconds: Number(ns % 1_000_000_000n) });
function refType(st: BigIntStats): Ftype3 {
  if (st.isFile()) return Ftype3.REG;
  if (st.isDirectory()) return Ftype3.DIR;
  if (st.isSymbolicLink()) return Ftype3.LNK;
  if (st.isBlockDevice()) return Ftype3.BLK;
  if (st.isCharacterDevice()) return Ftype3.CHR;
  if (st.isFIFO()) return Ftype3.FIFO;
  return Ftype3.SOCK;
}
const refMajor = (r: bigint) => Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn & 0xffffffffn));
const refMinor = (r: bigint) => Number((r & 0xffn) | ((r >> 12n) & ~0xffn & 0xffffffffn));

test('every file type a directory holds: type, mode, device numbers and times as BigIntStats gives them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rowfs-attrs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'file'), 'x');
  mkdirSync(join(dir, 'dir'));
  symlinkSync('file', join(dir, 'link'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  const server = net.createServer().listen(join(dir, 'sock'));
  await new Promise((resolve) => server.once('listening', resolve));
  t.teardown(() => server.close());
  const paths = ['file', 'dir', 'link', 'fifo', 'sock'].map((n) => join(dir, n)).concat(['/dev/null', '/dev/zero']);
  for (const p of paths) {
    const st = lstatSync(p, { bigint: true });
    const a = fattrOf(st);
    t.is(a.type, refType(st), p);
    t.is(ftypeOf(st), refType(st), p);
    t.is(a.mode, Number(st.mode & 0o7777n), p);
    t.deepEqual(a.rdev, { specdata1: refMajor(st.rdev), specdata2: refMinor(st.rdev) }, p);
    t.deepEqual([a.atime, a.mtime, a.ctime], [refTime(st.atimeNs), refTime(st.mtimeNs), refTime(st.ctimeNs)], p);
  }
  t.is(fattrOf(lstatSync('/dev/null', { bigint: true })).rdev.specdata1, 1, '/dev/null is 1:3');
});

test('times (negative, past 2^32 s, up to 2^63 ns) and link counts past 2^32 convert as BigInt arithmetic did', (t) => {
  const ns = fc.oneof(fc.bigInt({ min: -(2n ** 40n), max: 2n ** 63n - 1n }), fc.constantFrom(0n, 2n ** 32n * 1_000_000_000n, 2n ** 32n * 1_000_000_000n - 1n));
  fc.assert(
    fc.property(ns, fc.bigInt({ min: 0n, max: 2n ** 40n }), (n, nlink) => {
      t.deepEqual(nfsTime(n), refTime(n));
      const fake = { mode: 0o100644n, nlink, uid: 0n, gid: 0n, size: 0n, blocks: 0n, rdev: 0n, dev: 1n, ino: 2n, atimeNs: n, mtimeNs: n, ctimeNs: n } as unknown as BigIntStats;
      t.is(fattrOf(fake).nlink, Number(nlink & 0xffffffffn));
    }),
  );
});
