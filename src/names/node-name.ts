// Short node names (issue 14 item 3): `overlay up --name NAME` (default: this machine's host name)
// publishes NAME in the DHT under "name/<network>/<ring address>", and `overlay status` shows peers
// by name beside their virtual IP and ring address. A name record counts only when its signing key
// is the key of the node the record is about, so a member can name itself and nobody else.
import { CodedError } from '../../lib/coded-error.js';
import { addressOfKey } from '../../overlay/identity.js';
import type { RingAddress } from '../../overlay/ring/ring.js';

/** Letters, digits and '-' (a DNS label's alphabet), 1-32 characters: short enough for a status column. */
export const NODE_NAME_MAX_CHARS = 32;
const NODE_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$/;

export class NodeNameError extends CodedError<'bad-name'> {}

export function validateNodeName(name: string): string {
  if (!NODE_NAME.test(name)) throw new NodeNameError('bad-name', `bad --name '${name}' (1-${NODE_NAME_MAX_CHARS} letters, digits and -, not starting or ending with -)`);
  return name;
}

/** A default name from a host name: its first label, cut to fit, or undefined when nothing usable is left. */
export function nameFromHostname(hostname: string): string | undefined {
  const label = hostname.split('.')[0]!.replace(/[^A-Za-z0-9-]/g, '').slice(0, NODE_NAME_MAX_CHARS).replace(/^-+|-+$/g, '');
  return NODE_NAME.test(label) ? label : undefined;
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

export function nameKey(network: string, address: RingAddress): Uint8Array {
  return utf8.encode(`name/${network}/${address.toString(16).padStart(40, '0')}`);
}

export function encodeName(name: string): Uint8Array {
  return utf8.encode(validateNodeName(name));
}

/** The name in a DHT record about `address`, or undefined when the record is not that node's or not a valid name. */
export function decodeNameRecord(address: RingAddress, record: { value: Uint8Array; owner: Uint8Array }): string | undefined {
  if (record.owner.length !== 32 || addressOfKey(record.owner) !== address) return undefined;
  if (record.value.length > NODE_NAME_MAX_CHARS) return undefined;
  let name: string;
  try {
    name = utf8Strict.decode(record.value);
  } catch {
    return undefined;
  }
  return NODE_NAME.test(name) ? name : undefined;
}
