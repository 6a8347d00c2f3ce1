// Routed messages (overlay tag APP_RELAY) with which a node looking for a relay learns the target's
// direct neighbours, to intersect with its own. Pure codec, exact lengths.
//
//   QUERY   1 | id u32
//   ANSWER  2 | id u32 | count u8 (<= 64) | count x (address 20 | rtt u16 ms, 0xffff = unknown)
import type { RingAddress } from '../ring/ring.js';
import { ADDRESS_BYTES, bytesToAddress, RING_SIZE, writeAddress } from '../ring/ring.js';
import { RelayCodecError } from './relay-header.js';

export const RELAY_QUERY = 1;
export const RELAY_ANSWER = 2;
export const MAX_RELAY_CANDIDATES = 64;
/** RTTs at or above this (or unknown) are sent as 0xffff. */
export const RTT_UNKNOWN = 0xffff;

export interface RelayCandidate {
  address: RingAddress;
  /** Round trip between the answering node and this neighbour; undefined if not measured. */
  rttMs?: number;
}

export type RelayRoutedMessage =
  | { type: typeof RELAY_QUERY; id: number }
  | { type: typeof RELAY_ANSWER; id: number; neighbours: RelayCandidate[] };

const ENTRY_BYTES = ADDRESS_BYTES + 2;

function checkId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new RelayCodecError('malformed', `query id ${id} not a u32`);
}

export function encodeRelayMessage(m: RelayRoutedMessage): Uint8Array {
  checkId(m.id);
  if (m.type === RELAY_QUERY) {
    const out = new Uint8Array(5);
    out[0] = RELAY_QUERY;
    new DataView(out.buffer).setUint32(1, m.id);
    return out;
  }
  if (m.neighbours.length > MAX_RELAY_CANDIDATES) throw new RelayCodecError('malformed', `${m.neighbours.length} neighbours (max ${MAX_RELAY_CANDIDATES})`);
  const out = new Uint8Array(6 + m.neighbours.length * ENTRY_BYTES);
  const view = new DataView(out.buffer);
  out[0] = RELAY_ANSWER;
  view.setUint32(1, m.id);
  out[5] = m.neighbours.length;
  m.neighbours.forEach((n, i) => {
    if (typeof n.address !== 'bigint' || n.address < 0n || n.address >= RING_SIZE) throw new RelayCodecError('malformed', 'neighbour: not a 160-bit address');
    const o = 6 + i * ENTRY_BYTES;
    writeAddress(n.address, out, o);
    const rtt = n.rttMs === undefined || !Number.isFinite(n.rttMs) || n.rttMs < 0 ? RTT_UNKNOWN : Math.min(RTT_UNKNOWN, Math.round(n.rttMs));
    view.setUint16(o + ADDRESS_BYTES, rtt);
  });
  return out;
}

export function decodeRelayMessage(b: Uint8Array): RelayRoutedMessage {
  if (b.length < 5) throw new RelayCodecError('malformed', `relay message: need 5 bytes, have ${b.length}`);
  const view = new DataView(b.buffer, b.byteOffset, b.length);
  const id = view.getUint32(1);
  if (b[0] === RELAY_QUERY) {
    if (b.length !== 5) throw new RelayCodecError('malformed', 'relay QUERY must be 5 bytes');
    return { type: RELAY_QUERY, id };
  }
  if (b[0] !== RELAY_ANSWER) throw new RelayCodecError('malformed', `unknown relay message type ${b[0]}`);
  if (b.length < 6) throw new RelayCodecError('malformed', 'relay ANSWER truncated');
  const count = b[5]!;
  if (count > MAX_RELAY_CANDIDATES) throw new RelayCodecError('malformed', `${count} neighbours (max ${MAX_RELAY_CANDIDATES})`);
  if (b.length !== 6 + count * ENTRY_BYTES) throw new RelayCodecError('malformed', `relay ANSWER of ${count} neighbours must be ${6 + count * ENTRY_BYTES} bytes, got ${b.length}`);
  const neighbours: RelayCandidate[] = [];
  for (let i = 0; i < count; i++) {
    const o = 6 + i * ENTRY_BYTES;
    const rtt = view.getUint16(o + ADDRESS_BYTES);
    neighbours.push(rtt === RTT_UNKNOWN ? { address: bytesToAddress(b, o) } : { address: bytesToAddress(b, o), rttMs: rtt });
  }
  return { type: RELAY_ANSWER, id, neighbours };
}
