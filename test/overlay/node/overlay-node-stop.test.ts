// OverlayNode.stop(): no timer outlives the node, and nothing is routed after it.
import test from 'ava';
import { seededRandom } from '../../../lib/random.js';
import { encodeDhtMessage } from '../../../overlay/dht/dht-messages.js';
import { Identity } from '../../../overlay/identity.js';
import type { Connector } from '../../../overlay/link/link.js';
import { APP_DHT, FIRST_USER_APP } from '../../../overlay/node/app-tags.js';
import { OverlayNode } from '../../../overlay/node/overlay-node.js';
import { encodeLinkFrame, FRAME_ROUTED } from '../../../overlay/wire/link-frame.js';
import { ManualClock } from '../../vnet/manual-clock.js';
import { RecordingLink } from './fakes.js';

const connector: Connector = { dial: () => new Promise(() => undefined), onSignal: () => undefined, onIncoming: () => undefined, close: () => undefined };

test('a DHT request held while the node settles is dropped by stop(): no timer is left', async (t) => {
  const clock = new ManualClock();
  const identity = Identity.fromSeed(seededRandom(1).bytes(32));
  const node = new OverlayNode({ identity, clock, random: seededRandom(2), connector });
  const peer = Identity.fromSeed(seededRandom(3).bytes(32)).address;
  const link = new RecordingLink(peer);
  node.addLink(link); // not yet placed: a DHT request for us waits until we have settled
  await clock.advance(1_000);
  const get = encodeDhtMessage({ t: 'get', id: 1, key: new Uint8Array([1]) });
  link.handlers!.control(encodeLinkFrame({ type: FRAME_ROUTED, exact: true, hops: 1, hopLimit: 64, app: APP_DHT, src: peer, dest: identity.address, payload: get }));
  t.is(node.counter('dht_requests_deferred'), 1);
  t.is(clock.pendingTimers, 1);
  await node.stop();
  t.is(clock.pendingTimers, 0);
  const sent = link.sent.length;
  await clock.advance(10_000);
  t.is(link.sent.length, sent, 'nothing sent after stop');
  t.false(node.send(peer, FIRST_USER_APP, new Uint8Array()));
});
