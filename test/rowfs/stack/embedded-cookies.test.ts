// Directory cookies of the embedded server (issue 15, part 1), over NFS RPC on loopback: a listing
// resumed after changes (through the server or behind its back, on the local directory) returns
// every entry that existed throughout exactly once, and a cookie never names another entry.
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Nfs3Client } from '../../../rowfs/nfs3/client.js';
import { expectOk } from '../../../rowfs/nfs3/errors.js';
import { startEmbeddedServer } from '../../../rowfs/server/index.js';
import { checkPagingAgainstModel, initialNames, listAllNames, removeWhileListing } from './paged-listing.js';

const test = anyTest as TestFn<unknown>;

async function serve(t: ExecutionContext) {
  const root = mkdtempSync(join(tmpdir(), 'emb-cookies-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const s = await startEmbeddedServer({ exportDir: root, host: '127.0.0.1' });
  t.teardown(() => s.stop());
  const nfs = Nfs3Client.connect({ host: '127.0.0.1', port: s.nfsPort });
  t.teardown(() => nfs.close());
  return { root, nfs, rootFh: s.rootHandle };
}

test('entries removed behind the server between pages skip nothing (READDIR and READDIRPLUS)', async (t) => {
  const { root, nfs, rootFh } = await serve(t);
  const names = Array.from({ length: 20 }, (_, i) => `f${String(i).padStart(3, '0')}`);
  for (const plus of [false, true]) {
    const d = join(root, `d${plus}`);
    mkdirSync(d);
    for (const n of names) writeFileSync(join(d, n), '');
    const dir = expectOk(await nfs.lookup({ what: { dir: rootFh, name: `d${plus}` } }), 'LOOKUP').object;
    const seen = await removeWhileListing(nfs, dir, plus, async (n) => unlinkSync(join(d, n)));
    t.deepEqual(seen.sort(), names, `plus=${plus}`);
    t.deepEqual(await listAllNames(nfs, dir, plus), []);
  }
});

test('paged listings under random changes through the server match the model', async (t) => {
  const { root, nfs, rootFh } = await serve(t);
  let next = 0;
  const freshDir = async () => {
    const name = `run${next++}`;
    const names = initialNames(12);
    mkdirSync(join(root, name));
    for (const n of names) writeFileSync(join(root, name, n), n);
    return { dir: expectOk(await nfs.lookup({ what: { dir: rootFh, name } }), 'LOOKUP').object, names };
  };
  await checkPagingAgainstModel(nfs, freshDir, { runs: 40, dots: false });
  t.pass();
});

test('a file created in the same clock tick as the last listing is in the next one', async (t) => {
  const { root, nfs, rootFh } = await serve(t);
  mkdirSync(join(root, 'd'));
  const dir = expectOk(await nfs.lookup({ what: { dir: rootFh, name: 'd' } }), 'LOOKUP').object;
  // Directory mtimes are as coarse as the kernel's clock tick: several changes share one.
  for (let i = 0; i < 50; i++) {
    writeFileSync(join(root, 'd', `n${i}`), '');
    t.is((await listAllNames(nfs, dir, i % 2 === 0)).length, i + 1);
  }
});
