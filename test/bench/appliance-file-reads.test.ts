// The benchmark's per-file account of a boot: the proxy's per-file tallies (keyed by path handle)
// named by walking the image tree, summed per directory, over-fetch counted per file.
import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileReads, fileTable, imagePaths } from '../../bench/appliance/file-reads.js';
import { pathHandle } from '../../rowfs/proxy/replicated-main.js';
import { hex } from '../../rowfs/state/store.js';
import type { CountersSnapshot } from '../../rowfs/counters.js';

test('per-file reads are named by the image tree and summed per directory', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'appliance-files-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'usr/lib/modules/6.1'), { recursive: true });
  writeFileSync(join(root, 'usr/lib/modules/6.1/kvm.ko'), 'x');
  writeFileSync(join(root, 'usr/lib/modules/6.1/drm.ko'), 'x');
  writeFileSync(join(root, 'hostname'), 'x');
  symlinkSync('hostname', join(root, 'link'));
  const paths = imagePaths(root);
  t.deepEqual([...paths.values()].sort(), ['hostname', 'usr/lib/modules/6.1/drm.ko', 'usr/lib/modules/6.1/kvm.ko'], 'regular files only');
  const key = (p: string) => hex(pathHandle(p));
  const files: Record<string, [number, number]> = {
    [key('usr/lib/modules/6.1/kvm.ko')]: [100, 300],
    [key('usr/lib/modules/6.1/drm.ko')]: [50, 50],
    [key('hostname')]: [10, 10],
    ffff: [5, 0],
  };
  const r = fileReads({ files } as unknown as CountersSnapshot, paths);
  if (!r) return t.fail('no per-file tallies');
  t.is(r.read, 165);
  t.is(r.fetched, 360);
  t.is(r.overFetched, 200);
  t.is(r.files, 4);
  t.deepEqual(r.top.map((f) => f.path), ['usr/lib/modules/6.1/kvm.ko', 'usr/lib/modules/6.1/drm.ko', 'hostname', '?ffff']);
  t.deepEqual(r.groups, [{ path: 'usr/lib/modules', read: 150, fetched: 350 }, { path: '.', read: 15, fetched: 10 }]);
  t.regex(fileTable(r), /usr\/lib\/modules/);
  t.is(fileReads({} as CountersSnapshot, paths), undefined, 'a proxy without per-file tallies');
});
