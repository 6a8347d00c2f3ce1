// Same seed, same run: every figure but wall time and memory is identical.
import test from 'ava';
import { parseScenario } from '../../simulations/scenario.js';
import { runScenario } from '../../simulations/run-scenario.js';

const scenario = parseScenario({ name: 'det', seed: 9, nodes: 60, joinMin: 0.5, settleMin: 0.5, durationMin: 1, churnPerMin: 0.05, routedMessages: 300, dhtKeys: 30, dhtGets: 60 });

test('two runs with one seed give identical figures; another seed differs', async (t) => {
  const strip = (f: Record<string, number>) => {
    const { wall_s, cpu_s, virtual_min_per_wall_min, peak_rss_mb, ...rest } = f;
    void wall_s, cpu_s, virtual_min_per_wall_min, peak_rss_mb;
    return rest;
  };
  const a = await runScenario(scenario);
  const b = await runScenario(scenario);
  t.deepEqual(strip(a.figures), strip(b.figures));
  t.true(a.figures.events > 10_000);
  const c = await runScenario({ ...scenario, seed: 10 });
  t.notDeepEqual(strip(a.figures), strip(c.figures));
});
