// `overlay ping`: route messages to another node over the overlay and time the replies.
import { CliError, intOption, parseArgs, type Command } from './command.js';
import { askNode, targetHelp, targetSpec } from './target.js';
import { PING_COUNT_MAX } from '../control/protocol.js';
import { isIpv4Address } from '../../lib/ipv4.js';

interface PingAnswer {
  /** The ring address pinged (the owner of the virtual IP, when one was given). */
  address?: string;
  vip?: string;
  /** Why nothing was pinged (no node holds the virtual IP). */
  error?: string;
  results: Array<{ seq: number; rttMs?: number; hops?: number; error?: string }>;
}

export const command: Command = {
  summary: 'route ping messages to a node by ring address or virtual IP (debugging)',
  help: `usage: overlay ping ADDRESS|VIP [--count N] [--json] [--network NAME | --state DIR]

Sends N routed messages from the running node to the node with ring address ADDRESS (40 hex
characters, as printed by \`overlay status\`), or to the node holding virtual IP VIP (A.B.C.D, looked
up in the network's DHT), and prints each round trip and the hop count of the reply. Exit 1 if no
reply came back.

options:
  --count N            messages to send (default 3, at most ${PING_COUNT_MAX})
  --json               print the results as JSON
${targetHelp}

examples:
  overlay ping 10.128.3.7
  overlay ping 5f0c2e9a41d07b3386c1e0f2a9d4b7c8e1f60a23 --count 10 --network lab`,

  async run(argv) {
    const args = parseArgs(argv, { ...targetSpec, count: { value: true }, json: {} });
    const [target, ...extra] = args.positionals;
    if (extra.length) throw new CliError(`unexpected argument '${extra[0]}'`);
    const byVip = target !== undefined && isIpv4Address(target);
    if (!target || (!byVip && !/^[0-9a-fA-F]{40}$/.test(target))) throw new CliError('ping needs a ring ADDRESS of 40 hex characters or a virtual IP A.B.C.D');
    const count = intOption(args, 'count', 3, 1, PING_COUNT_MAX);
    const answer = (await askNode(
      args,
      byVip ? { op: 'ping', vip: target, count } : { op: 'ping', address: target.toLowerCase(), count },
      count * 6_000 + 10_000,
    )) as PingAnswer;
    if (answer.error) throw new CliError(answer.error, 1);
    if (args.options.json) console.log(JSON.stringify(answer.results, null, 2));
    else {
      if (answer.vip) console.log(`${answer.vip} is node ${answer.address}`);
      for (const r of answer.results) console.log(r.error ? `seq ${r.seq}: ${r.error}` : `seq ${r.seq}: ${r.rttMs} ms, reply took ${r.hops} hops`);
    }
    return answer.results.some((r) => r.rttMs !== undefined) ? 0 : 1;
  },
};
