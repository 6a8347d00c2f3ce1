// `overlay dht put|get`: poke the DHT through a running node (debugging).
import { CliError, intOption, parseArgs, type Command } from './command.js';
import { askNode, targetHelp, targetSpec } from './target.js';
import { DHT_TTL_MAX_S } from '../control/protocol.js';

export const command: Command = {
  summary: 'put or get DHT values through the running node (debugging)',
  help: `usage: overlay dht put KEY VALUE [--ttl S] [--network NAME | --state DIR]
       overlay dht get KEY [--json] [--network NAME | --state DIR]

put stores VALUE (text) under KEY (text), signed by the node, on the replicas closest to KEY, for
--ttl seconds (default 300, at most ${DHT_TTL_MAX_S}). get prints every live value under KEY, one per
line, with its owner (the ring address of the node that wrote it, as \`overlay status\` and \`overlay ping\`
show nodes) and remaining life (exit 1 if there is none).

options:
  --ttl S              life of the value in seconds (put)
  --json               print the values as JSON (get)
${targetHelp}

examples:
  overlay dht put motd 'maintenance at 18:00' --ttl 3600
  overlay dht get motd --network lab`,

  async run(argv) {
    const args = parseArgs(argv, { ...targetSpec, ttl: { value: true }, json: {} });
    const [verb, key, value, ...extra] = args.positionals;
    if (extra.length) throw new CliError(`unexpected argument '${extra[0]}'`);
    if (!key) throw new CliError('usage: overlay dht put KEY VALUE | overlay dht get KEY');
    if (verb === 'put') {
      if (value === undefined) throw new CliError('dht put needs KEY and VALUE');
      const ttlS = intOption(args, 'ttl', 300, 1, DHT_TTL_MAX_S);
      await askNode(args, { op: 'dht-put', key, value, ttlS });
      console.log(`stored ${JSON.stringify(key)} for ${ttlS} s`);
      return 0;
    }
    if (verb === 'get') {
      if (value !== undefined) throw new CliError(`unexpected argument '${value}'`);
      const records = (await askNode(args, { op: 'dht-get', key })) as Array<{ value: string; owner: string; ownerAddress: string; ttlS: number }>;
      if (args.options.json) console.log(JSON.stringify(records, null, 2));
      else for (const r of records) console.log(`${r.value}\towner ${r.ownerAddress}\tttl ${r.ttlS} s`);
      if (!records.length && !args.options.json) console.error(`no value under ${JSON.stringify(key)}`);
      return records.length ? 0 : 1;
    }
    throw new CliError(`unknown dht verb '${verb ?? ''}' (want put or get)`);
  },
};
