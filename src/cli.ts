// The `overlay` command: a thin dispatcher. Each subcommand lives in src/commands/<name>.ts and
// exports a `Command`; they are loaded lazily so `overlay --help` never pulls in native addons.
import { CliError, type Command } from './commands/command.js';

// Subcommands in the order `--help` lists them; a name whose module is not built yet is skipped.
const COMMANDS = ['up', 'status', 'down', 'dht', 'ping', 'image', 'rowfs', 'boot'] as const;

async function loadCommand(name: string): Promise<Command | undefined> {
  if (!(COMMANDS as readonly string[]).includes(name)) return undefined;
  try {
    const mod = (await import(`./commands/${name}.js`)) as { command: Command };
    return mod.command;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw err;
  }
}

async function usage(): Promise<string> {
  const lines = [
    'usage: overlay <command> [options]',
    '',
    'A peer-to-peer virtual IP network with an appliance-image service.',
    '',
    'commands:',
  ];
  for (const name of COMMANDS) {
    const cmd = await loadCommand(name);
    if (cmd) lines.push(`  ${name.padEnd(8)} ${cmd.summary}`);
  }
  lines.push(
    '',
    'examples:',
    '  overlay up --network lab --listen 7000          # found network lab',
    '  overlay up --network lab --bootstrap ws://203.0.113.7:7000 --secret lab.secret',
    '  overlay status',
    '',
    'Run `overlay <command> --help` for the options and examples of one command.',
  );
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    console.log(await usage());
    return 0;
  }
  // A mistake is one line (the full usage is one --help away).
  if (!name) {
    console.error(`overlay: no command given; commands: ${COMMANDS.join(', ')} (overlay --help)`);
    return 2;
  }
  const cmd = await loadCommand(name);
  if (!cmd) {
    console.error(`overlay: unknown command '${name.slice(0, 100)}'; commands: ${COMMANDS.join(', ')} (overlay --help)`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.help);
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (err) {
    if (err instanceof CliError) {
      console.error(`overlay ${name}: ${err.message}`);
      return err.exitCode;
    }
    throw err;
  }
}
