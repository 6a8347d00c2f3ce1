// Dialer: one dial per peer (purposes merge), a cooldown after a failure, and the relay fallback for
// near and shortcut peers (after a failed dial, or a dial still pending after relayHeadStartMs).
import test from 'ava';
import type { Link } from '../../../overlay/link/link.js';
import { ConnectionTable } from '../../../overlay/routing-table/connection-table.js';
import { Dialer } from '../../../overlay/node/dialer.js';
import type { LinkPurposes } from '../../../overlay/node/link-admission.js';
import { ManualClock } from '../../vnet/manual-clock.js';
import { counting, entry, RecordingLink } from './fakes.js';

function dialer(relays = true) {
  const clock = new ManualClock();
  const table = new ConnectionTable(100n, 3);
  const dials = new Map<bigint, { resolve: (l: Link) => void; reject: (e: Error) => void }>();
  const adopted: Array<{ remote: bigint; purposes: LinkPurposes | undefined }> = [];
  const relayed: Array<{ remote: bigint; why: string }> = [];
  const { counts, count } = counting();
  const d = new Dialer({
    clock,
    options: { dialCooldownMs: 30_000, relayHeadStartMs: 8_000 },
    table,
    stopped: false,
    connector: { dial: (remote) => new Promise((resolve, reject) => void dials.set(remote, { resolve, reject })) },
    relays,
    count,
    log: undefined,
    signal: () => undefined,
    adopt: (link, _how, purposes) => {
      adopted.push({ remote: link.remote, purposes });
      return true;
    },
    announceWant: () => true,
    connectRelay: (remote, _p, why) => void relayed.push({ remote, why }),
  });
  return { d, clock, table, dials, adopted, relayed, counts };
}

test('one dial per peer: a second purpose joins the pending dial and the link lands with both', async (t) => {
  const { d, dials, adopted, counts } = dialer();
  d.connect(7n, 'near');
  t.true(d.isPending(7n) && d.nearDialPending());
  d.connect(7n, 'far');
  d.connect(7n, 'shortcut');
  t.is(dials.size, 1);
  t.false(d.nearDialPending(), 'now also a far link and a shortcut');
  t.is(d.farDialsPending(), 1);
  dials.get(7n)!.resolve(new RecordingLink(7n));
  await Promise.resolve();
  t.deepEqual(adopted, [{ remote: 7n, purposes: { far: true, shortcut: true } }]);
  t.false(d.isPending(7n));
  t.is(counts.dials_near, 1);
});

test('a linked peer is only marked for the new purpose', (t) => {
  const { d, table, dials } = dialer();
  table.add(entry(7n));
  d.connect(7n, 'far');
  d.connect(7n, 'shortcut');
  t.is(dials.size, 0);
  t.true(table.get(7n)!.far && table.get(7n)!.shortcut);
});

test('a failed dial rests the peer for dialCooldownMs; a near peer then gets a relay edge, a far one does not', async (t) => {
  const { d, clock, dials, relayed, counts } = dialer();
  d.connect(7n, 'near');
  d.connect(8n, 'far');
  dials.get(7n)!.reject(new Error('ICE failed'));
  dials.get(8n)!.reject(new Error('ICE failed'));
  await Promise.resolve();
  await Promise.resolve();
  t.deepEqual(relayed, [{ remote: 7n, why: 'direct dial failed (ICE failed)' }]);
  t.is(counts.dial_failures, 2);
  dials.clear();
  d.connect(7n, 'near');
  t.is(dials.size, 0, 'cooling down');
  t.true(d.coolingDown(7n, clock.now()));
  await clock.advance(30_000);
  d.expireCooldowns(clock.now());
  t.false(d.coolingDown(7n, clock.now()));
  d.connect(7n, 'near');
  t.is(dials.size, 1);
});

test('a direct dial still pending after relayHeadStartMs gets a relay edge beside it (not without relays)', async (t) => {
  const withRelays = dialer();
  withRelays.d.connect(7n, 'shortcut');
  await withRelays.clock.advance(7_999);
  t.deepEqual(withRelays.relayed, []);
  await withRelays.clock.advance(1);
  t.deepEqual(withRelays.relayed, [{ remote: 7n, why: 'direct dial still pending after 8000 ms' }]);
  const without = dialer(false);
  without.d.connect(7n, 'near');
  t.is(without.clock.pendingTimers, 0);
});
