// Hostile client: byte ranges past the largest file (issue 11, item 8). WRITE, READ and COMMIT at
// offsets up to 2^64 - 1 (where offset + count overflows 64 bits), and SETATTR/CREATE sizes as
// large, must answer FBIG or INVAL: never SERVERFAULT, never an internal fault with a stack
// trace. Targets: the proxy (a file still only in main, and one in the shadow) and the embedded
// server directly; both keep serving afterwards.
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openExport, type OpenedExport } from '../../rowfs/mount/open-export.js';
import { expectOk } from '../../rowfs/nfs3/errors.js';
import { MAX_FILE_BYTES } from '../../rowfs/nfs3/ranges.js';
import { CreateMode, Nfs3Status, StableHow, type FileHandle } from '../../rowfs/nfs3/types.js';
import { startEmbeddedServer } from '../../rowfs/server/embedded-server.js';
import { proxyOverEmbeddedMain } from '../rowfs/proxy/fixture.js';

const test = anyTest as TestFn<unknown>;
const MAX = BigInt(MAX_FILE_BYTES);
const U64_MAX = 2n ** 64n - 1n;

/** [offset, count] pairs whose range ends past the largest file. */
const PAST_MAX: Array<[bigint, number]> = [
  [U64_MAX, 1],
  [U64_MAX, 0],
  [U64_MAX - 1n, 4096],
  [2n ** 63n, 1],
  [2n ** 62n, 1],
  [MAX + 1n, 0],
  [MAX - 10n, 100],
  [2n ** 64n - 4096n, 65536],
];
const name = (s: Nfs3Status) => Nfs3Status[s];

function dirs(t: ExecutionContext, n: number): string[] {
  const out = Array.from({ length: n }, () => mkdtempSync(join(tmpdir(), 'rowfs-offsets-')));
  t.teardown(() => {
    for (const d of out) rmSync(d, { recursive: true, force: true });
  });
  return out;
}

async function hammer(t: ExecutionContext, ex: OpenedExport, files: Array<[string, FileHandle]>, label: string): Promise<void> {
  const data = Buffer.alloc(4096, 0x5a);
  for (const [which, fh] of files) {
    for (const [offset, count] of PAST_MAX) {
      const what = `${label} ${which} offset ${offset} count ${count}`;
      const w = await ex.nfs.write({ file: fh, offset, count: Math.min(count, data.length), stable: StableHow.FILE_SYNC, data: data.subarray(0, Math.min(count, data.length)) });
      if (count > 0) t.is(name(w.status), 'FBIG', `WRITE ${what}`);
      else t.true([Nfs3Status.FBIG, Nfs3Status.INVAL, Nfs3Status.OK].includes(w.status), `WRITE ${what}: ${name(w.status)}`);
      const r = await ex.nfs.read({ file: fh, offset, count: count || 1 });
      t.true([Nfs3Status.INVAL, Nfs3Status.FBIG].includes(r.status), `READ ${what}: ${name(r.status)}`);
      const c = await ex.nfs.commit({ file: fh, offset, count });
      t.true([Nfs3Status.INVAL, Nfs3Status.FBIG].includes(c.status), `COMMIT ${what}: ${name(c.status)}`);
    }
    for (const size of [U64_MAX, 2n ** 63n, MAX + 1n]) {
      const s = await ex.nfs.setattr({ object: fh, newAttributes: { size } });
      t.true([Nfs3Status.FBIG, Nfs3Status.INVAL].includes(s.status), `${label} SETATTR ${which} size ${size}: ${name(s.status)}`);
    }
    // The file is unchanged and still served.
    const attrs = expectOk(await ex.nfs.getattr({ object: fh }), 'GETATTR').objAttributes;
    t.is(attrs.size, 6n, `${label} ${which} size unchanged`);
    const back = expectOk(await ex.nfs.read({ file: fh, offset: 0n, count: 100 }), 'READ');
    t.is(Buffer.from(back.data).toString(), 'hello\n', `${label} ${which} content`);
  }
  const c = await ex.nfs.create({ where: { dir: ex.root, name: 'huge' }, how: { mode: CreateMode.UNCHECKED, attributes: { size: U64_MAX } } });
  t.not(c.status, Nfs3Status.SERVERFAULT, `${label} CREATE size 2^64-1`);
  t.not(c.status, Nfs3Status.OK, `${label} CREATE size 2^64-1`);
  const fsinfo = expectOk(await ex.nfs.fsinfo({ fsroot: ex.root }), 'FSINFO');
  t.is(fsinfo.maxfilesize, MAX, `${label} FSINFO maxfilesize`);
}

test('proxy: ranges past the largest file answer FBIG/INVAL, never a fault', async (t) => {
  const { faults, open } = await proxyOverEmbeddedMain(t, { 'in-main': Buffer.from('hello\n') });
  const ex = await open();
  t.teardown(() => ex.close().catch(() => undefined));
  const inMain = expectOk(await ex.nfs.lookup({ what: { dir: ex.root, name: 'in-main' } }), 'LOOKUP').object;
  const created = expectOk(await ex.nfs.create({ where: { dir: ex.root, name: 'in-shadow' }, how: { mode: CreateMode.GUARDED, attributes: { mode: 0o644 } } }), 'CREATE').obj!;
  expectOk(await ex.nfs.write({ file: created, offset: 0n, count: 6, stable: StableHow.FILE_SYNC, data: Buffer.from('hello\n') }), 'WRITE');
  await hammer(t, ex, [['main file', inMain], ['shadow file', created]], 'proxy');
  t.deepEqual(faults, []);
});

test('embedded server: ranges past the largest file answer FBIG/INVAL, never a fault', async (t) => {
  const [dir] = dirs(t, 1);
  writeFileSync(join(dir!, 'f'), 'hello\n');
  const faults: string[] = [];
  const srv = await startEmbeddedServer({ exportDir: dir!, host: '127.0.0.1', rpc: { onError: (err) => faults.push(String(err)) } });
  t.teardown(() => srv.stop());
  const ex = await openExport({ host: '127.0.0.1', exportPath: srv.exportPath, nfsPort: srv.nfsPort, mountPort: srv.mountPort, timeoutMs: 20_000 });
  t.teardown(() => ex.close().catch(() => undefined));
  const f = expectOk(await ex.nfs.lookup({ what: { dir: ex.root, name: 'f' } }), 'LOOKUP').object;
  await hammer(t, ex, [['file', f]], 'embedded');
  t.deepEqual(faults, []);
});
