// Liveness: when a peer counts as dead, when we probe, and what a PONG tells us.
import test from 'ava';
import { seededRandom } from '../../../lib/random.js';
import { encodeLinkFrame, FRAME_PING, FRAME_PONG } from '../../../overlay/wire/link-frame.js';
import { Liveness } from '../../../overlay/node/liveness.js';
import { entry, RecordingLink } from './fakes.js';

function liveness() {
  const sent: Array<{ to: bigint; type: number }> = [];
  const l = new Liveness({
    random: seededRandom(1),
    options: { pongTimeoutMs: 5_000, probeQuietMs: 3_000 },
    sendFrame: (e, f) => {
      sent.push({ to: e.address, type: f.type });
      return e.link.sendControl(encodeLinkFrame(f));
    },
  });
  return { l, sent };
}

test('a peer is dead only when our PING went unanswered and nothing came for longer than pongTimeoutMs', (t) => {
  const { l } = liveness();
  const e = entry(7n, { lastHeard: 1_000 });
  t.false(l.isDead(e, 100_000), 'never pinged');
  l.ping(e, 2_000);
  t.false(l.isDead(e, 7_000), 'exactly pongTimeoutMs');
  t.true(l.isDead(e, 7_001));
  e.lastHeard = 3_000; // anything heard after the PING proves life
  t.false(l.isDead(e, 100_000));
});

test('sending on a quiet link probes it once; a matching PONG gives the RTT and ends the probe', (t) => {
  const { l, sent } = liveness();
  const e = entry(7n, { lastHeard: 0 });
  l.probeIfQuiet(e, 3_000);
  t.is(sent.length, 0, 'not quiet for longer than probeQuietMs yet');
  l.probeIfQuiet(e, 3_001);
  l.probeIfQuiet(e, 3_500);
  t.deepEqual(sent, [{ to: 7n, type: FRAME_PING }], 'one probe outstanding at a time');
  const nonce = e.pingNonce!;
  e.lastHeard = 3_041;
  l.onPong(e, { type: FRAME_PONG, nonce: nonce ^ 1 });
  t.is(e.rttMs, undefined, 'a PONG for another nonce gives no RTT');
  e.pingNonce = nonce;
  l.onPong(e, { type: FRAME_PONG, nonce });
  t.is(e.rttMs, 40);
  t.true(e.pingNonce === undefined, 'the probe is over');
  t.is((e.link as RecordingLink).frames()[0]!.type, FRAME_PING);
});
