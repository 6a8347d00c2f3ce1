// Every command's --help, and every subcommand's (issue 14 item 7), exits 0 with its usage and at
// least one example of that very command, run as a user would (bin/overlay.js). Serial: fifteen
// node processes at once took 20-30 s each on a loaded 2-core machine.
import test from 'ava';
import { cli } from './cli-process.js';

const COMMANDS: Array<[string, string[]]> = [
  ['up', []],
  ['status', []],
  ['down', []],
  ['dht', ['put', 'get']],
  ['ping', []],
  ['image', ['publish', 'serve', 'ls', 'mount', 'gc', 'unpublish']],
  ['rowfs', []],
  ['boot', []],
];

test.serial('overlay --help lists every command and shows examples', async (t) => {
  const r = await cli(['--help']);
  t.is(r.code, 0);
  for (const [name] of COMMANDS) t.regex(r.stdout, new RegExp(`^  ${name} +\\S`, 'm'));
  t.regex(r.stdout, /^examples?:\n {2}overlay up /m);
});

for (const [name, verbs] of COMMANDS) {
  for (const verb of verbs.length ? verbs : ['']) {
    const argv = verb ? [name, verb, '--help'] : [name, '--help'];
    test.serial(`overlay ${argv.join(' ')} shows usage and an example of itself`, async (t) => {
      const r = await cli(argv);
      t.is(r.code, 0, r.stderr);
      t.regex(r.stdout, new RegExp(`^usage: overlay ${name}`));
      const examples = /\nexamples?:\n((?: {2}.*\n?)+)/.exec(r.stdout);
      t.truthy(examples, r.stdout);
      t.regex(examples![1]!, new RegExp(`^ {2}overlay ${name}${verb ? ` ${verb}` : ''}( |$)`, 'm'));
    });
  }
}
