// DHT messages. Requests travel from a client to the key's primary (routed to the node closest to
// the key, app tag APP_DHT), answers come back routed to the client; the primary talks to its
// replicas over direct links (LOCAL frames, kind LOCAL_DHT). msgpack bodies, shape-checked.
import { WireError } from '../wire/wire-error.js';
import { arrayOf, bytesUpTo, field, isBool, isSafeUint, isString, isUint32, pack, unpackObject } from '../wire/msgpack.js';
import { MAX_KEY_BYTES, recordFromWire, recordToWire, type SignedRecord } from './record.js';

export interface Copy { record: SignedRecord; ttlLeftMs: number }

export type DhtErrorCode = 'conflict' | 'invalid' | 'stale' | 'replication' | 'timeout';
const ERROR_CODES: readonly string[] = ['conflict', 'invalid', 'stale', 'replication', 'timeout'];

/** Client -> primary. */
export type DhtRequest =
  | { t: 'put'; id: number; record: SignedRecord; exclusive: boolean }
  /** `quick`: a hedged read; the answering node does not wait for one silent peer (see DhtService.gather). */
  | { t: 'get'; id: number; key: Uint8Array; quick?: boolean };
/** Primary -> client. */
export type DhtResponse =
  | { t: 'ok'; id: number; copies: Copy[] }
  | { t: 'err'; id: number; code: DhtErrorCode; /** With 'stale': the newer version held. */ heldSeq?: number };
/** Primary <-> replicas (id 0: no answer wanted). */
export type ReplicaMessage =
  | { t: 'store'; id: number; exclusive: boolean; copies: Copy[] }
  | { t: 'stored'; id: number; outcomes: string[] }
  | { t: 'fetch'; id: number; key: Uint8Array }
  | { t: 'copies'; id: number; copies: Copy[] }
  | { t: 'drop'; key: Uint8Array; owner: Uint8Array; seq: number };

export type DhtMessage = DhtRequest | DhtResponse | ReplicaMessage;

const MAX_COPIES = 256;

// Remaining life travels in whole milliseconds.
const copyToWire = (c: Copy) => ({ r: recordToWire(c.record), l: Math.max(0, Math.floor(c.ttlLeftMs)) });
function copyFromWire(v: unknown): Copy {
  if (typeof v !== 'object' || v === null) throw new WireError('bad-field', 'copy: not a map');
  const o = v as Record<string, unknown>;
  return { record: recordFromWire(o.r), ttlLeftMs: field(o, 'l', isSafeUint, 'copy') };
}
const isArray = (v: unknown): v is unknown[] => Array.isArray(v) && v.length <= MAX_COPIES;

export function encodeDhtMessage(m: DhtMessage): Uint8Array {
  switch (m.t) {
    case 'put':
      return pack({ t: m.t, id: m.id, r: recordToWire(m.record), x: m.exclusive });
    case 'get':
      return pack(m.quick ? { t: m.t, id: m.id, k: m.key, q: true } : { t: m.t, id: m.id, k: m.key });
    case 'fetch':
      return pack({ t: m.t, id: m.id, k: m.key });
    case 'ok':
    case 'copies':
      return pack({ t: m.t, id: m.id, c: m.copies.map(copyToWire) });
    case 'store':
      return pack({ t: m.t, id: m.id, x: m.exclusive, c: m.copies.map(copyToWire) });
    case 'err':
      return pack(m.heldSeq !== undefined ? { t: m.t, id: m.id, e: m.code, s: m.heldSeq } : { t: m.t, id: m.id, e: m.code });
    case 'stored':
      return pack({ t: m.t, id: m.id, o: m.outcomes });
    case 'drop':
      return pack({ t: m.t, k: m.key, w: m.owner, s: m.seq });
  }
}

export function decodeDhtMessage(b: Uint8Array): DhtMessage {
  const o = unpackObject(b, 'dht');
  const t = field(o, 't', isString, 'dht');
  const id = () => field(o, 'id', isUint32, 'dht');
  const copies = () => field(o, 'c', isArray, 'dht').map(copyFromWire);
  switch (t) {
    case 'put':
      return { t, id: id(), record: recordFromWire(o.r), exclusive: field(o, 'x', isBool, 'dht') };
    case 'get': {
      const key = field(o, 'k', bytesUpTo(MAX_KEY_BYTES), 'dht');
      return o.q !== undefined ? { t, id: id(), key, quick: field(o, 'q', isBool, 'dht') } : { t, id: id(), key };
    }
    case 'fetch':
      return { t, id: id(), key: field(o, 'k', bytesUpTo(MAX_KEY_BYTES), 'dht') };
    case 'ok':
    case 'copies':
      return { t, id: id(), copies: copies() };
    case 'store':
      return { t, id: id(), exclusive: field(o, 'x', isBool, 'dht'), copies: copies() };
    case 'err': {
      const code = field(o, 'e', isString, 'dht');
      if (!ERROR_CODES.includes(code)) throw new WireError('bad-field', `dht: unknown error code ${code}`);
      if (o.s !== undefined) return { t, id: id(), code: code as DhtErrorCode, heldSeq: field(o, 's', isSafeUint, 'dht') };
      return { t, id: id(), code: code as DhtErrorCode };
    }
    case 'stored':
      return { t, id: id(), outcomes: field(o, 'o', arrayOf(isString, MAX_COPIES), 'dht') };
    case 'drop':
      return { t, key: field(o, 'k', bytesUpTo(MAX_KEY_BYTES), 'dht'), owner: field(o, 'w', bytesUpTo(32), 'dht'), seq: field(o, 's', isSafeUint, 'dht') };
    default:
      throw new WireError('bad-field', `dht: unknown message ${t}`);
  }
}
