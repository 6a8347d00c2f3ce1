// STUN messages (RFC 8489), as much as a Binding server needs: the header, attributes as TLVs, and the
// values of XOR-MAPPED-ADDRESS, ERROR-CODE, UNKNOWN-ATTRIBUTES and FINGERPRINT. Pure: decode at an
// offset returns the message and the bytes used, encode writes at an offset; anything malformed
// throws StunCodecError with a code (the server counts and drops it).
//
//   0               1               2               3
//   |0 0| message type (14)         | message length (16)           |  length: attributes only, % 4 == 0
//   | magic cookie 0x2112A442                                       |
//   | transaction id (96)                                           |
//   attributes: type (16) | length (16) | value, padded to 4 bytes

import { CodedError } from '../../lib/coded-error.js';
import type { BinaryCodec } from '../../lib/codec.js';

// ---- specification constants (RFC 8489) ----------------------------------------------------------
export const STUN_HEADER_BYTES = 20;
export const STUN_MAGIC_COOKIE = 0x2112a442;
export const STUN_TRANSACTION_ID_BYTES = 12;
/** Section 5: the message type's class bits C1 (bit 8) and C0 (bit 4). */
export enum StunClass {
  Request = 0,
  Indication = 1,
  SuccessResponse = 2,
  ErrorResponse = 3,
}
export const STUN_METHOD_BINDING = 0x001;
export const ATTR_MAPPED_ADDRESS = 0x0001;
export const ATTR_USERNAME = 0x0006;
export const ATTR_MESSAGE_INTEGRITY = 0x0008;
export const ATTR_ERROR_CODE = 0x0009;
export const ATTR_UNKNOWN_ATTRIBUTES = 0x000a;
export const ATTR_REALM = 0x0014;
export const ATTR_NONCE = 0x0015;
export const ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001c;
export const ATTR_PASSWORD_ALGORITHM = 0x001d;
export const ATTR_USERHASH = 0x001e;
export const ATTR_XOR_MAPPED_ADDRESS = 0x0020;
/** RFC 8445 (ICE) attributes that reach a STUN server harmlessly. */
export const ATTR_PRIORITY = 0x0024;
export const ATTR_USE_CANDIDATE = 0x0025;
export const ATTR_SOFTWARE = 0x8022;
export const ATTR_FINGERPRINT = 0x8028;
/** Section 14.7: CRC-32 of the message up to FINGERPRINT, XORed with "STUN". */
export const FINGERPRINT_XOR = 0x5354554e;
/** Section 14: types 0x0000-0x7FFF are comprehension-required (an unknown one gets 420). */
export const COMPREHENSION_OPTIONAL_FIRST = 0x8000;
export const ADDRESS_FAMILY_IPV4 = 0x01;
export const ADDRESS_FAMILY_IPV6 = 0x02;
/** Section 14.8: the reason phrase is at most 763 bytes. */
export const ERROR_REASON_MAX_BYTES = 763;

// ---- implementation bounds -------------------------------------------------------------------
/** Attributes decoded per message at most (a Binding request has 0-4; more is an attack or junk). */
export const STUN_MAX_ATTRIBUTES = 32;

export type StunCodecErrorCode =
  | 'truncated' // fewer bytes than the header or the length field says
  | 'not-stun' // the first two bits are not zero, or the magic cookie is wrong
  | 'bad-length' // the length field is not a multiple of 4, or an attribute runs past the message
  | 'bad-fingerprint' // FINGERPRINT not last, wrong size, or its CRC does not match
  | 'too-many-attributes'
  | 'bad-attribute' // an attribute value that cannot be what its type says
  | 'bad-argument' // encode: a value out of range
  | 'bad-advert'; // a member's STUN advertisement in the DHT (stun-advert.ts) that does not decode

export class StunCodecError extends CodedError<StunCodecErrorCode> {}

export interface StunAttribute {
  type: number;
  value: Uint8Array;
}

export interface StunMessage {
  method: number;
  cls: StunClass;
  transactionId: Uint8Array;
  /** In order, FINGERPRINT excluded (it is checked on decode and added on encode when asked). */
  attributes: StunAttribute[];
  /** Decode: the message carried a (valid) FINGERPRINT. Encode: append one. */
  fingerprint: boolean;
}

export interface TransportAddress {
  family: 4 | 6;
  /** Dotted quad or an IPv6 address in any form node:net accepts. */
  address: string;
  port: number;
}

/** Section 5: the 14-bit type interleaves the 12-bit method with the class bits C1 C0. */
export function messageType(method: number, cls: StunClass): number {
  if (!Number.isInteger(method) || method < 0 || method > 0xfff) throw new StunCodecError('bad-argument', `method ${method} out of range`);
  return ((method & 0xf80) << 2) | ((method & 0x070) << 1) | (method & 0x00f) | ((cls & 2) << 7) | ((cls & 1) << 4);
}

function splitType(type: number): { method: number; cls: StunClass } {
  const method = ((type & 0x3e00) >> 2) | ((type & 0x00e0) >> 1) | (type & 0x000f);
  const cls = (((type & 0x0100) >> 7) | ((type & 0x0010) >> 4)) as StunClass;
  return { method, cls };
}

const pad4 = (n: number) => (n + 3) & ~3;

/** Bytes `encodeStunMessage` writes for `m`. */
export function stunEncodingLength(m: StunMessage): number {
  let n = STUN_HEADER_BYTES;
  for (const a of m.attributes) n += 4 + pad4(a.value.length);
  return m.fingerprint ? n + 8 : n;
}

/** Encodes `m` into `buf` at `offset` (a new buffer if none); returns the buffer. */
export function encodeStunMessage(m: StunMessage, buf?: Uint8Array, offset = 0): Uint8Array {
  if (m.transactionId.length !== STUN_TRANSACTION_ID_BYTES) throw new StunCodecError('bad-argument', `transaction id must be ${STUN_TRANSACTION_ID_BYTES} bytes`);
  const total = stunEncodingLength(m);
  if (total - STUN_HEADER_BYTES > 0xffff) throw new StunCodecError('bad-argument', 'message longer than 65535 bytes of attributes');
  const out = buf ?? new Uint8Array(offset + total);
  if (offset < 0 || offset + total > out.length) throw new StunCodecError('bad-argument', 'buffer too small');
  const v = new DataView(out.buffer, out.byteOffset + offset, total);
  v.setUint16(0, messageType(m.method, m.cls));
  v.setUint16(2, total - STUN_HEADER_BYTES);
  v.setUint32(4, STUN_MAGIC_COOKIE);
  out.set(m.transactionId, offset + 8);
  let p = STUN_HEADER_BYTES;
  for (const a of m.attributes) {
    if (!Number.isInteger(a.type) || a.type < 0 || a.type > 0xffff || a.type === ATTR_FINGERPRINT) throw new StunCodecError('bad-argument', `attribute type ${a.type} cannot be encoded`);
    if (a.value.length > 0xffff) throw new StunCodecError('bad-argument', 'attribute value longer than 65535 bytes');
    v.setUint16(p, a.type);
    v.setUint16(p + 2, a.value.length);
    out.set(a.value, offset + p + 4);
    out.fill(0, offset + p + 4 + a.value.length, offset + p + 4 + pad4(a.value.length));
    p += 4 + pad4(a.value.length);
  }
  if (m.fingerprint) {
    v.setUint16(p, ATTR_FINGERPRINT);
    v.setUint16(p + 2, 4);
    v.setUint32(p + 4, (crc32(out.subarray(offset, offset + p)) ^ FINGERPRINT_XOR) >>> 0);
  }
  return out;
}

/**
 * Decodes one STUN message at `offset`. `bytesUsed` is 20 + the length field (datagram callers
 * compare it with the datagram's size). FINGERPRINT, if present, must be last and match (section 14.7).
 */
export function decodeStunMessage(buf: Uint8Array, offset = 0): { message: StunMessage; bytesUsed: number } {
  if (offset < 0 || buf.length - offset < STUN_HEADER_BYTES) throw new StunCodecError('truncated', `${Math.max(0, buf.length - offset)} bytes, a STUN header is ${STUN_HEADER_BYTES}`);
  const v = new DataView(buf.buffer, buf.byteOffset + offset, buf.length - offset);
  const type = v.getUint16(0);
  if (type & 0xc000) throw new StunCodecError('not-stun', 'the first two bits are not zero');
  if (v.getUint32(4) !== STUN_MAGIC_COOKIE) throw new StunCodecError('not-stun', 'wrong magic cookie');
  const length = v.getUint16(2);
  if (length % 4 !== 0) throw new StunCodecError('bad-length', `message length ${length} is not a multiple of 4`);
  const total = STUN_HEADER_BYTES + length;
  if (buf.length - offset < total) throw new StunCodecError('truncated', `message length says ${total} bytes, ${buf.length - offset} present`);
  const attributes: StunAttribute[] = [];
  let fingerprint = false;
  let p = STUN_HEADER_BYTES;
  while (p < total) {
    if (fingerprint) throw new StunCodecError('bad-fingerprint', 'an attribute after FINGERPRINT');
    if (total - p < 4) throw new StunCodecError('bad-length', 'attribute header runs past the message');
    const at = v.getUint16(p);
    const alen = v.getUint16(p + 2);
    if (p + 4 + pad4(alen) > total) throw new StunCodecError('bad-length', `attribute 0x${at.toString(16)} runs past the message`);
    if (at === ATTR_FINGERPRINT) {
      if (alen !== 4) throw new StunCodecError('bad-fingerprint', `FINGERPRINT of ${alen} bytes`);
      // The CRC covers the header with its final length, up to this attribute.
      const expect = (crc32(buf.subarray(offset, offset + p)) ^ FINGERPRINT_XOR) >>> 0;
      if (v.getUint32(p + 4) !== expect) throw new StunCodecError('bad-fingerprint', 'FINGERPRINT does not match');
      fingerprint = true;
    } else {
      if (attributes.length >= STUN_MAX_ATTRIBUTES) throw new StunCodecError('too-many-attributes', `more than ${STUN_MAX_ATTRIBUTES} attributes`);
      attributes.push({ type: at, value: Uint8Array.from(buf.subarray(offset + p + 4, offset + p + 4 + alen)) });
    }
    p += 4 + pad4(alen);
  }
  const { method, cls } = splitType(type);
  return { message: { method, cls, transactionId: Uint8Array.from(buf.subarray(offset + 8, offset + 20)), attributes, fingerprint }, bytesUsed: total };
}

// ---- attribute values ---------------------------------------------------------------------------

/** Section 14.2: XOR-MAPPED-ADDRESS value for `a` in a message with `transactionId`. */
export function encodeXorMappedAddress(a: TransportAddress, transactionId: Uint8Array): Uint8Array {
  if (!Number.isInteger(a.port) || a.port < 0 || a.port > 0xffff) throw new StunCodecError('bad-argument', `port ${a.port} out of range`);
  const ip = a.family === 4 ? ipv4Bytes(a.address) : ipv6Bytes(a.address);
  const out = new Uint8Array(4 + ip.length);
  out[1] = a.family === 4 ? ADDRESS_FAMILY_IPV4 : ADDRESS_FAMILY_IPV6;
  const x = (a.port ^ (STUN_MAGIC_COOKIE >>> 16)) & 0xffff;
  out[2] = x >> 8;
  out[3] = x & 0xff;
  const mask = xorMask(transactionId);
  for (let i = 0; i < ip.length; i++) out[4 + i] = ip[i]! ^ mask[i]!;
  return out;
}

export function decodeXorMappedAddress(value: Uint8Array, transactionId: Uint8Array): TransportAddress {
  const family = value[1];
  const size = family === ADDRESS_FAMILY_IPV4 ? 4 : family === ADDRESS_FAMILY_IPV6 ? 16 : 0;
  if (size === 0 || value.length !== 4 + size) throw new StunCodecError('bad-attribute', `XOR-MAPPED-ADDRESS with family ${family} and ${value.length} bytes`);
  const port = (((value[2]! << 8) | value[3]!) ^ (STUN_MAGIC_COOKIE >>> 16)) & 0xffff;
  const mask = xorMask(transactionId);
  const ip = value.subarray(4).map((b, i) => b ^ mask[i]!);
  if (size === 4) return { family: 4, address: ip.join('.'), port };
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip[i]! << 8) | ip[i + 1]!).toString(16));
  return { family: 6, address: groups.join(':'), port };
}

/** Section 14.8: ERROR-CODE value (class = code / 100, number = code % 100, then a UTF-8 reason). */
export function encodeErrorCode(code: number, reason: string): Uint8Array {
  if (!Number.isInteger(code) || code < 300 || code > 699) throw new StunCodecError('bad-argument', `error code ${code} out of range`);
  const text = new TextEncoder().encode(reason).subarray(0, ERROR_REASON_MAX_BYTES);
  const out = new Uint8Array(4 + text.length);
  out[2] = Math.floor(code / 100);
  out[3] = code % 100;
  out.set(text, 4);
  return out;
}

export function decodeErrorCode(value: Uint8Array): { code: number; reason: string } {
  if (value.length < 4 || value.length > 4 + ERROR_REASON_MAX_BYTES) throw new StunCodecError('bad-attribute', `ERROR-CODE of ${value.length} bytes`);
  const cls = value[2]! & 0x07;
  const num = value[3]!;
  if (cls < 3 || cls > 6 || num > 99) throw new StunCodecError('bad-attribute', `ERROR-CODE class ${cls} number ${num}`);
  let reason: string;
  try {
    reason = new TextDecoder('utf-8', { fatal: true }).decode(value.subarray(4));
  } catch {
    throw new StunCodecError('bad-attribute', 'ERROR-CODE reason is not UTF-8');
  }
  return { code: cls * 100 + num, reason };
}

/** Section 14.9: UNKNOWN-ATTRIBUTES value, a list of 16-bit types. */
export function encodeUnknownAttributes(types: readonly number[]): Uint8Array {
  const out = new Uint8Array(types.length * 2);
  types.forEach((t, i) => {
    out[2 * i] = (t >> 8) & 0xff;
    out[2 * i + 1] = t & 0xff;
  });
  return out;
}

export function decodeUnknownAttributes(value: Uint8Array): number[] {
  if (value.length % 2 !== 0) throw new StunCodecError('bad-attribute', `UNKNOWN-ATTRIBUTES of ${value.length} bytes`);
  const out: number[] = [];
  for (let i = 0; i < value.length; i += 2) out.push((value[i]! << 8) | value[i + 1]!);
  return out;
}

function xorMask(transactionId: Uint8Array): Uint8Array {
  if (transactionId.length !== STUN_TRANSACTION_ID_BYTES) throw new StunCodecError('bad-argument', `transaction id must be ${STUN_TRANSACTION_ID_BYTES} bytes`);
  const m = new Uint8Array(16);
  new DataView(m.buffer).setUint32(0, STUN_MAGIC_COOKIE);
  m.set(transactionId, 4);
  return m;
}

function ipv4Bytes(s: string): Uint8Array {
  const parts = s.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new StunCodecError('bad-argument', `bad IPv4 address '${s}'`);
  return Uint8Array.from(parts.map(Number));
}

function ipv6Bytes(s: string): Uint8Array {
  // IPv4-mapped tails (::ffff:1.2.3.4) are written as two groups first.
  const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (m) {
    const b = ipv4Bytes(m[2]!);
    s = `${m[1]}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) throw new StunCodecError('bad-argument', `bad IPv6 address '${s}'`);
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || (halves.length === 2 && missing < 1)) throw new StunCodecError('bad-argument', `bad IPv6 address '${s}'`);
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new StunCodecError('bad-argument', `bad IPv6 address '${s}'`);
    const n = parseInt(g, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  });
  return out;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ITU V.42, as in RFC 1952 section 8). */
export function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The same codec in the shape every binary codec here has (lib/codec.ts). */
export const stunCodec: BinaryCodec<StunMessage> = {
  encodingLength: stunEncodingLength,
  encodeInto(m, out, offset) {
    const length = stunEncodingLength(m);
    if (!Number.isInteger(offset) || offset < 0 || out.length - offset < length) throw new RangeError(`buffer too small: need ${length} bytes at offset ${offset}`);
    encodeStunMessage(m, out, offset);
    return length;
  },
  decodeAt(bytes, offset) {
    const { message, bytesUsed } = decodeStunMessage(bytes, offset);
    return { value: message, bytesUsed };
  },
};
