// Remembered shadow attributes (shadow-attrs.ts) under overlapping changes: two changing calls in
// flight at once, in either order of start and end, must leave nothing remembered that differs from
// the shadow. Unit (hand-finished sends), on the real in-process local export (pairs of changes
// started a few microtask ticks apart, every pair and offset), and through the proxy's own handlers
// (a RENAME over a file while a WRITE to it is on its way, as the proxy's RPC server would call them).
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectOk } from '../../../rowfs/nfs3/errors.js';
import type { Nfs3ArgsOf, Nfs3ProcedureName, Nfs3ResOf } from '../../../rowfs/nfs3/procedures.js';
import { CreateMode, Ftype3, Nfs3Status, StableHow, TimeHow, type Fattr3, type FileHandle } from '../../../rowfs/nfs3/types.js';
import type { ProxyCore } from '../../../rowfs/proxy/core.js';
import { ProxyHandlers } from '../../../rowfs/proxy/handlers.js';
import { openLocalShadow } from '../../../rowfs/proxy/local-shadow.js';
import { ShadowAttrs } from '../../../rowfs/proxy/shadow-attrs.js';
import { proxyOverEmbeddedMain } from './fixture.js';

const show = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x));
const attrs = (mode: number) => ({ type: Ftype3.REG, mode, nlink: 1, uid: 0, gid: 0, size: 0n, used: 0n, rdev: { specdata1: 0, specdata2: 0 }, fsid: 1n, fileid: 7n,
  atime: { seconds: 1, nseconds: 0 }, mtime: { seconds: 1, nseconds: 0 }, ctime: { seconds: 1, nseconds: 0 } }) as Fattr3;
const setattrRes = (mode: number) => ({ status: Nfs3Status.OK, objWcc: { after: attrs(mode) } }) as Nfs3ResOf<'SETATTR'>;

test('a change that started while another ran and ended first keeps nothing', async (t) => {
  const c = new ShadowAttrs({ scanEdges: () => 0 });
  const fh = new Uint8Array([1, 1, 1, 1]);
  let endA!: (r: Nfs3ResOf<'SETATTR'>) => void;
  let endB!: (r: Nfs3ResOf<'SETATTR'>) => void;
  const a = c.call('SETATTR', { object: fh, newAttributes: { mode: 0o700 } } as Nfs3ArgsOf<'SETATTR'>, () => new Promise((r) => (endA = r)));
  const b = c.call('SETATTR', { object: fh, newAttributes: { mode: 0o711 } } as Nfs3ArgsOf<'SETATTR'>, () => new Promise((r) => (endB = r)));
  // B read its post-op attributes (711), then A's chmod landed (700); B's answer arrives after A ended.
  endA(setattrRes(0o700));
  await a;
  endB(setattrRes(0o711));
  await b;
  t.is(c.get(fh), undefined, `kept mode ${c.get(fh)?.mode.toString(8)} though the file is 700`);
});

/** ShadowAttrs over a fresh in-process local shadow. */
async function localShadow(t: { teardown(f: () => Promise<void>): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'rowfs-sattr-'));
  const sh = await openLocalShadow(dir);
  t.teardown(async () => {
    await sh.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const known = new ShadowAttrs({ scanEdges: sh.scanEdges });
  const call = (name: Nfs3ProcedureName, args: unknown) =>
    known.call(name as never, args as never, () => sh.caller.call(name as never, args as never)) as Promise<Record<string, unknown> & { status: Nfs3Status }>;
  const ok = async (name: Nfs3ProcedureName, args: unknown) => {
    const r = await call(name, args);
    if (r.status !== Nfs3Status.OK) throw new Error(`${name} ${Nfs3Status[r.status]}`);
    return r;
  };
  /** What is remembered for `fh` that differs from the shadow's attributes now (undefined: nothing). */
  const stale = async (fh: FileHandle) => {
    const got = known.get(fh);
    if (!got) return undefined;
    const truth = (await sh.caller.call('GETATTR', { object: fh })) as { status: Nfs3Status; objAttributes?: Fattr3 };
    const want = truth.status === Nfs3Status.OK ? show(truth.objAttributes) : Nfs3Status[truth.status];
    return show(got) === want ? undefined : `remembered ${show(got)}, shadow ${want}`;
  };
  return { sh, known, call, ok, stale };
}

test('every pair of changes a few microtask ticks apart leaves the remembered attributes equal to the shadow', async (t) => {
  const { sh, call, ok, stale } = await localShadow(t);
  const ops = (f: FileHandle, d: FileHandle, round: number): Array<[string, Nfs3ProcedureName, unknown]> => [
    ['chmod', 'SETATTR', { object: f, newAttributes: { mode: 0o600 + (round % 0o100) } }],
    ['mtime', 'SETATTR', { object: f, newAttributes: { mtime: { how: TimeHow.SET_TO_CLIENT_TIME, time: { seconds: 1000 + round, nseconds: 0 } } } }],
    ['truncate', 'SETATTR', { object: f, newAttributes: { size: BigInt(round % 7) } }],
    ['write', 'WRITE', { file: f, offset: 8192n, count: 10, stable: StableHow.UNSTABLE, data: Buffer.alloc(10, 1) }],
    ['link', 'LINK', { file: f, link: { dir: d, name: `l${round}` } }],
    ['create', 'CREATE', { where: { dir: d, name: `c${round}` }, how: { mode: CreateMode.GUARDED, attributes: {} } }],
    ['unchecked over f', 'CREATE', { where: { dir: d, name: 'f' }, how: { mode: CreateMode.UNCHECKED, attributes: { size: 0n } } }],
    ['dir chmod', 'SETATTR', { object: d, newAttributes: { mode: 0o700 + (round % 0o70) } }],
    ['mkdir', 'MKDIR', { where: { dir: d, name: `m${round}` }, attributes: {} }],
    ['rename g over f', 'RENAME', { from: { dir: d, name: 'g' }, to: { dir: d, name: 'f' } }],
    ['remove g', 'REMOVE', { object: { dir: d, name: 'g' } }],
  ];
  const kinds = ops(new Uint8Array(), new Uint8Array(), 0).length;
  const problems: string[] = [];
  let round = 0;
  for (const ticks of [0, 1, 2, 3, 5, 8, 13, 21]) {
    for (let i = 0; i < kinds; i++) {
      for (let j = 0; j < kinds; j++) {
        round++;
        const d = (await ok('MKDIR', { where: { dir: sh.root, name: `d${round}` }, attributes: { mode: 0o755 } })).obj as FileHandle;
        const f = (await ok('CREATE', { where: { dir: d, name: 'f' }, how: { mode: CreateMode.GUARDED, attributes: { mode: 0o644 } } })).obj as FileHandle;
        await ok('CREATE', { where: { dir: d, name: 'g' }, how: { mode: CreateMode.GUARDED, attributes: { mode: 0o640 } } });
        await ok('WRITE', { file: f, offset: 0n, count: 100, stable: StableHow.UNSTABLE, data: Buffer.alloc(100, 2) });
        await call('GETATTR', { object: f });
        await call('GETATTR', { object: d });
        const list = ops(f, d, round);
        const [na, pa, aa] = list[i]!;
        const [nb, pb, ab] = list[j]!;
        const first = call(pa, aa);
        for (let x = 0; x < ticks; x++) await Promise.resolve();
        await Promise.all([first, call(pb, ab)]);
        for (const [what, fh] of [['file', f], ['directory', d]] as const) {
          const s = await stale(fh);
          if (s) problems.push(`${na} then (+${ticks} ticks) ${nb}: ${what} ${s}`);
        }
      }
    }
  }
  t.deepEqual(problems.slice(0, 5), [], `${problems.length} stale of ${round}`);
});

test('an UNCHECKED create over an existing file drops that file even when another change overlapped it', async (t) => {
  const { sh, call, ok, stale, known } = await localShadow(t);
  const f = (await ok('CREATE', { where: { dir: sh.root, name: 'f' }, how: { mode: CreateMode.GUARDED, attributes: {} } })).obj as FileHandle;
  const g = (await ok('CREATE', { where: { dir: sh.root, name: 'g' }, how: { mode: CreateMode.GUARDED, attributes: {} } })).obj as FileHandle;
  await ok('WRITE', { file: f, offset: 0n, count: 100, stable: StableHow.UNSTABLE, data: Buffer.alloc(100) });
  t.is(known.get(f)?.size, 100n);
  const overlapping = call('WRITE', { file: g, offset: 0n, count: 10, stable: StableHow.UNSTABLE, data: Buffer.alloc(10) });
  await ok('CREATE', { where: { dir: sh.root, name: 'f' }, how: { mode: CreateMode.UNCHECKED, attributes: { size: 0n } } });
  await overlapping;
  t.is(await stale(f), undefined);
});

/**
 * A proxy over an embedded main, and its handlers as its RPC server calls them: the program takes
 * each handler when the proxy starts, so the one that catches them is in place before and restored after.
 */
async function proxyWithHandlers(t: Parameters<typeof proxyOverEmbeddedMain>[0]) {
  let h: ProxyHandlers | undefined;
  const orig = ProxyHandlers.prototype.GETATTR;
  ProxyHandlers.prototype.GETATTR = function (this: ProxyHandlers, a) {
    h = this;
    return orig.call(this, a);
  };
  try {
    const p = await proxyOverEmbeddedMain(t, {});
    const ex = await p.open();
    t.teardown(() => ex.close());
    await ex.nfs.getattr({ object: ex.root });
    if (!h) throw new Error('the proxy served a GETATTR without its handlers');
    return { p, ex, handlers: h };
  } finally {
    ProxyHandlers.prototype.GETATTR = orig;
  }
}

test('through the proxy: a RENAME over a file while a WRITE to it is on its way leaves GETATTR equal to the shadow', async (t) => {
  const { p, ex, handlers: h } = await proxyWithHandlers(t);
  const core = (p.proxy as unknown as { core: ProxyCore }).core;
  const ctx = {} as never;
  const found: string[] = [];
  for (let k = -20; k <= 40; k++) {
    const d = expectOk(await ex.nfs.mkdir({ where: { dir: ex.root, name: `d${k + 100}` }, attributes: { mode: 0o755 } }), 'MKDIR').obj!;
    const mk = async (name: string) => expectOk(await ex.nfs.create({ where: { dir: d, name }, how: { mode: CreateMode.GUARDED, attributes: { mode: 0o644 } } }), 'CREATE').obj!;
    const f = await mk('f');
    await mk('g');
    expectOk(await ex.nfs.write({ file: f, offset: 0n, count: 10, stable: StableHow.UNSTABLE, data: Buffer.alloc(10, 1) }), 'WRITE');
    const rename = () => h.RENAME({ from: { dir: d, name: 'g' }, to: { dir: d, name: 'f' } }, ctx);
    const write = () => h.WRITE({ file: f, offset: 4096n, count: 10, stable: StableHow.UNSTABLE, data: Buffer.alloc(10, 2) }, ctx);
    const first = k >= 0 ? rename() : write();
    for (let i = 0; i < Math.abs(k); i++) await Promise.resolve();
    await Promise.all([first, k >= 0 ? write() : rename()]);
    const truth = await core.shadow.client.call('GETATTR', { object: core.nodeOf(f).shadow! });
    const seen = await ex.nfs.getattr({ object: f });
    const line = (r: { status: Nfs3Status; objAttributes?: Fattr3 }) =>
      r.status === Nfs3Status.OK ? `OK nlink ${r.objAttributes!.nlink} size ${r.objAttributes!.size}` : Nfs3Status[r.status];
    if (line(seen) !== line(truth)) found.push(`${k >= 0 ? 'RENAME' : 'WRITE'} first, +${Math.abs(k)} ticks: proxy ${line(seen)}, shadow ${line(truth)}`);
  }
  t.deepEqual(found, []);
  t.deepEqual(p.faults, []);
});
