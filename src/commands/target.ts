// Options shared by the commands that talk to a running node: which node (by network or state dir).
import { CliError, stringOption, type ParsedArgs } from './command.js';
import { DEFAULT_STATE_ROOT, ConfigError, validateNetworkName } from '../config.js';
import { controlRequest, ControlClientError, locateControlSocket } from '../control/client.js';
import type { ControlRequest } from '../control/protocol.js';

export const targetSpec = { network: { value: true }, state: { value: true } } as const;

export const targetHelp = `  --network NAME       the node of network NAME (state dir ${DEFAULT_STATE_ROOT}/NAME)
  --state DIR          the node whose state directory is DIR
                       (with neither: the one node running under ${DEFAULT_STATE_ROOT})`;

/** The control socket of the node chosen by --network/--state (CliError when there is none). */
export function nodeSocket(args: ParsedArgs): string {
  const network = stringOption(args, 'network');
  try {
    if (network !== undefined) validateNetworkName(network);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message);
    throw err;
  }
  try {
    return locateControlSocket({ stateDir: stringOption(args, 'state'), network, stateRoot: DEFAULT_STATE_ROOT });
  } catch (err) {
    if (err instanceof ControlClientError) throw new CliError(err.message, 1);
    throw err;
  }
}

/** Sends `req` to the node chosen by --network/--state; maps failures to CliErrors (exit 1). */
export async function askNode(args: ParsedArgs, req: ControlRequest, timeoutMs?: number): Promise<unknown> {
  const path = nodeSocket(args);
  try {
    return await controlRequest(path, req, timeoutMs);
  } catch (err) {
    if (err instanceof ControlClientError) throw new CliError(err.message, 1);
    throw err;
  }
}
