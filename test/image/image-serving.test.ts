// What a stopping serve process takes from another serve process of the version on its node
// (its announced export) before it hands the node's server record over to it.
import test from 'ava';
import { serverPartOf } from '../../src/image/image-serving.js';

const good = { vip: '10.1.0.7', nfsPort: 2049, mountPort: 2049, manifestPort: 8080, exportPath: '/images/app/1', dir: '/srv/app', published: true };

test('server part of another serve process: its export as announced, anything else refused', (t) => {
  t.deepEqual(serverPartOf(good), { vip: '10.1.0.7', nfsPort: 2049, mountPort: 2049, manifestPort: 8080, exportPath: '/images/app/1' });
  for (const bad of [
    {},
    { ...good, vip: 'host.example' },
    { ...good, vip: 7 },
    { ...good, nfsPort: 0 },
    { ...good, mountPort: 65536 },
    { ...good, manifestPort: '8080' },
    { ...good, manifestPort: undefined },
    { ...good, nfsPort: 2049.5 },
    { ...good, exportPath: 'images/app/1' },
    { ...good, exportPath: '/a\0b' },
    { ...good, exportPath: `/${'x'.repeat(1024)}` },
    { ...good, exportPath: null },
  ]) {
    t.is(serverPartOf(bad as Record<string, unknown>), undefined, JSON.stringify(bad));
  }
});
