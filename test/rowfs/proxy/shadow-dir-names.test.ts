// A directory made through the proxy holds in its shadow directory only names the proxy recorded,
// so LOOKUPs of other names in it are answered NOENT without a shadow LOOKUP (the kernel client
// looks up every name before creating it). Checked over the proxy's own changes in such a
// directory (create, remove, rename within, in and out, link, subdirectories): every name's LOOKUP
// and the listing agree with what was done; a directory the proxy did not make still asks the shadow.
import test from 'ava';
import { CreateMode } from '../../../rowfs/nfs3/types.js';
import type { OpenedExport } from '../../../rowfs/mount/open-export.js';
import type { RowfsProxy } from '../../../rowfs/proxy/proxy.js';
import { expectOk } from '../../../rowfs/nfs3/errors.js';
import { createFile, listNames, lookup, proxyOverEmbeddedMain, status } from './fixture.js';
import { Nfs3Status } from '../../../rowfs/nfs3/types.js';
import { RpcTransportError } from '../../../rowfs/rpc/errors.js';
import type { Nfs3Caller } from '../../../rowfs/proxy/backend.js';
import type { ProxyCore } from '../../../rowfs/proxy/core.js';

const shadowLookups = (proxy: RowfsProxy) => proxy.counters.snapshot().shadow.LOOKUP ?? 0;

async function mkdir(ex: OpenedExport, dir: Uint8Array, name: string): Promise<Uint8Array> {
  return expectOk(await ex.nfs.mkdir({ where: { dir, name }, attributes: { mode: 0o755 } }), `MKDIR ${name}`).obj!;
}

test('LOOKUPs in a directory made through the proxy ask the shadow nothing, and stay right through its changes', async (t) => {
  const { proxy, ex, faults } = await (async () => {
    const p = await proxyOverEmbeddedMain(t, { 'main-dir/m': Buffer.from('m\n') });
    const ex = await p.open();
    t.teardown(() => ex.close());
    return { ...p, ex };
  })();
  const d = await mkdir(ex, ex.root, 'made');
  const other = await mkdir(ex, ex.root, 'other');
  const before = shadowLookups(proxy);
  t.is(await status(ex.nfs.lookup({ what: { dir: d, name: 'absent' } })), 'NOENT');
  for (let i = 0; i < 5; i++) {
    t.is(await status(ex.nfs.lookup({ what: { dir: d, name: `f${i}` } })), 'NOENT');
    await createFile(ex, d, `f${i}`, i % 2 ? CreateMode.EXCLUSIVE : CreateMode.GUARDED);
    await lookup(ex, d, `f${i}`);
  }
  const sub = await mkdir(ex, d, 'sub');
  t.is(await status(ex.nfs.lookup({ what: { dir: sub, name: 'x' } })), 'NOENT');
  await createFile(ex, sub, 'x');
  t.is(await status(ex.nfs.rename({ from: { dir: d, name: 'f0' }, to: { dir: d, name: 'g0' } })), 'OK');
  t.is(await status(ex.nfs.rename({ from: { dir: d, name: 'f1' }, to: { dir: other, name: 'f1' } })), 'OK');
  await createFile(ex, other, 'in');
  t.is(await status(ex.nfs.rename({ from: { dir: other, name: 'in' }, to: { dir: d, name: 'in' } })), 'OK');
  t.is(await status(ex.nfs.link({ file: await lookup(ex, d, 'f2'), link: { dir: d, name: 'f2-link' } })), 'OK');
  t.is(await status(ex.nfs.remove({ object: { dir: d, name: 'f3' } })), 'OK');
  t.is(shadowLookups(proxy), before, 'no LOOKUP reached the shadow');

  const expected = { absent: 'NOENT', f0: 'NOENT', g0: 'OK', f1: 'NOENT', in: 'OK', f2: 'OK', 'f2-link': 'OK', f3: 'NOENT', f4: 'OK', sub: 'OK' };
  const seen = async (e: OpenedExport, dir: Uint8Array) =>
    Object.fromEntries(await Promise.all(Object.keys(expected).map(async (n) => [n, await status(e.nfs.lookup({ what: { dir, name: n } }))])));
  t.deepEqual(await seen(ex, d), expected);
  t.deepEqual(await listNames(ex, d), ['f2', 'f2-link', 'f4', 'g0', 'in', 'sub']);
  t.is(await status(ex.nfs.lookup({ what: { dir: sub, name: 'x' } })), 'OK');
  // A directory the proxy did not make (the root, a copy-up of a main directory) still asks.
  const mainDir = await lookup(ex, ex.root, 'main-dir');
  await createFile(ex, mainDir, 'new');
  const asked = shadowLookups(proxy);
  t.is(await status(ex.nfs.lookup({ what: { dir: ex.root, name: 'nothing-here' } })), 'NOENT');
  t.is(await status(ex.nfs.lookup({ what: { dir: mainDir, name: 'nothing-here' } })), 'NOENT');
  t.is(shadowLookups(proxy), asked + 2);
  t.deepEqual(faults, []);
});

test('a shadow change that is applied but then fails (timeout, or the EXIST of a retransmission) leaves its name found', async (t) => {
  const p = await proxyOverEmbeddedMain(t, {});
  const ex = await p.open();
  t.teardown(() => ex.close());
  // Fault injection: the next shadow call of `proc` is applied, then throws or answers EXIST.
  const shadow = (p.proxy as unknown as { core: ProxyCore }).core.shadow;
  const inner = shadow.client;
  let fault: { proc: string; answer: 'timeout' | 'EXIST' } | undefined;
  let injected = 0;
  (shadow as unknown as { client: Nfs3Caller }).client = {
    async call(name, args, opts) {
      const res = await inner.call(name, args, opts);
      if (fault?.proc !== name) return res;
      const { answer } = fault;
      fault = undefined;
      injected++;
      if (answer === 'timeout') throw new RpcTransportError('TIMEOUT', `${name} applied, reply lost`);
      return { status: Nfs3Status.EXIST, dirWcc: {}, fromdirWcc: {}, todirWcc: {}, linkdirWcc: {} } as never;
    },
  };
  const cases: Array<[string, 'timeout' | 'EXIST', string, (d: Uint8Array, src: Uint8Array) => Promise<{ status: Nfs3Status }>]> = [
    ['CREATE', 'timeout', 'JUKEBOX', (d) => ex.nfs.create({ where: { dir: d, name: 'x' }, how: { mode: CreateMode.GUARDED, attributes: { mode: 0o644 } } })],
    ['MKDIR', 'EXIST', 'EXIST', (d) => ex.nfs.mkdir({ where: { dir: d, name: 'x' }, attributes: { mode: 0o755 } })],
    ['RENAME', 'timeout', 'JUKEBOX', async (d, src) => ex.nfs.rename({ from: { dir: src, name: 'f' }, to: { dir: d, name: 'x' } })],
    ['LINK', 'timeout', 'JUKEBOX', async (d, src) => ex.nfs.link({ file: await lookup(ex, src, 'f'), link: { dir: d, name: 'x' } })],
  ];
  for (const [i, [proc, answer, seen, change]] of cases.entries()) {
    const d = await mkdir(ex, ex.root, `into-${proc}`);
    const src = await mkdir(ex, ex.root, `from-${proc}`);
    await createFile(ex, src, 'f');
    t.is(await status(ex.nfs.lookup({ what: { dir: d, name: 'x' } })), 'NOENT');
    fault = { proc, answer };
    t.is(await status(change(d, src)), seen, `${proc} fails`);
    t.is(injected, i + 1, `${proc} reached the shadow`);
    t.is(await status(ex.nfs.lookup({ what: { dir: d, name: 'x' } })), 'OK', `${proc}: the name the shadow holds is found`);
    t.true((await listNames(ex, d)).includes('x'));
  }
  t.deepEqual(p.faults, []);
});
