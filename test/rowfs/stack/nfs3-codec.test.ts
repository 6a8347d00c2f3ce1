// Every NFSv3, MOUNT v3 and portmap v2 codec, both directions: generated arguments and results
// (OK and error arms) round-trip; random and mutated bytes decode or throw XdrError.
import test from 'ava';
import fc from 'fast-check';
import { NFS3_PROCEDURES } from '../../../rowfs/nfs3/procedures.js';
import type { ProcedureCodec } from '../../../rowfs/rpc/procedure-codec.js';
import { CreateMode, Ftype3, Nfs3Status, StableHow, TimeHow, type Fattr3, type Sattr3, type WccData } from '../../../rowfs/nfs3/types.js';
import { MOUNT_PROCEDURES } from '../../../rowfs/mount/procedures.js';
import { MountStatus } from '../../../rowfs/mount/types.js';
import { PORTMAP_PROCEDURES } from '../../../rowfs/portmap/procedures.js';
import { decodeSafely, encodeBytes, mutated, roundTrip } from './codec-helpers.js';
import { XdrReader } from '../../../rowfs/xdr/reader.js';
import { XdrError } from '../../../rowfs/xdr/errors.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const fh = fc.uint8Array({ minLength: 1, maxLength: 64 });
const verf = fc.uint8Array({ minLength: 8, maxLength: 8 });
const name = fc.string({ minLength: 1, maxLength: 30 });
const time = fc.record({ seconds: u32, nseconds: fc.integer({ min: 0, max: 999_999_999 }) });
const ftype = fc.constantFrom(Ftype3.REG, Ftype3.DIR, Ftype3.BLK, Ftype3.CHR, Ftype3.LNK, Ftype3.SOCK, Ftype3.FIFO);
const fattr: fc.Arbitrary<Fattr3> = fc.record({
  type: ftype,
  mode: u32,
  nlink: u32,
  uid: u32,
  gid: u32,
  size: u64,
  used: u64,
  rdev: fc.record({ specdata1: u32, specdata2: u32 }),
  fsid: u64,
  fileid: u64,
  atime: time,
  mtime: time,
  ctime: time,
});
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const postOp = <K extends string>(key: K) => fc.record({ [key]: fattr } as Record<K, fc.Arbitrary<Fattr3>>, { requiredKeys: [] });
const wcc: fc.Arbitrary<WccData> = fc.record(
  { before: fc.record({ size: u64, mtime: time, ctime: time }), after: fattr },
  { requiredKeys: [] },
);
const setTime = fc.oneof(
  fc.constant({ how: TimeHow.SET_TO_SERVER_TIME as const }),
  fc.record({ how: fc.constant(TimeHow.SET_TO_CLIENT_TIME as const), time }),
);
const sattr: fc.Arbitrary<Sattr3> = fc.record({ mode: u32, uid: u32, gid: u32, size: u64, atime: setTime, mtime: setTime }, { requiredKeys: [] });
const dirop = fc.record({ dir: fh, name });
const errStatus = fc.constantFrom(
  ...(Object.values(Nfs3Status).filter((v) => typeof v === 'number' && v !== 0) as Exclude<Nfs3Status, Nfs3Status.OK>[]),
);
const stable = fc.constantFrom(StableHow.UNSTABLE, StableHow.DATA_SYNC, StableHow.FILE_SYNC);

/** Result arbitrary: the OK arm or an error status with the fail arm. */
function res<O extends object, F extends object>(ok: fc.Arbitrary<O>, fail: fc.Arbitrary<F>) {
  return fc.oneof(
    ok.map((o) => ({ status: Nfs3Status.OK, ...o })),
    fc.tuple(errStatus, fail).map(([status, f]) => ({ status, ...f })),
  );
}
const merge = <A extends object, B extends object>(a: fc.Arbitrary<A>, b: fc.Arbitrary<B>) => fc.tuple(a, b).map(([x, y]) => ({ ...x, ...y }));
const empty = fc.constant({});
const dirOpRes = res(
  merge(fc.record({ obj: fh, objAttributes: fattr }, { requiredKeys: [] }), fc.record({ dirWcc: wcc })),
  fc.record({ dirWcc: wcc }),
);
const entry = fc.record({ fileid: u64, name, cookie: u64 });
const entryPlus = merge(entry, fc.record({ nameAttributes: fattr, nameHandle: fh }, { requiredKeys: [] }));

const cases: Record<keyof typeof NFS3_PROCEDURES, { args: fc.Arbitrary<any>; res: fc.Arbitrary<any> }> = {
  NULL: { args: fc.constant(undefined), res: fc.constant(undefined) },
  GETATTR: { args: fc.record({ object: fh }), res: res(fc.record({ objAttributes: fattr }), empty) },
  SETATTR: {
    args: merge(fc.record({ object: fh, newAttributes: sattr }), fc.record({ guard: time }, { requiredKeys: [] })),
    res: res(fc.record({ objWcc: wcc }), fc.record({ objWcc: wcc })),
  },
  LOOKUP: {
    args: fc.record({ what: dirop }),
    res: res(merge(fc.record({ object: fh }), fc.record({ objAttributes: fattr, dirAttributes: fattr }, { requiredKeys: [] })), postOp('dirAttributes')),
  },
  ACCESS: { args: fc.record({ object: fh, access: u32 }), res: res(merge(postOp('objAttributes'), fc.record({ access: u32 })), postOp('objAttributes')) },
  READLINK: {
    args: fc.record({ symlink: fh }),
    res: res(merge(postOp('symlinkAttributes'), fc.record({ data: fc.string({ maxLength: 100 }) })), postOp('symlinkAttributes')),
  },
  READ: {
    args: fc.record({ file: fh, offset: u64, count: u32 }),
    res: res(merge(postOp('fileAttributes'), fc.record({ count: u32, eof: fc.boolean(), data: fc.uint8Array({ maxLength: 300 }) })), postOp('fileAttributes')),
  },
  WRITE: {
    args: fc.record({ file: fh, offset: u64, count: u32, stable, data: fc.uint8Array({ maxLength: 300 }) }),
    res: res(fc.record({ fileWcc: wcc, count: u32, committed: stable, verf }), fc.record({ fileWcc: wcc })),
  },
  CREATE: {
    args: fc.record({
      where: dirop,
      how: fc.oneof(
        fc.record({ mode: fc.constantFrom(CreateMode.UNCHECKED, CreateMode.GUARDED), attributes: sattr }),
        fc.record({ mode: fc.constant(CreateMode.EXCLUSIVE), verf }),
      ),
    }),
    res: dirOpRes,
  },
  MKDIR: { args: fc.record({ where: dirop, attributes: sattr }), res: dirOpRes },
  SYMLINK: { args: fc.record({ where: dirop, symlinkAttributes: sattr, symlinkData: fc.string({ maxLength: 100 }) }), res: dirOpRes },
  MKNOD: {
    args: fc.record({
      where: dirop,
      what: fc.oneof(
        fc.record({ type: fc.constantFrom(Ftype3.CHR, Ftype3.BLK), attributes: sattr, spec: fc.record({ specdata1: u32, specdata2: u32 }) }),
        fc.record({ type: fc.constantFrom(Ftype3.SOCK, Ftype3.FIFO), attributes: sattr }),
        fc.record({ type: fc.constantFrom(Ftype3.REG, Ftype3.DIR, Ftype3.LNK) }),
      ),
    }),
    res: dirOpRes,
  },
  REMOVE: { args: fc.record({ object: dirop }), res: res(fc.record({ dirWcc: wcc }), fc.record({ dirWcc: wcc })) },
  RMDIR: { args: fc.record({ object: dirop }), res: res(fc.record({ dirWcc: wcc }), fc.record({ dirWcc: wcc })) },
  RENAME: {
    args: fc.record({ from: dirop, to: dirop }),
    res: res(fc.record({ fromdirWcc: wcc, todirWcc: wcc }), fc.record({ fromdirWcc: wcc, todirWcc: wcc })),
  },
  LINK: {
    args: fc.record({ file: fh, link: dirop }),
    res: res(merge(postOp('fileAttributes'), fc.record({ linkdirWcc: wcc })), merge(postOp('fileAttributes'), fc.record({ linkdirWcc: wcc }))),
  },
  READDIR: {
    args: fc.record({ dir: fh, cookie: u64, cookieverf: verf, count: u32 }),
    res: res(merge(postOp('dirAttributes'), fc.record({ cookieverf: verf, entries: fc.array(entry, { maxLength: 5 }), eof: fc.boolean() })), postOp('dirAttributes')),
  },
  READDIRPLUS: {
    args: fc.record({ dir: fh, cookie: u64, cookieverf: verf, dircount: u32, maxcount: u32 }),
    res: res(merge(postOp('dirAttributes'), fc.record({ cookieverf: verf, entries: fc.array(entryPlus, { maxLength: 5 }), eof: fc.boolean() })), postOp('dirAttributes')),
  },
  FSSTAT: {
    args: fc.record({ fsroot: fh }),
    res: res(
      merge(postOp('objAttributes'), fc.record({ tbytes: u64, fbytes: u64, abytes: u64, tfiles: u64, ffiles: u64, afiles: u64, invarsec: u32 })),
      postOp('objAttributes'),
    ),
  },
  FSINFO: {
    args: fc.record({ fsroot: fh }),
    res: res(
      merge(
        postOp('objAttributes'),
        fc.record({ rtmax: u32, rtpref: u32, rtmult: u32, wtmax: u32, wtpref: u32, wtmult: u32, dtpref: u32, maxfilesize: u64, timeDelta: time, properties: u32 }),
      ),
      postOp('objAttributes'),
    ),
  },
  PATHCONF: {
    args: fc.record({ object: fh }),
    res: res(
      merge(
        postOp('objAttributes'),
        fc.record({ linkmax: u32, nameMax: u32, noTrunc: fc.boolean(), chownRestricted: fc.boolean(), caseInsensitive: fc.boolean(), casePreserving: fc.boolean() }),
      ),
      postOp('objAttributes'),
    ),
  },
  COMMIT: { args: fc.record({ file: fh, offset: u64, count: u32 }), res: res(fc.record({ fileWcc: wcc, verf }), fc.record({ fileWcc: wcc })) },
};

const RUNS = 60;
const FUZZ_RUNS = 300;

for (const [name, codec] of Object.entries(NFS3_PROCEDURES) as Array<[keyof typeof NFS3_PROCEDURES, ProcedureCodec<any, any>]>) {
  const c = cases[name];
  test(`NFS3 ${name}: arguments and results round trip; hostile bytes give XdrError`, (t) => {
    t.is(codec.name, name);
    fc.assert(fc.property(c.args, (a) => roundTrip(t, codec.encodeArgs, codec.decodeArgs, a)), { numRuns: RUNS });
    fc.assert(fc.property(c.res, (r) => roundTrip(t, codec.encodeRes, codec.decodeRes, r)), { numRuns: RUNS });
    const argBytes = c.args.map((a) => encodeBytes(codec.encodeArgs, a));
    const resBytes = c.res.map((r) => encodeBytes(codec.encodeRes, r));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 400 }), mutated(argBytes), mutated(resBytes)), (b) => {
        decodeSafely(codec.decodeArgs, b);
        decodeSafely(codec.decodeRes, b);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });
}

test('all 22 NFSv3 procedures have codecs numbered 0..21', (t) => {
  t.deepEqual(
    Object.values(NFS3_PROCEDURES).map((c) => c.proc),
    Array.from({ length: 22 }, (_, i) => i),
  );
});

const path = fc.string({ maxLength: 60 });
const mountCases: Record<keyof typeof MOUNT_PROCEDURES, { args: fc.Arbitrary<any>; res: fc.Arbitrary<any> }> = {
  NULL: { args: fc.constant(undefined), res: fc.constant(undefined) },
  MNT: {
    args: fc.record({ dirpath: path }),
    res: fc.oneof(
      fc.record({ status: fc.constant(MountStatus.OK), fhandle: fh, authFlavors: fc.array(u32, { maxLength: 4 }) }),
      fc.record({ status: fc.constantFrom(MountStatus.PERM, MountStatus.NOENT, MountStatus.ACCES, MountStatus.SERVERFAULT) }),
    ),
  },
  DUMP: { args: fc.constant(undefined), res: fc.array(fc.record({ hostname: fc.string({ maxLength: 20 }), directory: path }), { maxLength: 5 }) },
  UMNT: { args: fc.record({ dirpath: path }), res: fc.constant(undefined) },
  UMNTALL: { args: fc.constant(undefined), res: fc.constant(undefined) },
  EXPORT: {
    args: fc.constant(undefined),
    res: fc.array(fc.record({ dir: path, groups: fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }) }), { maxLength: 5 }),
  },
};
const mapping = fc.record({ prog: u32, vers: u32, prot: u32, port: u32 });
const portmapCases: Record<keyof typeof PORTMAP_PROCEDURES, { args: fc.Arbitrary<any>; res: fc.Arbitrary<any> }> = {
  NULL: { args: fc.constant(undefined), res: fc.constant(undefined) },
  SET: { args: mapping, res: fc.boolean() },
  UNSET: { args: mapping, res: fc.boolean() },
  GETPORT: { args: mapping, res: u32 },
  DUMP: { args: fc.constant(undefined), res: fc.array(mapping, { maxLength: 6 }) },
};

for (const [family, table, cs] of [
  ['MOUNT', MOUNT_PROCEDURES, mountCases],
  ['PORTMAP', PORTMAP_PROCEDURES, portmapCases],
] as const) {
  for (const [name, codec] of Object.entries(table) as Array<[string, ProcedureCodec<any, any>]>) {
    const c = (cs as Record<string, { args: fc.Arbitrary<any>; res: fc.Arbitrary<any> }>)[name]!;
    test(`${family} ${name}: round trip and hostile bytes`, (t) => {
      fc.assert(fc.property(c.args, (a) => roundTrip(t, codec.encodeArgs, codec.decodeArgs, a)), { numRuns: RUNS });
      fc.assert(fc.property(c.res, (r) => roundTrip(t, codec.encodeRes, codec.decodeRes, r)), { numRuns: RUNS });
      const resBytes = c.res.map((r) => encodeBytes(codec.encodeRes, r));
      fc.assert(
        fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), mutated(resBytes)), (b) => {
          decodeSafely(codec.decodeArgs, b);
          decodeSafely(codec.decodeRes, b);
        }),
        { numRuns: FUZZ_RUNS },
      );
    });
  }
}

test('decoders refuse oversize handles and unknown enum values', (t) => {
  const big = encodeBytes((w, v: Uint8Array) => void w.opaque(v), new Uint8Array(65));
  const e1 = t.throws(() => NFS3_PROCEDURES.GETATTR.decodeArgs(new XdrReader(big)), { instanceOf: XdrError });
  t.is(e1!.code, 'TOO_LONG');
  const badStatus = encodeBytes((w, v: number) => void w.uint32(v), 12345);
  const e2 = t.throws(() => NFS3_PROCEDURES.GETATTR.decodeRes(new XdrReader(badStatus)), { instanceOf: XdrError });
  t.is(e2!.code, 'BAD_VALUE');
  const badStable = encodeBytes(
    (w, _v: number) => void w.opaque(Uint8Array.of(1)).uint64(0n).uint32(0).uint32(3).opaque(new Uint8Array()),
    0,
  );
  t.throws(() => NFS3_PROCEDURES.WRITE.decodeArgs(new XdrReader(badStable)), { instanceOf: XdrError });
});
