// LinkAdmission: of two links to one peer a direct one beats a relay edge, else the one the lower
// address dialed; newcomers are not transit; a relay edge that closes while wanted is rebuilt.
import test from 'ava';
import type { Link } from '../../../overlay/link/link.js';
import { ConnectionTable } from '../../../overlay/routing-table/connection-table.js';
import { LinkAdmission, type LinkOrigin } from '../../../overlay/node/link-admission.js';
import { ManualClock } from '../../vnet/manual-clock.js';
import { counting, RecordingLink } from './fakes.js';

function admission(self: bigint, o: { joined?: boolean; wanted?: boolean } = {}) {
  const table = new ConnectionTable(self, 3);
  const byes: Link[] = [];
  const attached: Link[] = [];
  const added: Array<{ address: bigint; origin: LinkOrigin }> = [];
  const removed: bigint[] = [];
  const rebuilt: Array<{ remote: bigint; avoid: bigint }> = [];
  const { counts, count } = counting();
  const clock = new ManualClock();
  let a: LinkAdmission;
  a = new LinkAdmission({
    self,
    clock,
    options: { duplicateGlareMs: 5_000 },
    table,
    stopped: false,
    joined: o.joined ?? true,
    count,
    log: undefined,
    attach: (link) => {
      attached.push(link);
      link.setHandlers({ control: () => undefined, data: () => undefined, close: (reason) => a.onLinkClosed(link, reason) });
    },
    sayBye: (link) => void byes.push(link),
    wants: () => o.wanted ?? true,
    rebuildRelay: (remote, _p, _why, avoid) => void rebuilt.push({ remote, avoid }),
    added: (e, origin) => void added.push({ address: e.address, origin }),
    removed: (address) => void removed.push(address),
    topologyChanged: () => undefined,
    linkClosed: () => undefined,
  });
  return { a, clock, table, byes, attached, added, removed, rebuilt, counts };
}

test('two links to one peer: both sides keep the one the lower address dialed', (t) => {
  // Node 5 and node 9 dial each other at once: 5 keeps the link it dialed, 9 the one it accepted.
  const low = admission(5n);
  const lowDialed = new RecordingLink(9n);
  const lowAccepted = new RecordingLink(9n);
  t.true(low.a.adopt(lowAccepted, 'incoming'));
  t.true(low.a.adopt(lowDialed, 'dialed', { far: true, shortcut: false }), 'replaces the incoming one');
  t.is(low.table.get(9n)!.link, lowDialed);
  t.true(low.table.get(9n)!.far, 'purposes merge');
  t.deepEqual(low.byes, [lowAccepted]);
  const high = admission(9n);
  const highDialed = new RecordingLink(5n);
  const highAccepted = new RecordingLink(5n);
  t.true(high.a.adopt(highAccepted, 'incoming'));
  t.false(high.a.adopt(highDialed, 'dialed'), 'refused: 9 is the higher address');
  t.is(high.table.get(5n)!.link, highAccepted);
  t.deepEqual(high.byes, [highDialed]);
  t.true(high.attached.includes(highDialed), 'frames already sent on the refused link are still taken');
  t.is(high.counts.links_refused_duplicate, 1);
  t.is(low.counts.links_replaced_duplicate, 1);
});

test('a direct link always replaces a relay edge, and a relay edge never replaces a direct link', (t) => {
  const n = admission(9n);
  const relayed = new RecordingLink(5n, 7n);
  t.true(n.a.adopt(relayed, 'dialed'));
  const direct = new RecordingLink(5n);
  t.true(n.a.adopt(direct, 'incoming'), 'even one the higher address did not dial');
  t.is(n.table.get(5n)!.link, direct);
  t.is(n.counts.relay_replaced_by_direct, 1);
  t.false(n.a.adopt(new RecordingLink(5n, 8n), 'dialed'));
  t.is(n.table.get(5n)!.link, direct);
});

test('a wanted relay edge that closes is dropped and rebuilt through another middle; a direct link is only dropped', (t) => {
  const n = admission(9n);
  const relayed = new RecordingLink(5n, 7n);
  n.a.adopt(relayed, 'dialed', { far: false, shortcut: true });
  relayed.close('middle gone');
  t.false(n.table.has(5n));
  t.deepEqual(n.rebuilt, [{ remote: 5n, avoid: 7n }]);
  const direct = new RecordingLink(6n);
  n.a.adopt(direct, 'dialed');
  direct.close('peer gone');
  t.deepEqual(n.removed, [5n, 6n]);
  t.is(n.rebuilt.length, 1);
  t.is(n.counts.links_closed_other, 2);
});

test('a link that is ours, closed, or comes while stopped is refused; newcomers and bootstrap peers of a member are not transit', (t) => {
  const n = admission(9n);
  const self = new RecordingLink(9n);
  t.false(n.a.adopt(self, 'incoming'));
  t.is(self.closeReason, 'unusable');
  n.a.expectNewcomer(3n);
  n.a.adopt(new RecordingLink(3n), 'incoming');
  n.a.adopt(new RecordingLink(4n), 'bootstrap');
  n.a.adopt(new RecordingLink(2n), 'incoming');
  t.false(n.table.get(3n)!.transit, 'announced by our bootstrap endpoint');
  t.false(n.table.get(4n)!.transit, 'a bootstrap link reaching a joined member comes from a newcomer');
  t.true(n.table.get(2n)!.transit);
  t.deepEqual(n.added.map((x) => x.origin), ['incoming', 'bootstrap', 'incoming']);
  const newcomer = admission(9n, { joined: false });
  newcomer.a.adopt(new RecordingLink(4n), 'bootstrap');
  t.true(newcomer.table.get(4n)!.transit, 'reaching a newcomer, it comes from the member it joins through');
});

test('a new link from a peer whose link we have held for more than duplicateGlareMs replaces it (the peer lost it)', async (t) => {
  const n = admission(9n);
  const old = new RecordingLink(5n);
  n.a.adopt(old, 'incoming'); // dialed by 5, the lower address
  await n.clock.advance(5_000);
  t.false(n.a.adopt(new RecordingLink(5n), 'dialed'), 'within the glare window: a dial race, the lower address decides');
  await n.clock.advance(1);
  const fresh = new RecordingLink(5n);
  t.true(n.a.adopt(fresh, 'dialed'));
  t.is(n.table.get(5n)!.link, fresh);
  t.is(old.closeReason, 'stale');
  t.is(n.counts.links_replaced_stale, 1);
  const relayed = new RecordingLink(5n, 7n);
  await n.clock.advance(10_000);
  t.false(n.a.adopt(relayed, 'dialed'), 'a relay edge still never replaces a direct link');
});
