// DhtGate: a node that only just joined holds DHT requests until it has settled, an exclusive create
// also until its near set is quiet (never longer than settleMs); stop() drops held requests.
import test from 'ava';
import { encodeDhtMessage, type DhtRequest } from '../../../overlay/dht/dht-messages.js';
import { Counters } from '../../../overlay/node/counters.js';
import { DhtGate } from '../../../overlay/node/dht-gate.js';
import { FRAME_ROUTED, type RoutedFrame } from '../../../overlay/wire/link-frame.js';
import { ManualClock } from '../../vnet/manual-clock.js';

function gate(state: { joined: boolean; joinedAt?: number; linkCount?: number; nearChangedAt?: number; changedBy?: bigint[]; nearDialPending?: boolean }) {
  const clock = new ManualClock();
  const served: Array<{ at: number; t: string }> = [];
  const counters = new Counters();
  let g: DhtGate;
  g = new DhtGate({
    clock,
    options: { settleMs: 3_000, dhtQuietMs: 1_000 },
    counters,
    dht: {
      onRequest: (_c, _v, m) => void served.push({ at: clock.now(), t: m.t }),
      onResponse: () => undefined,
      onLocal: () => undefined,
    },
    get joined() {
      return state.joined;
    },
    get joinedAt() {
      return state.joinedAt ?? 0;
    },
    get linkCount() {
      return state.linkCount ?? 1;
    },
    // One change remembered: at nearChangedAt, by changedBy (default: some other node).
    nearChangedAtApartFrom: (a) => (state.changedBy?.every((x) => x === a) ? -Infinity : (state.nearChangedAt ?? -Infinity)),
    nearDialPending: () => state.nearDialPending ?? false,
    route: (f) => g.onRouted(f), // this node is still the primary when the request comes round again
  });
  return { g, clock, served, counters };
}

function routed(req: DhtRequest): RoutedFrame {
  return { type: FRAME_ROUTED, exact: false, hops: 1, hopLimit: 64, app: 4, src: 1n, dest: 2n, payload: encodeDhtMessage(req) };
}
const get: DhtRequest = { t: 'get', id: 1, key: new Uint8Array([1]) };
const create: DhtRequest = { t: 'put', id: 2, exclusive: true, record: { key: new Uint8Array([1]), value: new Uint8Array(), owner: new Uint8Array(32), seq: 1, ttlMs: 1_000, tombstone: false, sig: new Uint8Array(64) } };

test('a founder (no links) and a settled node serve at once', (t) => {
  const founder = gate({ joined: false, linkCount: 0 });
  founder.g.onRouted(routed(get));
  t.deepEqual(founder.served, [{ at: 0, t: 'get' }]);
  const settled = gate({ joined: true, joinedAt: 0, nearDialPending: true });
  void settled.clock.advance(3_000);
  settled.g.onRouted(routed(get));
  t.deepEqual(settled.served, [{ at: 3_000, t: 'get' }], 'settleMs after joining, pending dials or not');
});

test('a node that just joined and still dials its near set holds a request until the dial lands', async (t) => {
  const state = { joined: true, joinedAt: 0, nearDialPending: true };
  const { g, clock, served, counters } = gate(state);
  g.onRouted(routed(get));
  await clock.advance(250);
  t.deepEqual(served, []);
  state.nearDialPending = false;
  await clock.advance(100);
  t.deepEqual(served, [{ at: 300, t: 'get' }], 'looked at again every 100 ms');
  t.is(counters.get('dht_requests_deferred'), 3);
});

test('an exclusive create waits for a quiet near set, but at most settleMs', async (t) => {
  const state = { joined: true, joinedAt: -10_000, nearChangedAt: 0 };
  const quiet = gate(state);
  quiet.g.onRouted(routed(create));
  await quiet.clock.advance(2_000);
  t.deepEqual(quiet.served, [{ at: 1_000, t: 'put' }]);
  const busy = gate(state);
  busy.g.onRouted(routed(create));
  for (let i = 0; i < 40; i++) {
    state.nearChangedAt = busy.clock.now(); // the near set keeps changing
    await busy.clock.advance(100);
  }
  t.deepEqual(busy.served, [{ at: 3_000, t: 'put' }]);
});

test('stop() drops the requests it holds: no timer outlives the node', async (t) => {
  const { g, clock, served } = gate({ joined: false });
  g.onRouted(routed(get));
  t.is(clock.pendingTimers, 1);
  g.stop();
  t.is(clock.pendingTimers, 0);
  await clock.advance(10_000);
  t.deepEqual(served, []);
});

test('malformed DHT input is counted, never thrown', (t) => {
  const { g, counters } = gate({ joined: false, linkCount: 0 });
  g.onRouted({ ...routed(get), payload: new Uint8Array([0xc1]) });
  g.onLocal(1n, new Uint8Array([0xc1]));
  g.onLocal(1n, encodeDhtMessage(get));
  t.is(counters.get('dht_malformed'), 3);
});

test("an exclusive create is not held for a near-set change made only by its own requester (a node rejoining beside the primary)", async (t) => {
  // routed() comes from address 1n.
  const byRequester = gate({ joined: true, joinedAt: -10_000, nearChangedAt: 0, changedBy: [1n] });
  byRequester.g.onRouted(routed(create));
  t.deepEqual(byRequester.served, [{ at: 0, t: 'put' }]);
  const byOther = gate({ joined: true, joinedAt: -10_000, nearChangedAt: 0, changedBy: [1n, 7n] });
  byOther.g.onRouted(routed(create));
  await byOther.clock.advance(2_000);
  t.deepEqual(byOther.served, [{ at: 1_000, t: 'put' }], 'another node came or went too: quiet first');
});
