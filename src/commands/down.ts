// `overlay down`: ask the running node to leave cleanly, and wait until it has.
import { existsSync } from 'node:fs';
import { CliError, intOption, parseArgs, stringOption, type Command } from './command.js';
import { askNode, targetHelp, targetSpec } from './target.js';
import { locateControlSocket } from '../control/client.js';
import { DEFAULT_STATE_ROOT } from '../config.js';

export const command: Command = {
  summary: 'make the running node leave the network cleanly',
  help: `usage: overlay down [--timeout S] [--network NAME | --state DIR]

Asks the running node to leave: it stops its services (releasing its virtual IP lease), hands its
DHT copies to its neighbours, closes its links and exits. Waits until it is gone.

options:
  --timeout S          give up waiting after S seconds (default 30)
${targetHelp}

example:
  overlay down --network lab`,

  async run(argv) {
    const args = parseArgs(argv, { ...targetSpec, timeout: { value: true } });
    if (args.positionals.length) throw new CliError(`unexpected argument '${args.positionals[0]}'`);
    const timeoutS = intOption(args, 'timeout', 30, 1, 3600);
    await askNode(args, { op: 'down' });
    const path = locateControlSocket({ stateDir: stringOption(args, 'state'), network: stringOption(args, 'network'), stateRoot: DEFAULT_STATE_ROOT });
    const deadline = Date.now() + timeoutS * 1000;
    while (existsSync(path)) {
      if (Date.now() > deadline) throw new CliError(`node did not finish leaving within ${timeoutS} s`, 1);
      await new Promise((r) => setTimeout(r, 100));
    }
    console.log('overlay: node left the network');
    return 0;
  },
};
