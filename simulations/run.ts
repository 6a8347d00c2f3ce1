// `npm run sim -- SCENARIO.json [--seed N] [--out FILE] [--quiet]`: runs a scenario file and writes
// its figures as JSON (default simulations/results/<name>.json).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseScenario, ScenarioError } from './scenario.js';
import { runScenario } from './run-scenario.js';

const USAGE = 'usage: npm run sim -- SCENARIO.json [--seed N] [--out FILE] [--quiet]';

async function main(argv: string[]): Promise<number> {
  let file: string | undefined;
  let seed: number | undefined;
  let out: string | undefined;
  let quiet = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--seed') {
      seed = Number(argv[++i]);
      if (!Number.isInteger(seed) || seed < 0) throw new ScenarioError('invalid', '--seed needs a non-negative integer');
    } else if (a === '--out') {
      out = argv[++i];
      if (!out) throw new ScenarioError('invalid', '--out needs a file name');
    } else if (a === '--quiet') quiet = true;
    else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      return 0;
    } else if (a.startsWith('-')) throw new ScenarioError('invalid', `unknown option ${a}\n${USAGE}`);
    else if (file) throw new ScenarioError('invalid', `one scenario at a time\n${USAGE}`);
    else file = a;
  }
  if (!file) throw new ScenarioError('invalid', USAGE);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ScenarioError('invalid', `cannot read scenario ${file}: ${(err as Error).message}`);
  }
  const scenario = parseScenario(raw, basename(file).replace(/\.json$/, ''));
  if (seed !== undefined) scenario.seed = seed;
  const result = await runScenario(scenario, quiet ? undefined : (l) => console.error(l));
  const target = out ?? join('simulations', 'results', `${scenario.name}.json`);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, JSON.stringify({ ...result, date: new Date().toISOString() }, null, 2) + '\n');
  console.log(JSON.stringify(result.figures, null, 2));
  if (result.dhtFailures.length) console.error(`DHT failures:\n  ${result.dhtFailures.join('\n  ')}`);
  console.error(`written ${target}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof ScenarioError) {
      console.error(`sim: ${err.message}`);
      process.exit(2);
    }
    console.error(err);
    process.exit(1);
  },
);
