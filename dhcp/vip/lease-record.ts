// The DHT record behind a virtual IP lease. Key: UTF-8 "dhcp/<network>/<ip>". Value (fixed layout):
//   0        1        5        6
//   +--------+--------+--------+-----------------
//   |version | vIP    | idLen  | clientId (UTF-8, idLen bytes; empty for the node's own address)
// The owner (who holds the lease) is the record's signing key, so the ring address it resolves to
// is derived from the key, never taken from the value.
import { CodedError } from '../../lib/coded-error.js';
import { encodeToBytes, messageCodec, type BinaryCodec } from '../../lib/codec.js';

export const LEASE_RECORD_VERSION = 1;
export const LEASE_RECORD_MAX_CLIENT_ID_BYTES = 255;

export interface LeaseRecord {
  vip: number;
  /** '' for a node's own address; a DHCP client id for addresses a node leases to its VMs. */
  clientId: string;
}

export class LeaseRecordError extends CodedError<'MALFORMED'> {}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

export function leaseKey(network: string, vip: string): Uint8Array {
  return utf8.encode(`dhcp/${network}/${vip}`);
}

function writeLeaseRecord(r: LeaseRecord, out: Uint8Array): void {
  const id = utf8.encode(r.clientId);
  if (id.length > LEASE_RECORD_MAX_CLIENT_ID_BYTES) throw new LeaseRecordError('MALFORMED', `client id longer than ${LEASE_RECORD_MAX_CLIENT_ID_BYTES} bytes`);
  if (!Number.isInteger(r.vip) || r.vip < 0 || r.vip > 0xffffffff) throw new LeaseRecordError('MALFORMED', `bad vIP ${r.vip}`);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint8(0, LEASE_RECORD_VERSION);
  view.setUint32(1, r.vip);
  view.setUint8(5, id.length);
  out.set(id, 6);
}

/** A lease record is the whole DHT value: decodeAt uses every byte from the offset on. */
export const leaseRecordCodec: BinaryCodec<LeaseRecord> = messageCodec({
  encodingLength: (r) => 6 + utf8.encode(r.clientId).length,
  write: writeLeaseRecord,
  read: decodeLeaseRecord,
});

export function encodeLeaseRecord(r: LeaseRecord): Uint8Array {
  return encodeToBytes(leaseRecordCodec, r);
}

export function decodeLeaseRecord(bytes: Uint8Array): LeaseRecord {
  if (bytes.length < 6) throw new LeaseRecordError('MALFORMED', 'lease record shorter than 6 bytes');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (view.getUint8(0) !== LEASE_RECORD_VERSION) throw new LeaseRecordError('MALFORMED', `unsupported lease record version ${view.getUint8(0)}`);
  const idLen = view.getUint8(5);
  if (bytes.length !== 6 + idLen) throw new LeaseRecordError('MALFORMED', `lease record length ${bytes.length} does not match its client id length ${idLen}`);
  let clientId: string;
  try {
    clientId = utf8Strict.decode(bytes.subarray(6));
  } catch {
    throw new LeaseRecordError('MALFORMED', 'client id is not valid UTF-8');
  }
  return { vip: view.getUint32(1), clientId };
}

/** Total order on owner keys (bytewise): when a DHT race leaves two live owners, the smaller key keeps the address. */
export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
