// Embedded-server file handles: the pure encoding (round trip, rejection of foreign bytes, fits
// the 64-byte NFSv3 limit) and the path table on a real directory tree.
import test from 'ava';
import fc from 'fast-check';
import { lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeHandle, encodeHandle, fileIdOf, HandleTable, HANDLE_BYTES } from '../../../rowfs/server/file-handles.js';
import { NFS3_FHSIZE } from '../../../rowfs/nfs3/types.js';

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

test('handles round trip, fit in 64 bytes, and foreign bytes are refused', (t) => {
  t.true(HANDLE_BYTES <= NFS3_FHSIZE);
  fc.assert(
    fc.property(u64, u64, fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }), (dev, ino, birthNs) => {
      t.deepEqual(decodeHandle(encodeHandle({ dev, ino, birthNs })), { dev, ino, birthNs });
    }),
    { numRuns: 200 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      const id = decodeHandle(b);
      // Only 32-byte strings starting with our magic and zero flags decode.
      t.is(id !== undefined, b.length === 32 && Buffer.from(b.subarray(0, 8)).equals(Buffer.from([0x52, 0x57, 0x46, 0x31, 0, 0, 0, 0])));
    }),
    { numRuns: 500 },
  );
});

test('path table: resolves after renames of a parent, finds unknown handles by one scan, refuses replaced files', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'handles-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'a', 'b'), { recursive: true });
  writeFileSync(join(root, 'a', 'b', 'f'), 'x');
  let now = 0;
  const table = new HandleTable(root, () => now, 1000);
  await table.init();
  const id = fileIdOf(lstatSync(join(root, 'a', 'b', 'f'), { bigint: true }));
  // Unknown so far: found by a scan.
  t.is((await table.resolve(id))?.path, join(root, 'a', 'b', 'f'));
  // A parent renamed (through the table, as RENAME does) moves every descendant with it.
  renameSync(join(root, 'a'), join(root, 'z'));
  table.remember(lstatSync(root, { bigint: true }), 'z', lstatSync(join(root, 'z'), { bigint: true }));
  t.is((await table.resolve(id))?.path, join(root, 'z', 'b', 'f'));
  // Replaced by a new file under the same name: the old handle is stale.
  rmSync(join(root, 'z', 'b', 'f'));
  writeFileSync(join(root, 'z', 'b', 'f'), 'new');
  const fresh = fileIdOf(lstatSync(join(root, 'z', 'b', 'f'), { bigint: true }));
  t.is(await table.resolve(id), undefined);
  t.is((await table.resolve(fresh))?.path, join(root, 'z', 'b', 'f'));
  // Unknown handles within the throttle interval do not rescan; after it they do.
  writeFileSync(join(root, 'late'), '');
  const late = fileIdOf(lstatSync(join(root, 'late'), { bigint: true }));
  t.is(await table.resolve(late), undefined);
  now += 5000;
  t.is((await table.resolve(late))?.path, join(root, 'late'));
});
