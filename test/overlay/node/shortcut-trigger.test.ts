// ShortcutTrigger: shortcutAfterMessages exact messages within one window ask for one shortcut.
import test from 'ava';
import { ShortcutTrigger } from '../../../overlay/node/shortcut-trigger.js';

function trigger(shortcutAfterMessages: number, linked = new Set<bigint>()) {
  const asked: bigint[] = [];
  const s = new ShortcutTrigger({
    options: { shortcutAfterMessages, shortcutWindowMs: 60_000 },
    linked: (d) => linked.has(d),
    count: () => undefined,
    requestShortcut: (d) => asked.push(d),
  });
  return { s, asked };
}

test('the threshold-th message in a window asks once; the count starts again with the next window', (t) => {
  const { s, asked } = trigger(3);
  s.tick(0);
  for (let i = 0; i < 5; i++) s.note(9n);
  t.deepEqual(asked, [9n]);
  s.tick(59_999);
  s.note(9n);
  t.deepEqual(asked, [9n], 'same window');
  s.tick(60_000);
  s.note(9n);
  s.note(9n);
  t.deepEqual(asked, [9n]);
  s.note(9n);
  t.deepEqual(asked, [9n, 9n]);
});

test('no shortcut to a peer we already link to, and none at all with threshold 0', (t) => {
  const linked = trigger(2, new Set([9n]));
  linked.s.note(9n);
  linked.s.note(9n);
  t.deepEqual(linked.asked, []);
  const never = trigger(0);
  for (let i = 0; i < 10; i++) never.s.note(9n);
  t.deepEqual(never.asked, []);
});
