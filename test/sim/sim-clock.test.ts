import test from 'ava';
import fc from 'fast-check';
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

test('heap order: any mix of times, ties, cancels and events scheduled while running matches a stable sort by time', async (t) => {
  await t.notThrowsAsync(fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ at: fc.integer({ min: 0, max: 50 }), frac: fc.constantFrom(0, 0.25, 0.5), cancel: fc.boolean(), child: fc.option(fc.integer({ min: 0, max: 20 })) }), { maxLength: 200 }),
      async (specs) => {
        const c = new SimClock();
        const ran: Array<{ at: number; id: string }> = [];
        const expected: Array<{ at: number; order: number; id: string }> = [];
        let order = 0;
        specs.forEach((s, i) => {
          const at = s.at + s.frac;
          const id = `e${i}`;
          const ev = c.at(at, (x: string, y: number) => {
            ran.push({ at: c.now(), id: x });
            if (s.child !== null) {
              // Scheduled while running: it belongs after everything already queued for its time.
              c.at(c.now() + y, () => ran.push({ at: c.now(), id: `${x}.child` }));
            }
          }, id, s.child ?? 0);
          if (s.cancel) ev.cancel();
          else expected.push({ at, order: order++, id });
        });
        await c.runUntil(1_000);
        const top = ran.filter((r) => !r.id.endsWith('.child'));
        const want = [...expected].sort((a, b) => a.at - b.at || a.order - b.order);
        if (JSON.stringify(top.map((r) => r.id)) !== JSON.stringify(want.map((w) => w.id))) return false;
        // Time never goes backwards, and every child ran at its parent's time plus its delay.
        for (let i = 1; i < ran.length; i++) if (ran[i]!.at < ran[i - 1]!.at) return false;
        return ran.length === expected.length + specs.filter((s) => !s.cancel && s.child !== null).length;
      },
    ),
    { numRuns: 100 },
  ));
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
