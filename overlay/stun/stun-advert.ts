// A member's STUN servers as it advertises them in the DHT (key STUN_ADVERT_KEY, one value per
// member), so that nodes learn servers from the overlay too, not only from the bootstrap endpoint
// they joined through. Pure codec:
//   version u8 (1) | count u8 (1..STUN_ADVERT_MAX_SERVERS) | count x (IPv4 address [4] | UDP port u16, 1..65535)
// The owner is the DHT record's signing key; the addresses are the member's claim and are only ever
// used as STUN servers (a wrong one costs a server-reflexive candidate, nothing else).
import { StunCodecError } from './stun-codec.js';

export const STUN_ADVERT_KEY = new TextEncoder().encode('stun/servers/v1');
export const STUN_ADVERT_VERSION = 1;
/** Addresses one member advertises at most (its listen host, or its interfaces' addresses). */
export const STUN_ADVERT_MAX_SERVERS = 4;

export interface StunEndpoint {
  /** Dotted quad. */
  address: string;
  port: number;
}

export function stunAdvertLength(servers: readonly StunEndpoint[]): number {
  return 2 + 6 * servers.length;
}

export function encodeStunAdvert(servers: readonly StunEndpoint[], buf?: Uint8Array, offset = 0): Uint8Array {
  if (servers.length < 1 || servers.length > STUN_ADVERT_MAX_SERVERS) throw new StunCodecError('bad-argument', `1..${STUN_ADVERT_MAX_SERVERS} servers, not ${servers.length}`);
  const out = buf ?? new Uint8Array(offset + stunAdvertLength(servers));
  if (offset < 0 || offset + stunAdvertLength(servers) > out.length) throw new StunCodecError('bad-argument', 'buffer too small');
  out[offset] = STUN_ADVERT_VERSION;
  out[offset + 1] = servers.length;
  servers.forEach((s, i) => {
    const parts = s.address.split('.');
    if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new StunCodecError('bad-argument', `bad IPv4 address '${s.address}'`);
    if (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535) throw new StunCodecError('bad-argument', `port ${s.port} out of range`);
    const at = offset + 2 + 6 * i;
    out.set(parts.map(Number), at);
    out[at + 4] = s.port >> 8;
    out[at + 5] = s.port & 0xff;
  });
  return out;
}

/** Decodes one advertisement at `offset`; it must fill the rest of `buf` (a DHT value is one advert). */
export function decodeStunAdvert(buf: Uint8Array, offset = 0): { servers: StunEndpoint[]; bytesUsed: number } {
  if (buf.length - offset < 2) throw new StunCodecError('bad-advert', 'truncated STUN advertisement');
  if (buf[offset] !== STUN_ADVERT_VERSION) throw new StunCodecError('bad-advert', `STUN advertisement version ${buf[offset]}`);
  const n = buf[offset + 1]!;
  if (n < 1 || n > STUN_ADVERT_MAX_SERVERS) throw new StunCodecError('bad-advert', `STUN advertisement with ${n} servers`);
  const used = 2 + 6 * n;
  if (buf.length - offset !== used) throw new StunCodecError('bad-advert', `STUN advertisement of ${buf.length - offset} bytes, want ${used}`);
  const servers: StunEndpoint[] = [];
  for (let i = 0; i < n; i++) {
    const at = offset + 2 + 6 * i;
    const port = (buf[at + 4]! << 8) | buf[at + 5]!;
    if (port === 0) throw new StunCodecError('bad-advert', 'port 0 in a STUN advertisement');
    servers.push({ address: Array.from(buf.subarray(at, at + 4)).join('.'), port });
  }
  return { servers, bytesUsed: used };
}
