// The node's list of image processes: TTLs, the bound, and the others standing behind the node's
// one DHT record of a version when one of them stops.
import test from 'ava';
import { LocalImages, MAX_ANNOUNCED_TTL_MS, othersOf, recordTtlOf } from '../../src/image/local-images.js';

const img = (id: string, role: 'serve' | 'mount', version = '1.0') => ({ id, role, app: 'web', version, detail: {} });

test('othersOf: the listed processes other than itself with its role, app and version', (t) => {
  let now = 0;
  const images = new LocalImages(8, () => now);
  images.announce(img('m1', 'mount'), 30);
  images.announce(img('m2', 'mount'), 30);
  images.announce(img('s1', 'serve'), 30);
  images.announce(img('m3', 'mount', '2.0'), 30);
  const self = (id: string, role: 'serve' | 'mount') => ({ id, role, app: 'web', version: '1.0' });
  t.is(othersOf(images.list(), self('m1', 'mount')).length, 1, 'm2 mounts 1.0 too');
  t.is(othersOf(images.list(), self('m9', 'mount')).length, 2, 'a process not listed (never announced, or lapsed) counts every other');
  t.true(images.withdraw('m2'));
  t.false(images.withdraw('m2'), 'twice');
  t.is(othersOf(images.list(), self('m1', 'mount')).length, 0, 'the serve of 1.0 and the mount of 2.0 do not count');
  images.announce(img('s2', 'serve'), 10);
  now = 10_000;
  t.is(othersOf(images.list(), self('s1', 'serve')).length, 0, 'an expired announcement (a crashed process) does not count');
});

test('list: expired processes drop out, ages in seconds; the bound holds for live ones only', (t) => {
  let now = 0;
  const images = new LocalImages(2, () => now);
  images.announce(img('a', 'mount'), 5);
  images.announce(img('b', 'mount'), 60);
  t.throws(() => images.announce(img('c', 'mount'), 60), { message: /too many image processes on this node \(2\)/ });
  images.announce(img('a', 'mount'), 5); // a refresh of a listed one is not a new one
  now = 6_000;
  images.announce(img('c', 'mount'), 60); // 'a' expired: room again
  t.deepEqual(
    images.list().map((i) => [i.id, i.ageS]),
    [
      ['b', 6],
      ['c', 0],
    ],
  );
});

test("recordTtlOf: another process's record TTL as announced, anything else refused", (t) => {
  t.is(recordTtlOf({ recordTtlMs: 60_000 }), 60_000);
  t.is(recordTtlOf({ recordTtlMs: 1000 }), 1000, 'the shortest');
  t.is(recordTtlOf({ recordTtlMs: MAX_ANNOUNCED_TTL_MS }), MAX_ANNOUNCED_TTL_MS, 'the longest (the DHT maximum)');
  for (const bad of [undefined, null, '60000', 999, MAX_ANNOUNCED_TTL_MS + 1, 1500.5, -1, Number.NaN, Infinity, 2 ** 60, {}, [60_000]])
    t.is(recordTtlOf({ recordTtlMs: bad }), undefined, String(bad));
  t.is(recordTtlOf({}), undefined, 'a process that announced none (the stopper then uses its own)');
});
