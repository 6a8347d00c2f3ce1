// Router: delivery by app tag, drops counted by reason, the hop limit, and routing around a peer
// whose probe went unanswered.
import test from 'ava';
import { seededRandom } from '../../../lib/random.js';
import { ConnectionTable, type TableEntry } from '../../../overlay/routing-table/connection-table.js';
import { FIRST_USER_APP } from '../../../overlay/node/app-tags.js';
import { Counters } from '../../../overlay/node/counters.js';
import { Liveness } from '../../../overlay/node/liveness.js';
import { Router } from '../../../overlay/node/router.js';
import { encodeLinkFrame, FRAME_ROUTED, type RoutedFrame } from '../../../overlay/wire/link-frame.js';
import { ManualClock } from '../../vnet/manual-clock.js';
import { entry, RecordingLink } from './fakes.js';

function router(self: bigint, peers: bigint[]) {
  const clock = new ManualClock();
  const table = new ConnectionTable(self, 3);
  for (const p of peers) table.add(entry(p));
  const counters = new Counters();
  const sendFrame = (e: TableEntry, f: Parameters<typeof encodeLinkFrame>[0]) => e.link.sendControl(encodeLinkFrame(f));
  const liveness = new Liveness({ random: seededRandom(1), options: { pongTimeoutMs: 5_000, probeQuietMs: 3_000 }, sendFrame });
  const dropped: bigint[] = [];
  const r = new Router({
    self,
    clock,
    options: { hopLimit: 4 },
    table,
    stopped: false,
    liveness,
    count: (name) => counters.count(name),
    log: undefined,
    dropDead: (e) => {
      dropped.push(e.address);
      table.remove(e.address);
    },
    sendFrame,
    sendEncoded: (e, bytes) => e.link.sendControl(bytes),
  });
  const sent = (a: bigint) => (table.get(a)?.link as RecordingLink | undefined)?.frames() ?? [];
  return { r, clock, table, counters, dropped, sent };
}

test('a message for us goes to its app handler; unknown own tags and user tags without a handler are counted', (t) => {
  const { r, counters } = router(100n, [200n]);
  const own: number[] = [];
  const user: string[] = [];
  r.onOwnApp(1, (f) => own.push(f.hops));
  r.onMessage(FIRST_USER_APP, (m) => user.push(new TextDecoder().decode(m.payload)));
  t.true(r.sendRouted(100n, 1, new Uint8Array(), { exact: true }));
  t.true(r.sendRouted(100n, FIRST_USER_APP, new TextEncoder().encode('hi'), { exact: true }));
  r.sendRouted(100n, 2, new Uint8Array(), { exact: true });
  r.sendRouted(100n, FIRST_USER_APP + 1, new Uint8Array(), { exact: true });
  t.deepEqual(own, [0]);
  t.deepEqual(user, ['hi']);
  t.is(counters.get('routed_unknown_app'), 1);
  t.is(counters.get('routed_no_handler'), 1);
  t.is(counters.get('routed_delivered'), 4);
});

test('forwarding patches the hop count; the hop limit and a missing exact destination drop the message', (t) => {
  const { r, counters, sent } = router(100n, [200n]);
  const wire: RoutedFrame = { type: FRAME_ROUTED, exact: true, hops: 2, hopLimit: 4, app: FIRST_USER_APP, src: 1n, dest: 200n, payload: new Uint8Array([7]) };
  t.true(r.route({ ...wire }, false, encodeLinkFrame(wire)));
  t.like(sent(200n)[0], { hops: 3, dest: 200n });
  t.is(counters.get('routed_forwarded'), 1);
  t.false(r.route({ ...wire, hops: 4 }));
  t.is(counters.get('route_drop_hop_limit'), 1);
  t.false(r.sendRouted(150n, FIRST_USER_APP, new Uint8Array(), { exact: true }), 'nobody closer to 150 than we are');
  t.is(counters.get('route_drop_dead-end'), 1);
  const alone = router(100n, []);
  t.false(alone.r.sendRouted(150n, FIRST_USER_APP, new Uint8Array(), { exact: false, notSrc: true }));
  t.is(alone.counters.get('route_drop_no-route'), 1);
});

test('a next hop whose probe went unanswered is dropped and the message routed around it', async (t) => {
  const { r, clock, table, dropped, sent, counters } = router(100n, [190n, 180n]);
  const dead = table.get(190n)!;
  dead.pingNonce = 1;
  dead.pingSentAt = 1;
  await clock.advance(5_002);
  t.true(r.sendRouted(200n, FIRST_USER_APP, new Uint8Array(), { exact: false }));
  t.deepEqual(dropped, [190n]);
  t.is(counters.get('link_failures_detected'), 1);
  t.like(sent(180n).find((f) => f.type === FRAME_ROUTED), { dest: 200n, hops: 1 });
});
