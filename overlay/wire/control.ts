// Overlay control messages carried inside routed frames (app tag APP_FIND / APP_FOUND). FIND is
// routed to the node closest to a ring position; that node answers FOUND with its near set, so the
// asker learns both its place (joins) and a far-link partner (Symphony links).
import type { RingAddress } from '../ring/ring.js';
import { ADDRESS_BYTES, addressToBytes, bytesToAddress } from '../ring/ring.js';
import { arrayOf, bytesOfLength, field, isUint32, pack, unpackObject } from './msgpack.js';

export interface FindMessage { id: number }
export interface FoundMessage { id: number; near: RingAddress[] }

const MAX_NEAR = 64;

export function encodeFind(m: FindMessage): Uint8Array {
  return pack({ id: m.id });
}
export function decodeFind(b: Uint8Array): FindMessage {
  const o = unpackObject(b, 'find');
  return { id: field(o, 'id', isUint32, 'find') };
}

export function encodeFound(m: FoundMessage): Uint8Array {
  return pack({ id: m.id, near: m.near.slice(0, MAX_NEAR).map(addressToBytes) });
}
export function decodeFound(b: Uint8Array): FoundMessage {
  const o = unpackObject(b, 'found');
  const near = field(o, 'near', arrayOf(bytesOfLength(ADDRESS_BYTES), MAX_NEAR), 'found');
  return { id: field(o, 'id', isUint32, 'found'), near: near.map((a) => bytesToAddress(a)) };
}
