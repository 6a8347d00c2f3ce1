// LinkRelease: who wants a link, WANT only on change, and the BYE handshake with its timeout.
import test from 'ava';
import type { TableEntry } from '../../../overlay/routing-table/connection-table.js';
import { encodeLinkFrame, FRAME_BYE, FRAME_WANT } from '../../../overlay/wire/link-frame.js';
import { LinkRelease } from '../../../overlay/node/link-release.js';
import { ManualClock } from '../../vnet/manual-clock.js';
import { entry, RecordingLink } from './fakes.js';

function release(near = new Set<bigint>()) {
  const clock = new ManualClock();
  const dropped: Array<{ address: bigint; reason: string; how: string }> = [];
  let r: LinkRelease;
  r = new LinkRelease({
    clock,
    options: { byeTimeoutMs: 10_000, bootstrapGraceMs: 60_000 },
    table: { isNear: (a) => near.has(a) },
    sendFrame: (e, f) => e.link.sendControl(encodeLinkFrame(f)),
    sendFrameOn: (link, f) => link.sendControl(encodeLinkFrame(f)),
    dropEntry: (e, reason, how) => {
      dropped.push({ address: e.address, reason, how });
      if (how === 'bye') r.sayBye(e.link, reason);
    },
  });
  return { r, clock, dropped };
}
const frames = (e: TableEntry) => (e.link as RecordingLink).frames();

test('a link is wanted while near, far, a shortcut, or a bootstrap link in its grace period', (t) => {
  const { r } = release(new Set([1n]));
  t.true(r.wants(entry(1n), 0));
  t.true(r.wants(entry(2n, { far: true }), 0));
  t.true(r.wants(entry(2n, { shortcut: true }), 0));
  t.true(r.wants(entry(2n, { bootstrap: true, addedAt: 0 }), 59_999));
  t.false(r.wants(entry(2n, { bootstrap: true, addedAt: 0 }), 60_000));
  t.false(r.wants(entry(2n), 0));
  t.true(r.wants(entry(2n), 0, true), "the caller's fresh near answer is used");
});

test('WANT goes out only when our answer changes', (t) => {
  const { r } = release();
  const e = entry(2n, { far: true });
  t.true(r.announceWant(e, 0));
  t.deepEqual(frames(e), [], 'announcedWant starts true');
  e.far = false;
  t.false(r.announceWant(e, 0));
  t.false(r.announceWant(e, 1));
  t.deepEqual(frames(e), [{ type: FRAME_WANT, want: false }]);
});

test("the peer's WANT(false) releases a link we do not want either, by BYE; the link closes on the ack or after byeTimeoutMs", async (t) => {
  const { r, clock, dropped } = release();
  const kept = entry(3n, { far: true });
  r.onWant(kept, { type: FRAME_WANT, want: false });
  t.false(kept.remoteWants);
  t.deepEqual(dropped, [], 'we still want it');
  const e = entry(2n);
  r.onWant(e, { type: FRAME_WANT, want: false });
  t.deepEqual(dropped, [{ address: 2n, reason: 'released', how: 'bye' }]);
  t.deepEqual(frames(e), [{ type: FRAME_BYE, ack: false }]);
  r.sayBye(e.link, 'again');
  t.is(frames(e).length, 1, 'one BYE per link');
  await clock.advance(9_999);
  t.false(e.link.closed);
  await clock.advance(1);
  t.true(e.link.closed);
  t.is((e.link as RecordingLink).closeReason, 'released');

  const acked = entry(4n);
  r.sayBye(acked.link, 'released');
  r.onStrayBye(acked.link, { type: FRAME_BYE, ack: true });
  t.true(acked.link.closed);
  r.closed(acked.link);
  t.is(clock.pendingTimers, 0, 'its BYE timer is gone with it');
});

test("the peer's BYE: we stop using the link and ack; its ack closes the link; stop() closes links still waiting", (t) => {
  const { r, dropped } = release();
  const e = entry(2n);
  r.onBye(e, { type: FRAME_BYE, ack: false });
  t.deepEqual(dropped, [{ address: 2n, reason: 'released', how: 'none' }]);
  t.deepEqual(frames(e), [{ type: FRAME_BYE, ack: true }]);
  t.false(e.link.closed, 'the peer closes it');
  const f = entry(3n);
  r.onBye(f, { type: FRAME_BYE, ack: true });
  t.true(f.link.closed);
  const stray = new RecordingLink(5n);
  r.onStrayBye(stray, { type: FRAME_BYE, ack: false });
  t.deepEqual(stray.frames(), [{ type: FRAME_BYE, ack: true }]);
  const waiting = new RecordingLink(6n);
  r.sayBye(waiting, 'released');
  r.stop();
  t.is(waiting.closeReason, 'leaving');
});
