// Counters: every name once; only moved counters are reported; only WireError counts as malformed.
import test from 'ava';
import { Counters, OVERLAY_COUNTERS } from '../../../overlay/node/counters.js';
import { WireError } from '../../../overlay/wire/wire-error.js';

test('each overlay counter name appears once', (t) => {
  t.is(new Set(OVERLAY_COUNTERS).size, OVERLAY_COUNTERS.length);
});

test('the snapshot holds the counters that moved, in the order they first moved', (t) => {
  const c = new Counters();
  c.count('links_opened');
  c.count('dht_read_repairs', 3);
  c.count('links_opened');
  t.deepEqual(Object.entries(c.snapshot()), [
    ['links_opened', 2],
    ['dht_read_repairs', 3],
  ]);
  t.is(c.get('relay_links_up'), 0);
  t.is(c.get('no such counter'), 0);
});

test('decodeOrCount counts a WireError and yields undefined; any other error is a bug and propagates', (t) => {
  const c = new Counters();
  t.is(c.decodeOrCount(() => { throw new WireError('truncated', 'short'); }, new Uint8Array(), 'frames_malformed'), undefined);
  t.is(c.get('frames_malformed'), 1);
  t.throws(() => c.decodeOrCount(() => { throw new TypeError('bug'); }, new Uint8Array(), 'frames_malformed'), { instanceOf: TypeError });
  t.is(c.decodeOrCount((b) => b.length, new Uint8Array(3), 'frames_malformed'), 3);
});
