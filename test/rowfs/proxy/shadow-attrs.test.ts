// GETATTRs of shadow objects answered from attributes the shadow returned (shadow-attrs.ts) must
// never be stale. End to end: a seeded random sequence of changes through the proxy (creates of
// every kind, writes, reads, SETATTR, links, removes, renames, listings) in a directory made through
// the proxy and in a copied-up main directory; after each one, every handle the client holds is
// asked through the proxy and the answer compared with the shadow's own attributes at that moment
// (a call that bypasses the remembered ones). Unit: a result that overlapped a change is not kept.
import test from 'ava';
import { seededRandom } from '../../../lib/random.js';
import { expectOk } from '../../../rowfs/nfs3/errors.js';
import { CreateMode, Ftype3, Nfs3Status, StableHow, TimeHow, type Fattr3, type FileHandle } from '../../../rowfs/nfs3/types.js';
import type { Nfs3ArgsOf, Nfs3ResOf } from '../../../rowfs/nfs3/procedures.js';
import type { ProxyCore } from '../../../rowfs/proxy/core.js';
import { virtualAttrs } from '../../../rowfs/proxy/attrs.js';
import { ShadowAttrs } from '../../../rowfs/proxy/shadow-attrs.js';
import { StatusError } from '../../../rowfs/proxy/errors.js';
import { createFile, lookup, proxyOverEmbeddedMain } from './fixture.js';

const NAMES = ['a', 'b', 'c', 'd'];

test('GETATTR through the proxy equals the shadow object at every step of random changes', async (t) => {
  const p = await proxyOverEmbeddedMain(t, { 'main-dir/m1': Buffer.from('one\n'), 'main-dir/m2': Buffer.from('two\n') });
  const ex = await p.open();
  t.teardown(() => ex.close());
  const core = (p.proxy as unknown as { core: ProxyCore }).core;
  /** The shadow's attributes now, asked past the remembered ones; a status name when it fails. */
  const truth = async (fh: FileHandle): Promise<Fattr3 | string> => {
    let n;
    try {
      n = core.nodeOf(fh);
    } catch (e) {
      return Nfs3Status[(e as StatusError).status]!;
    }
    if (!n.shadow) return virtualAttrs(await core.mainAttrs(n), n.vid);
    const res = await core.shadow.client.call('GETATTR', { object: n.shadow });
    return res.status === Nfs3Status.OK ? virtualAttrs(res.objAttributes, n.vid) : Nfs3Status[res.status]!;
  };
  const seen = async (fh: FileHandle): Promise<Fattr3 | string> => {
    const res = await ex.nfs.getattr({ object: fh });
    return res.status === Nfs3Status.OK ? res.objAttributes : Nfs3Status[res.status]!;
  };
  const ours = expectOk(await ex.nfs.mkdir({ where: { dir: ex.root, name: 'made' }, attributes: { mode: 0o755 } }), 'MKDIR').obj!;
  const copied = await lookup(ex, ex.root, 'main-dir');
  const dirs = [ours, copied];
  const held: FileHandle[] = [ex.root, ours, copied, await lookup(ex, copied, 'm1'), await lookup(ex, copied, 'm2')];
  const rnd = seededRandom(15);
  const pick = <T>(xs: T[]): T => xs[rnd.int(xs.length)]!;
  const hold = (fh: FileHandle | undefined) => {
    if (fh && !held.some((h) => Buffer.from(h).equals(Buffer.from(fh)))) held.push(fh);
  };
  const made = (r: { status: Nfs3Status; obj?: FileHandle }) => (r.status === Nfs3Status.OK ? r.obj : undefined);
  const show = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x));
  const found = async (dir: FileHandle, name: string) => {
    const r = await ex.nfs.lookup({ what: { dir, name } });
    return r.status === Nfs3Status.OK ? r.object : undefined;
  };
  const ops: Array<[string, () => Promise<unknown>]> = [
    ['create', async () => {
      const mode = pick([CreateMode.GUARDED, CreateMode.UNCHECKED, CreateMode.EXCLUSIVE]);
      const how = mode === CreateMode.EXCLUSIVE ? { mode, verf: rnd.bytes(8) } : { mode, attributes: { mode: 0o600 + rnd.int(0o100) } };
      const r = await ex.nfs.create({ where: { dir: pick(dirs), name: pick(NAMES) }, how } as never);
      if (r.status === Nfs3Status.OK) hold(r.obj);
    }],
    ['mkdir', async () => hold(made((await ex.nfs.mkdir({ where: { dir: pick(dirs), name: pick(NAMES) }, attributes: { mode: 0o755 } }))))],
    ['symlink', async () => hold(made((await ex.nfs.symlink({ where: { dir: pick(dirs), name: pick(NAMES) }, symlinkAttributes: {}, symlinkData: 'target' }))))],
    ['write', async () => {
      const fh = await found(pick(dirs), pick([...NAMES, 'm1', 'm2']));
      if (fh) await ex.nfs.write({ file: fh, offset: BigInt(rnd.int(9000)), count: 100, stable: pick([StableHow.UNSTABLE, StableHow.FILE_SYNC]), data: rnd.bytes(100) });
    }],
    ['read', async () => {
      const fh = await found(pick(dirs), pick([...NAMES, 'm1', 'm2']));
      if (fh) await ex.nfs.read({ file: fh, offset: 0n, count: 4096 });
    }],
    ['setattr', async () => {
      const fh = pick(held);
      const what = rnd.int(4);
      const sa = what === 0 ? { mode: 0o600 + rnd.int(0o177) } : what === 1 ? { size: BigInt(rnd.int(5000)) } : what === 2
        ? { mtime: { how: TimeHow.SET_TO_CLIENT_TIME, time: { seconds: 1_000_000 + rnd.int(1000), nseconds: rnd.int(1e9) } } }
        : { atime: { how: TimeHow.SET_TO_SERVER_TIME } };
      await ex.nfs.setattr({ object: fh, newAttributes: sa as never });
    }],
    ['link', async () => {
      const fh = pick(held);
      await ex.nfs.link({ file: fh, link: { dir: pick(dirs), name: pick(NAMES) } });
    }],
    ['remove', async () => ex.nfs.remove({ object: { dir: pick(dirs), name: pick([...NAMES, 'm1', 'm2']) } })],
    ['rmdir', async () => ex.nfs.rmdir({ object: { dir: pick(dirs), name: pick(NAMES) } })],
    ['rename', async () => ex.nfs.rename({ from: { dir: pick(dirs), name: pick([...NAMES, 'm1']) }, to: { dir: pick(dirs), name: pick(NAMES) } })],
    ['list', async () => ex.nfs.readdirplus({ dir: pick(dirs), cookie: 0n, cookieverf: new Uint8Array(8), dircount: 8192, maxcount: 32768 })],
    ['lookup', async () => hold(await found(pick(dirs), pick([...NAMES, 'm1', 'm2'])))],
  ];
  const done: string[] = [];
  for (let step = 0; step < 250; step++) {
    // One step in three runs two changes at once (their calls overlap in the proxy and the shadow).
    const batch = Array.from({ length: rnd.int(3) === 0 ? 2 : 1 }, () => pick(ops));
    await Promise.all(batch.map(([, op]) => op()));
    done.push(batch.map(([name]) => name).join(' + '));
    // Asked twice: the first answer may be remembered from the change, the second from the first.
    for (const fh of held) {
      for (let i = 0; i < 2; i++) {
        const want = await truth(fh);
        const got = await seen(fh);
        if (show(got) !== show(want)) {
          t.fail(`stale after ${done.slice(-5).join(', ')} (step ${step}): proxy ${show(got)}, shadow ${show(want)}`);
          return;
        }
      }
    }
  }
  const known = p.proxy.counters.snapshot().knownShadowAttrs ?? 0;
  t.true(known > 500, `GETATTRs answered without the shadow: ${known}`);
  t.true(done.filter((d) => d.includes('remove')).length > 10, 'the sequence removed names');
  t.deepEqual(p.faults, []);
});

test('the kernel client\'s create sequence asks the shadow for no attributes it already returned', async (t) => {
  const p = await proxyOverEmbeddedMain(t, {});
  const ex = await p.open();
  t.teardown(() => ex.close());
  const d = expectOk(await ex.nfs.mkdir({ where: { dir: ex.root, name: 'meta' }, attributes: { mode: 0o755 } }), 'MKDIR').obj!;
  const shadowGetattrs = () => p.proxy.counters.snapshot().shadow.GETATTR ?? 0;
  const before = shadowGetattrs();
  for (let i = 0; i < 20; i++) {
    // open(O_CREAT|O_EXCL): LOOKUP (absent), CREATE EXCLUSIVE, SETATTR of the mode; then stat: LOOKUP.
    const name = `f${i}`;
    t.is((await ex.nfs.lookup({ what: { dir: d, name } })).status, Nfs3Status.NOENT);
    const fh = await createFile(ex, d, name, CreateMode.EXCLUSIVE);
    expectOk(await ex.nfs.setattr({ object: fh, newAttributes: { mode: 0o644 } }), 'SETATTR');
    const l = expectOk(await ex.nfs.lookup({ what: { dir: d, name } }), 'LOOKUP');
    t.is(l.objAttributes!.mode & 0o777, 0o644);
    t.is(l.objAttributes!.type, Ftype3.REG);
  }
  t.is(shadowGetattrs(), before, 'no shadow GETATTR for the LOOKUPs');
});

/** A send the test finishes by hand, to interleave calls. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const fh = (b: number) => new Uint8Array([b, b, b, b]);
const attrs = (mode: number) => ({ type: Ftype3.REG, mode, nlink: 1, uid: 0, gid: 0, size: 0n, used: 0n, rdev: { specdata1: 0, specdata2: 0 }, fsid: 1n, fileid: 7n,
  atime: { seconds: 1, nseconds: 0 }, mtime: { seconds: 1, nseconds: 0 }, ctime: { seconds: 1, nseconds: 0 } }) as Fattr3;
const getattrRes = (mode: number) => ({ status: Nfs3Status.OK, objAttributes: attrs(mode) }) as Nfs3ResOf<'GETATTR'>;
const setattrRes = (mode: number) => ({ status: Nfs3Status.OK, objWcc: { after: attrs(mode) } }) as Nfs3ResOf<'SETATTR'>;

test('a GETATTR answer that overlapped a change is not kept, nor a change\'s that overlapped another', async (t) => {
  let scanEdges = 0;
  const c = new ShadowAttrs({ scanEdges: () => scanEdges });
  const getattr = { object: fh(1) } as Nfs3ArgsOf<'GETATTR'>;
  // A GETATTR on its way while a SETATTR starts and ends: its (older) answer is not kept.
  const g = deferred<Nfs3ResOf<'GETATTR'>>();
  const pending = c.call('GETATTR', getattr, () => g.promise);
  await c.call('SETATTR', { object: fh(1), newAttributes: { mode: 0o600 } } as Nfs3ArgsOf<'SETATTR'>, async () => setattrRes(0o600));
  g.resolve(getattrRes(0o644));
  t.is((await pending).status, Nfs3Status.OK);
  let sent = 0;
  const fresh = async () => (sent++, getattrRes(0o600));
  t.is(((await c.call('GETATTR', getattr, fresh)) as { objAttributes: Fattr3 }).objAttributes.mode, 0o600);
  t.is(sent, 0, 'the SETATTR\'s own post-op attributes answered');
  // Two SETATTRs overlapping: neither keeps its post-op attributes.
  const s1 = deferred<Nfs3ResOf<'SETATTR'>>();
  const first = c.call('SETATTR', { object: fh(1), newAttributes: { mode: 0o700 } } as Nfs3ArgsOf<'SETATTR'>, () => s1.promise);
  await c.call('SETATTR', { object: fh(1), newAttributes: { mode: 0o711 } } as Nfs3ArgsOf<'SETATTR'>, async () => setattrRes(0o711));
  s1.resolve(setattrRes(0o700));
  await first;
  await c.call('GETATTR', getattr, fresh);
  t.is(sent, 1, 'asked the shadow after overlapping changes');
  // A REMOVE of a name whose object is known (here from a LOOKUP) drops that object and its directory only.
  const lookupRes = { status: Nfs3Status.OK, object: fh(4), objAttributes: attrs(0o604), dirAttributes: attrs(0o755) } as Nfs3ResOf<'LOOKUP'>;
  await c.call('LOOKUP', { what: { dir: fh(3), name: 'y' } } as Nfs3ArgsOf<'LOOKUP'>, async () => lookupRes);
  await c.call('REMOVE', { object: { dir: fh(3), name: 'y' } } as Nfs3ArgsOf<'REMOVE'>, async () => ({ status: Nfs3Status.OK, dirWcc: {} }) as Nfs3ResOf<'REMOVE'>);
  t.is(((await c.call('GETATTR', getattr, fresh)) as { objAttributes: Fattr3 }).objAttributes.mode, 0o600, 'another object still known');
  t.is(sent, 1);
  await c.call('GETATTR', { object: fh(4) } as Nfs3ArgsOf<'GETATTR'>, fresh);
  await c.call('GETATTR', { object: fh(3) } as Nfs3ArgsOf<'GETATTR'>, fresh);
  t.is(sent, 3, 'the removed object and its directory asked again');
  sent = 1;
  // A REMOVE of a name whose object is not known forgets every object.
  await c.call('GETATTR', { object: fh(2) } as Nfs3ArgsOf<'GETATTR'>, fresh);
  await c.call('REMOVE', { object: { dir: fh(3), name: 'x' } } as Nfs3ArgsOf<'REMOVE'>, async () => ({ status: Nfs3Status.OK, dirWcc: {} }) as Nfs3ResOf<'REMOVE'>);
  await c.call('GETATTR', { object: fh(2) } as Nfs3ArgsOf<'GETATTR'>, fresh);
  t.is(sent, 3);
  // A READ drops its file (atime), and a failed GETATTR is not kept.
  await c.call('READ', { file: fh(2), offset: 0n, count: 1 } as Nfs3ArgsOf<'READ'>, async () => ({ status: Nfs3Status.OK, fileAttributes: attrs(1), count: 0, eof: true, data: new Uint8Array() }) as Nfs3ResOf<'READ'>);
  await c.call('GETATTR', { object: fh(2) } as Nfs3ArgsOf<'GETATTR'>, async () => (sent++, { status: Nfs3Status.STALE }) as Nfs3ResOf<'GETATTR'>);
  await c.call('GETATTR', { object: fh(2) } as Nfs3ArgsOf<'GETATTR'>, fresh);
  t.is(sent, 5);
  // A scan of the shadow's directories (their atimes) forgets everything, and spoils a call it overlapped.
  await c.call('GETATTR', { object: fh(2) } as Nfs3ArgsOf<'GETATTR'>, fresh);
  t.is(sent, 5);
  scanEdges++;
  await c.call('GETATTR', { object: fh(2) } as Nfs3ArgsOf<'GETATTR'>, async () => (scanEdges++, sent++, getattrRes(1)));
  await c.call('GETATTR', { object: fh(2) } as Nfs3ArgsOf<'GETATTR'>, fresh);
  t.is(sent, 7);
});
