// Hostile and random input at the proxy's NFS surface: random, truncated or mutated handles, odd
// names ('', '.', '..', '/', 300 bytes, NUL), absurd offsets and counts, for every kind of
// procedure. Every call must get an NFS status (never SERVERFAULT, never an internal fault), and
// the proxy keeps serving. Main and shadow are embedded servers (no ganesha needed here).
import anyTest, { type TestFn } from 'ava';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openExport, type OpenedExport } from '../../../rowfs/mount/open-export.js';
import { startEmbeddedServer, type EmbeddedServer } from '../../../rowfs/server/embedded-server.js';
import { RowfsProxy } from '../../../rowfs/proxy/proxy.js';
import { CreateMode, Nfs3Status, StableHow } from '../../../rowfs/nfs3/types.js';
import { expectOk } from '../../../rowfs/nfs3/errors.js';

const test = anyTest as TestFn<unknown>;
let dirs: string[] = [];
let main: EmbeddedServer | undefined;
let proxy: RowfsProxy | undefined;
let ex: OpenedExport | undefined;
const faults: string[] = [];

test.before(async () => {
  dirs = ['main', 'shadow', 'state'].map((n) => mkdtempSync(join(tmpdir(), `rowfs-hostile-${n}-`)));
  mkdirSync(join(dirs[0]!, 'd'));
  writeFileSync(join(dirs[0]!, 'd', 'f'), 'content of f');
  writeFileSync(join(dirs[0]!, 'g'), Buffer.alloc(200_000, 3));
  main = await startEmbeddedServer({ exportDir: dirs[0]!, readOnly: true, host: '127.0.0.1' });
  proxy = await RowfsProxy.start({
    main: { host: '127.0.0.1', exportPath: main.exportPath, nfsPort: main.nfsPort, mountPort: main.mountPort },
    shadow: { dir: dirs[1]! },
    stateDir: dirs[2]!,
    listenHost: '127.0.0.1',
    onFault: (what, err) => faults.push(`${what}: ${(err as Error)?.stack ?? String(err)}`),
  });
  ex = await openExport({ host: '127.0.0.1', exportPath: main.exportPath, nfsPort: proxy.nfsPort, mountPort: proxy.mountPort, timeoutMs: 20_000 });
});

test.after.always(async () => {
  await ex?.close().catch(() => undefined);
  await proxy?.stop();
  await main?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('random handles, names, offsets and counts get NFS statuses, never a fault', async (t) => {
  const e = ex!;
  const d = expectOk(await e.nfs.lookup({ what: { dir: e.root, name: 'd' } }), 'LOOKUP').object;
  const f = expectOk(await e.nfs.lookup({ what: { dir: d, name: 'f' } }), 'LOOKUP').object;
  const g = expectOk(await e.nfs.lookup({ what: { dir: e.root, name: 'g' } }), 'LOOKUP').object;
  const valid = [e.root, d, f, g];
  const handle = fc.oneof(
    fc.constantFrom(...valid),
    fc.uint8Array({ maxLength: 64 }),
    fc.tuple(fc.constantFrom(...valid), fc.nat(19), fc.integer({ min: 0, max: 255 })).map(([h, i, v]) => {
      const m = Uint8Array.from(h); // a copy: handles from the client are views of its reply buffers
      m[i] = v;
      return m;
    }),
    fc.constantFrom(...valid).map((h) => Uint8Array.from(h.subarray(0, 10))),
  );
  const name = fc.oneof(fc.constantFrom('', '.', '..', 'f', 'd', 'g', 'a/b', 'x\0y', 'n'.repeat(300), '.rowfs-orphans'), fc.string({ maxLength: 12 }));
  const offset = fc.oneof(fc.constantFrom(0n, 1n, 65535n, 65536n, 199_999n, 2n ** 53n, 2n ** 63n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));
  const count = fc.oneof(fc.constantFrom(0, 1, 65536, 1 << 20), fc.nat(1 << 21));
  const call = fc.oneof(
    fc.record({ p: fc.constant('GETATTR' as const), h: handle }),
    fc.record({ p: fc.constant('LOOKUP' as const), h: handle, n: name }),
    fc.record({ p: fc.constant('READ' as const), h: handle, o: offset, c: count }),
    fc.record({ p: fc.constant('WRITE' as const), h: handle, o: offset, c: fc.nat(5000) }),
    fc.record({ p: fc.constant('READDIRPLUS' as const), h: handle, o: offset, c: count }),
    fc.record({ p: fc.constant('CREATE' as const), h: handle, n: name }),
    fc.record({ p: fc.constant('MKDIR' as const), h: handle, n: name }),
    fc.record({ p: fc.constant('REMOVE' as const), h: handle, n: name }),
    fc.record({ p: fc.constant('RMDIR' as const), h: handle, n: name }),
    fc.record({ p: fc.constant('RENAME' as const), h: handle, n: name, h2: handle, n2: name }),
    fc.record({ p: fc.constant('LINK' as const), h: handle, h2: handle, n: name }),
    fc.record({ p: fc.constant('SETATTR' as const), h: handle, o: offset }),
    fc.record({ p: fc.constant('COMMIT' as const), h: handle }),
    fc.record({ p: fc.constant('READLINK' as const), h: handle }),
    fc.record({ p: fc.constant('ACCESS' as const), h: handle }),
  );
  const seen = new Set<string>();
  await fc.assert(
    fc.asyncProperty(call, async (c) => {
      let res: { status: Nfs3Status };
      switch (c.p) {
        case 'GETATTR': res = await e.nfs.getattr({ object: c.h }); break;
        case 'LOOKUP': res = await e.nfs.lookup({ what: { dir: c.h, name: c.n } }); break;
        case 'READ': res = await e.nfs.read({ file: c.h, offset: c.o, count: c.c }); break;
        case 'WRITE': res = await e.nfs.write({ file: c.h, offset: c.o % 2n ** 40n, count: c.c, stable: StableHow.UNSTABLE, data: Buffer.alloc(c.c, 1) }); break;
        case 'READDIRPLUS': res = await e.nfs.readdirplus({ dir: c.h, cookie: c.o, cookieverf: new Uint8Array(8), dircount: c.c, maxcount: c.c }); break;
        case 'CREATE': res = await e.nfs.create({ where: { dir: c.h, name: c.n }, how: { mode: CreateMode.UNCHECKED, attributes: {} } }); break;
        case 'MKDIR': res = await e.nfs.mkdir({ where: { dir: c.h, name: c.n }, attributes: {} }); break;
        case 'REMOVE': res = await e.nfs.remove({ object: { dir: c.h, name: c.n } }); break;
        case 'RMDIR': res = await e.nfs.rmdir({ object: { dir: c.h, name: c.n } }); break;
        case 'RENAME': res = await e.nfs.rename({ from: { dir: c.h, name: c.n }, to: { dir: c.h2, name: c.n2 } }); break;
        case 'LINK': res = await e.nfs.link({ file: c.h, link: { dir: c.h2, name: c.n } }); break;
        case 'SETATTR': res = await e.nfs.setattr({ object: c.h, newAttributes: { size: c.o % 2n ** 30n } }); break;
        case 'COMMIT': res = await e.nfs.commit({ file: c.h, offset: 0n, count: 0 }); break;
        case 'READLINK': res = await e.nfs.readlink({ symlink: c.h }); break;
        default: res = await e.nfs.access({ object: c.h, access: 0x3f }); break;
      }
      seen.add(`${c.p}:${Nfs3Status[res.status]}`);
      return res.status !== Nfs3Status.SERVERFAULT && Nfs3Status[res.status] !== undefined;
    }),
    { numRuns: 400, seed: 4242 },
  );
  t.deepEqual(faults, []);
  t.true([...seen].some((s) => s.endsWith(':BADHANDLE')), 'garbage handles were tried');
  t.true([...seen].some((s) => s.endsWith(':OK')), 'valid calls were tried');
  // Still serving normally.
  t.is(Buffer.from(expectOk(await e.nfs.read({ file: f, offset: 0n, count: 100 }), 'READ').data).toString().length > 0, true);
});
