// The mount's checks on what other nodes wrote: a trace's runs against the manifest (overlaps
// merged, at most MAX_TRACE_BLOCKS blocks), sharer endpoints only on the virtual subnet; and on
// what another mount on this node announced when the record is handed over to it.
import test from 'ava';
import { onVirtualSubnet, sharerPartOf, traceRuns } from '../../src/image/image-mounting.js';
import { Subnet } from '../../dhcp/vip/subnet.js';
import { MAX_TRACE_BLOCKS } from '../../rowfs/image/records.js';
import type { ManifestEntry } from '../../rowfs/image/manifest-codec.js';

const BS = 4096;
const entries = [
  { type: 'dir', path: '' },
  { type: 'file', path: 'a', size: 100 * BS },
  { type: 'file', path: 'huge', size: 2 ** 20 * BS },
] as ManifestEntry[];
const manifest = { blockSize: BS, at: (i: number) => entries[i] };

test('trace runs: refuted runs skipped, blocks already named dropped, the total capped', (t) => {
  t.deepEqual(
    traceRuns(
      [
        { entry: 1, first: 0, count: 10 },
        { entry: 0, first: 0, count: 1 }, // a directory
        { entry: 1, first: 95, count: 10 }, // past the end
        { entry: 1, first: 5, count: 10 }, // overlaps the first
        { entry: 1, first: 2, count: 3 }, // inside it
      ],
      manifest,
    ),
    [
      { path: 'a', first: 0, count: 10 },
      { path: 'a', first: 10, count: 5 },
    ],
  );
  const capped = traceRuns([{ entry: 2, first: 0, count: 2 ** 20 }, { entry: 1, first: 0, count: 5 }], manifest);
  t.deepEqual(capped, [{ path: 'huge', first: 0, count: MAX_TRACE_BLOCKS }]);
});

test('sharer endpoints: hosts of the virtual subnet only', (t) => {
  const subnet = Subnet.parse('10.128.0.0/16');
  t.true(onVirtualSubnet('10.128.3.4', subnet));
  for (const bad of ['127.0.0.1', '8.8.8.8', '10.128.0.0', '10.128.255.255', '10.129.0.1', 'x']) t.false(onVirtualSubnet(bad, subnet), bad);
  t.false(onVirtualSubnet('10.128.3.4', undefined), 'no virtual network: nobody');
});

test('sharer part of another mount: taken as announced, anything else refused', (t) => {
  t.deepEqual(sharerPartOf({ sharer: { sinceMs: 5, peer: { vip: '10.1.0.7', port: 2049 } } }), { sinceMs: 5, peer: { vip: '10.1.0.7', port: 2049 } });
  t.deepEqual(sharerPartOf({ sharer: { sinceMs: 5, peer: null } }), { sinceMs: 5, peer: null }, 'block sharing off: a record without an endpoint');
  for (const detail of [
    {},
    { sharer: null },
    { sharer: 'x' },
    { sharer: { peer: null } },
    { sharer: { sinceMs: -1, peer: null } },
    { sharer: { sinceMs: 1.5, peer: null } },
    { sharer: { sinceMs: 5 } },
    { sharer: { sinceMs: 5, peer: { vip: '10.1.0.300', port: 2049 } } },
    { sharer: { sinceMs: 5, peer: { vip: '10.1.0.7', port: 0 } } },
    { sharer: { sinceMs: 5, peer: { vip: '10.1.0.7', port: 65536 } } },
    { sharer: { sinceMs: 5, peer: { vip: '10.1.0.7', port: '2049' } } },
    { sharer: { sinceMs: 5, peer: { port: 2049 } } },
  ]) {
    t.is(sharerPartOf(detail as Record<string, unknown>), undefined, JSON.stringify(detail));
  }
});
