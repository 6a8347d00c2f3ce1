import test from 'ava';
import { parseArgs, intOption, CliError } from '../src/commands/command.js';

test('parseArgs reads flags, values and positionals', (t) => {
  const a = parseArgs(['x', '--listen', '9000', '--json', '--name=n1', 'y'], {
    listen: { value: true },
    json: {},
    name: { value: true },
  });
  t.deepEqual(a.positionals, ['x', 'y']);
  t.is(a.options.listen, '9000');
  t.is(a.options.json, true);
  t.is(a.options.name, 'n1');
  t.is(intOption(a, 'listen', 1, 1, 65535), 9000);
});

test('parseArgs rejects unknown options and missing values with CliError', (t) => {
  t.throws(() => parseArgs(['--nope'], {}), { instanceOf: CliError, message: /unknown option --nope/ });
  t.throws(() => parseArgs(['--port'], { port: { value: true } }), { instanceOf: CliError, message: /needs a value/ });
  t.throws(() => intOption(parseArgs(['--port', 'x'], { port: { value: true } }), 'port', 1, 1, 10), { instanceOf: CliError });
});
