// The FSINFO reply (rowfs/nfs3/fsinfo.ts) and the READDIR page sizes (rowfs/nfs3/readdir-sizes.ts)
// are one copy for the embedded server and the proxy: both advertise the same limits, and both
// fill a READDIR page of the same count with the same number of entries, which never encode to
// more than that count.
import test from 'ava';
import { expectOk } from '../../../rowfs/nfs3/errors.js';
import { openExport, type OpenedExport } from '../../../rowfs/mount/open-export.js';
import { NFS3_PROCEDURES } from '../../../rowfs/nfs3/procedures.js';
import { DIR_PREFERRED_BYTES, MAX_IO_BYTES_TCP } from '../../../rowfs/nfs3/fsinfo.js';
import { entryBytes, READDIR_FIXED_BYTES } from '../../../rowfs/nfs3/readdir-sizes.js';
import { XdrWriter } from '../../../rowfs/xdr/writer.js';
import { lookup, proxyOverEmbeddedMain } from '../proxy/fixture.js';

const NAMES = Array.from({ length: 200 }, (_, i) => `entry-${'x'.repeat(i % 13)}-${i}`);

test('entryBytes is what an entry adds to an encoded READDIR reply', (t) => {
  const empty = { status: 0, dirAttributes: undefined, cookieverf: new Uint8Array(8), entries: [], eof: true };
  const size = (entries: Array<{ fileid: bigint; name: string; cookie: bigint }>) => {
    const w = new XdrWriter(64, 0);
    NFS3_PROCEDURES.READDIR.encodeRes(w, { ...empty, entries } as never);
    return w.bytes().length;
  };
  const base = size([]);
  t.true(base <= READDIR_FIXED_BYTES);
  for (const name of ['a', 'abcd', 'abcde', 'x'.repeat(255)]) t.is(size([{ fileid: 1n, name, cookie: 2n }]) - base, entryBytes(name), name);
});

test('the embedded server and the proxy advertise the same FSINFO and fill READDIR pages alike', async (t) => {
  const files = Object.fromEntries(NAMES.map((n) => [`d/${n}`, Buffer.from('.')]));
  const { main, proxy } = await proxyOverEmbeddedMain(t, files);
  const opened: OpenedExport[] = [];
  t.teardown(() => Promise.all(opened.map((e) => e.close())));
  for (const port of [{ nfsPort: main.nfsPort, mountPort: main.mountPort }, { nfsPort: proxy.nfsPort, mountPort: proxy.mountPort }]) {
    opened.push(await openExport({ host: '127.0.0.1', exportPath: main.exportPath, ...port, timeoutMs: 20_000 }));
  }
  const [direct, viaProxy] = opened as [OpenedExport, OpenedExport];
  const info = async (ex: OpenedExport) => {
    const { objAttributes: _attrs, ...rest } = expectOk(await ex.nfs.fsinfo({ fsroot: ex.root }), 'FSINFO');
    return rest;
  };
  const d = await info(direct);
  t.deepEqual(await info(viaProxy), d);
  t.is(d.rtmax, MAX_IO_BYTES_TCP);
  t.is(d.dtpref, DIR_PREFERRED_BYTES);
  // One READDIR page of 1 KiB from each: the same number of entries, within the count.
  const COUNT = 1024;
  const page = async (ex: OpenedExport) => {
    const dir = await lookup(ex, ex.root, 'd');
    const res = expectOk(await ex.nfs.readdir({ dir, cookie: 0n, cookieverf: new Uint8Array(8), count: COUNT }), 'READDIR');
    const w = new XdrWriter(COUNT, 0);
    NFS3_PROCEDURES.READDIR.encodeRes(w, res);
    t.true(w.bytes().length <= COUNT, `${w.bytes().length} bytes in a page of ${COUNT}`);
    return res.entries.length;
  };
  const n = await page(direct);
  t.true(n > 5 && n < NAMES.length, `${n} entries`);
  t.is(await page(viaProxy), n);
});
