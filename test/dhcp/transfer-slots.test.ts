// TransferSlots (dhcp/tftp/transfer-slots.ts): bounds in total and per client, and which stalled
// transfer a newcomer reclaims. Pure bookkeeping; occupants are plain objects.
import test from 'ava';
import { TransferSlots, type TransferSlot } from '../../dhcp/tftp/transfer-slots.js';

function occupy(slots: TransferSlots, slot: TransferSlot, progress: { at: number; ever: boolean }, evicted: string[]): void {
  slot.occupant = {
    lastProgressAt: () => progress.at,
    everProgressed: () => progress.ever,
    evict: () => {
      evicted.push(slot.client);
      slots.release(slot);
    },
  };
}

test('the total and per-client bounds hold; an opening slot is never reclaimed', (t) => {
  const slots = new TransferSlots({ maxTotal: 3, maxPerClient: 2, evictAfterIdleMs: 2000, firstAckGraceMs: 500 });
  t.truthy(slots.take('a', 0));
  t.truthy(slots.take('a', 0));
  t.is(slots.take('a', 10_000), undefined, 'a is at its share and its slots are still opening');
  const b = slots.take('b', 0)!;
  t.is(slots.take('c', 10_000), undefined, 'full');
  slots.release(b);
  slots.release(b);
  t.is(slots.size, 2, 'release is idempotent');
  t.truthy(slots.take('c', 0));
});

test('a newcomer reclaims the oldest never-acknowledged transfer first (after a grace), else the longest idle past the threshold', (t) => {
  const slots = new TransferSlots({ maxTotal: 3, maxPerClient: 3, evictAfterIdleMs: 2000, firstAckGraceMs: 500 });
  const evicted: string[] = [];
  occupy(slots, slots.take('busy', 0)!, { at: 900, ever: true }, evicted);
  occupy(slots, slots.take('silent-old', 100)!, { at: 100, ever: false }, evicted);
  occupy(slots, slots.take('silent-new', 200)!, { at: 200, ever: false }, evicted);
  t.is(slots.take('n0', 550), undefined, 'silent-old started 450 ms ago: still within its grace');
  t.truthy(slots.take('n1', 1000));
  t.deepEqual(evicted, ['silent-old']);
  const s2 = slots.all().find((s) => s.client === 'n1')!;
  occupy(slots, s2, { at: 1000, ever: true }, evicted);
  t.truthy(slots.take('n2', 1000));
  t.deepEqual(evicted, ['silent-old', 'silent-new']);
  occupy(slots, slots.all().find((s) => s.client === 'n2')!, { at: 1000, ever: true }, evicted);
  t.is(slots.take('n3', 2500), undefined, 'nobody idle 2 s yet: refused');
  t.truthy(slots.take('n3', 2900), 'busy has been idle 2 s');
  t.deepEqual(evicted, ['silent-old', 'silent-new', 'busy']);
  t.is(slots.evicted, 3);
  t.deepEqual(slots.idleFor(1900, 2900).map((s) => s.client), ['n1', 'n2']);
});

test('at its per-client share a client reclaims only its own stalled transfers', (t) => {
  const slots = new TransferSlots({ maxTotal: 10, maxPerClient: 1, evictAfterIdleMs: 2000, firstAckGraceMs: 500 });
  const evicted: string[] = [];
  occupy(slots, slots.take('other', 0)!, { at: 0, ever: false }, evicted);
  occupy(slots, slots.take('me', 0)!, { at: 0, ever: true }, evicted);
  t.is(slots.take('me', 1000), undefined);
  t.truthy(slots.take('me', 2000));
  t.deepEqual(evicted, ['me']);
});
