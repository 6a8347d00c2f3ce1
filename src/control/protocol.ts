// The local control protocol between `overlay status|down|dht|ping` and a running `overlay up`:
// one JSON request line per connection on a unix socket in the node's state directory, one JSON
// response line back. Pure codec with strict validation.
import { isIpv4Address } from '../../lib/ipv4.js';
import { CodedError } from '../../lib/coded-error.js';

export const CONTROL_SOCKET_NAME = 'control.sock';
export const CONTROL_LINE_MAX_BYTES = 64 * 1024;
export const DHT_TEXT_MAX_BYTES = 8 * 1024;
export const DHT_TTL_MAX_S = 7 * 24 * 3600;
export const PING_COUNT_MAX = 100;
/** Ring addresses one `names` request may ask about. */
export const NAMES_REQUEST_MAX = 256;
/** Binary DHT values (base64 on the socket) up to the DHT's own cap. */
export const DHT_VALUE_MAX_BYTES = 16 * 1024;
/** Image services (serve, mount) a node lists in its status at once. */
export const IMAGE_ANNOUNCE_MAX = 64;
export const IMAGE_ANNOUNCE_DETAIL_MAX_BYTES = 4 * 1024;

export type ControlRequest =
  | { op: 'status' }
  | { op: 'down' }
  | { op: 'dht-put'; key: string; value: string; ttlS: number }
  | { op: 'dht-get'; key: string }
  /** Binary values (base64), exclusive create, removal: what programs on this machine use (images). */
  | { op: 'dht-store'; key: string; valueB64: string; ttlMs: number; exclusive: boolean }
  | { op: 'dht-fetch'; key: string }
  | { op: 'dht-remove'; key: string }
  /** A local image process (serve or mount) saying it runs; listed in status until `ttlS` passes. */
  | { op: 'image-announce'; id: string; role: 'serve' | 'mount'; app: string; version: string; detail: Record<string, unknown>; ttlS: number }
  | { op: 'image-withdraw'; id: string }
  /** Ping a node by ring address (40 hex) or by the virtual IP it holds (dotted quad). */
  | { op: 'ping'; address: string; count: number }
  | { op: 'ping'; vip: string; count: number }
  /** Short names of these nodes, where they have one (`overlay status`). */
  | { op: 'names'; addresses: string[] }
  /** The ring address of the node holding a virtual IP (its lease in the DHT), or null. */
  | { op: 'vip-owner'; vip: string };

export type ControlResponse = { ok: true; result: unknown } | { ok: false; error: string };

export class ControlProtocolError extends CodedError<'malformed'> {}

function vipOf(v: unknown): string {
  const vip = text(v, 'vip', 15);
  if (!isIpv4Address(vip)) throw new ControlProtocolError('malformed', 'vip must be a dotted-quad IPv4 address');
  return vip;
}

function text(v: unknown, what: string, max: number): string {
  if (typeof v !== 'string') throw new ControlProtocolError('malformed', `${what} must be a string`);
  if (v.length === 0) throw new ControlProtocolError('malformed', `${what} must not be empty`);
  if (Buffer.byteLength(v) > max) throw new ControlProtocolError('malformed', `${what} longer than ${max} bytes`);
  return v;
}

function int(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ControlProtocolError('malformed', `${what} must be an integer in ${min}..${max}`);
  return v;
}

/** Validates a request object (from JSON or from a caller). */
export function validateRequest(raw: unknown): ControlRequest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ControlProtocolError('malformed', 'request must be a JSON object');
  const r = raw as Record<string, unknown>;
  switch (r.op) {
    case 'status':
    case 'down':
      return { op: r.op };
    case 'dht-put':
      return { op: 'dht-put', key: text(r.key, 'key', DHT_TEXT_MAX_BYTES), value: text(r.value, 'value', DHT_TEXT_MAX_BYTES), ttlS: int(r.ttlS, 'ttlS', 1, DHT_TTL_MAX_S) };
    case 'dht-get':
      return { op: 'dht-get', key: text(r.key, 'key', DHT_TEXT_MAX_BYTES) };
    case 'dht-store': {
      const valueB64 = text(r.valueB64, 'valueB64', Math.ceil(DHT_VALUE_MAX_BYTES / 3) * 4);
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(valueB64)) throw new ControlProtocolError('malformed', 'valueB64 must be base64');
      if (typeof r.exclusive !== 'boolean') throw new ControlProtocolError('malformed', 'exclusive must be a boolean');
      return { op: 'dht-store', key: text(r.key, 'key', DHT_TEXT_MAX_BYTES), valueB64, ttlMs: int(r.ttlMs, 'ttlMs', 1000, DHT_TTL_MAX_S * 1000), exclusive: r.exclusive };
    }
    case 'dht-fetch':
    case 'dht-remove':
      return { op: r.op, key: text(r.key, 'key', DHT_TEXT_MAX_BYTES) };
    case 'image-announce': {
      if (r.role !== 'serve' && r.role !== 'mount') throw new ControlProtocolError('malformed', 'role must be serve or mount');
      const detail = r.detail;
      if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) throw new ControlProtocolError('malformed', 'detail must be an object');
      if (Buffer.byteLength(JSON.stringify(detail)) > IMAGE_ANNOUNCE_DETAIL_MAX_BYTES) throw new ControlProtocolError('malformed', `detail longer than ${IMAGE_ANNOUNCE_DETAIL_MAX_BYTES} bytes`);
      return {
        op: 'image-announce',
        id: text(r.id, 'id', 128),
        role: r.role,
        app: text(r.app, 'app', 64),
        version: text(r.version, 'version', 64),
        detail: detail as Record<string, unknown>,
        ttlS: int(r.ttlS, 'ttlS', 1, 3600),
      };
    }
    case 'image-withdraw':
      return { op: 'image-withdraw', id: text(r.id, 'id', 128) };
    case 'ping': {
      const count = int(r.count, 'count', 1, PING_COUNT_MAX);
      if (r.vip !== undefined) {
        if (r.address !== undefined) throw new ControlProtocolError('malformed', 'ping takes an address or a vip, not both');
        return { op: 'ping', vip: vipOf(r.vip), count };
      }
      const address = text(r.address, 'address', 40);
      if (!/^[0-9a-f]{40}$/.test(address)) throw new ControlProtocolError('malformed', 'address must be 40 lowercase hex characters');
      return { op: 'ping', address, count };
    }
    case 'names': {
      if (!Array.isArray(r.addresses) || r.addresses.length > NAMES_REQUEST_MAX) throw new ControlProtocolError('malformed', `addresses must be an array of at most ${NAMES_REQUEST_MAX}`);
      const addresses = r.addresses.map((a) => {
        if (typeof a !== 'string' || !/^[0-9a-f]{40}$/.test(a)) throw new ControlProtocolError('malformed', 'each address must be 40 lowercase hex characters');
        return a;
      });
      return { op: 'names', addresses };
    }
    case 'vip-owner':
      return { op: 'vip-owner', vip: vipOf(r.vip) };
    default:
      throw new ControlProtocolError('malformed', `unknown op ${JSON.stringify(r.op)}`);
  }
}

export function encodeRequest(req: ControlRequest): string {
  return JSON.stringify(validateRequest(req)) + '\n';
}

export function decodeRequest(line: string): ControlRequest {
  if (Buffer.byteLength(line) > CONTROL_LINE_MAX_BYTES) throw new ControlProtocolError('malformed', 'request line too long');
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw new ControlProtocolError('malformed', 'request is not valid JSON');
  }
  return validateRequest(raw);
}

export function encodeResponse(res: ControlResponse): string {
  return JSON.stringify(res, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString(16).padStart(40, '0') : v)) + '\n';
}

export function decodeResponse(line: string): ControlResponse {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw new ControlProtocolError('malformed', 'response is not valid JSON');
  }
  if (typeof raw !== 'object' || raw === null) throw new ControlProtocolError('malformed', 'response must be a JSON object');
  const r = raw as Record<string, unknown>;
  if (r.ok === true) return { ok: true, result: r.result };
  if (r.ok === false && typeof r.error === 'string') return { ok: false, error: r.error };
  throw new ControlProtocolError('malformed', 'response lacks ok/result or ok/error');
}
