// `overlay ping`: route messages to another node over the overlay and time the replies.
import { CliError, intOption, parseArgs, type Command } from './command.js';
import { askNode, targetHelp, targetSpec } from './target.js';
import { PING_COUNT_MAX } from '../control/protocol.js';

export const command: Command = {
  summary: 'route ping messages to a node by ring address (debugging)',
  help: `usage: overlay ping ADDRESS [--count N] [--json] [--network NAME | --state DIR]

Sends N routed messages from the running node to the node with ring address ADDRESS (40 hex
characters, as printed by \`overlay status\`) and prints each round trip and the hop count of the
reply. Exit 1 if no reply came back.

options:
  --count N            messages to send (default 3, at most ${PING_COUNT_MAX})
  --json               print the results as JSON
${targetHelp}`,

  async run(argv) {
    const args = parseArgs(argv, { ...targetSpec, count: { value: true }, json: {} });
    const [address, ...extra] = args.positionals;
    if (extra.length) throw new CliError(`unexpected argument '${extra[0]}'`);
    if (!address || !/^[0-9a-fA-F]{40}$/.test(address)) throw new CliError('ping needs a ring ADDRESS of 40 hex characters');
    const count = intOption(args, 'count', 3, 1, PING_COUNT_MAX);
    const results = (await askNode(args, { op: 'ping', address: address.toLowerCase(), count }, count * 6_000 + 5_000)) as Array<{
      seq: number;
      rttMs?: number;
      hops?: number;
      error?: string;
    }>;
    if (args.options.json) console.log(JSON.stringify(results, null, 2));
    else for (const r of results) console.log(r.error ? `seq ${r.seq}: ${r.error}` : `seq ${r.seq}: ${r.rttMs} ms, reply took ${r.hops} hops`);
    return results.some((r) => r.rttMs !== undefined) ? 0 : 1;
  },
};
