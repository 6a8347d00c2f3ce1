import test from 'ava';
import { NodeClock, SimClock } from '../../simulations/sim-clock.js';
import { parseScenario, ScenarioError } from '../../simulations/scenario.js';

test('events run in time order, ties in insertion order; cancel and intervals work', async (t) => {
  const c = new SimClock();
  const log: string[] = [];
  c.setTimeout(() => log.push('b@20'), 20);
  c.setTimeout(() => log.push('a@10'), 10);
  c.setTimeout(() => log.push('c@20'), 20);
  const x = c.setTimeout(() => log.push('never'), 15);
  x.cancel();
  const iv = c.setInterval(() => {
    log.push(`tick@${c.now()}`);
    if (c.now() >= 30) iv.cancel();
  }, 10);
  await c.runUntil(100);
  t.deepEqual(log, ['a@10', 'tick@10', 'b@20', 'c@20', 'tick@20', 'tick@30']);
  t.is(c.now(), 100);
});

test('promise continuations run between events, at the virtual time they were resolved', async (t) => {
  const c = new SimClock();
  const seen: number[] = [];
  await new Promise<void>((done) => {
    void new Promise<void>((r) => c.setTimeout(r, 50)).then(() => {
      seen.push(c.now());
      c.setTimeout(() => {
        seen.push(c.now());
        done();
      }, 5);
    });
    void c.runUntil(1_000);
  });
  t.deepEqual(seen, [50, 55]);
});

test('a halted node clock cancels its timers and refuses new ones', async (t) => {
  const c = new SimClock();
  const n = new NodeClock(c);
  let fired = 0;
  n.setTimeout(() => fired++, 10);
  n.setInterval(() => fired++, 5);
  n.halt();
  n.setTimeout(() => fired++, 1);
  await c.runUntil(100);
  t.is(fired, 0);
});

test('scenario files: defaults fill in, bad fields are refused with ScenarioError', (t) => {
  const s = parseScenario({ nodes: 10, overlay: { nearPerSide: 2 } }, 'x');
  t.is(s.name, 'x');
  t.is(s.nodes, 10);
  t.is(s.churnPerMin, 0.01);
  for (const bad of [[], null, { nodes: -1 }, { nodes: 1.5 }, { bogus: 1 }, { loss: 0.9 }, { latencyMs: [[1, 2]] }, { overlay: 3 }, { name: '' }]) {
    t.throws(() => parseScenario(bad), { instanceOf: ScenarioError });
  }
});
