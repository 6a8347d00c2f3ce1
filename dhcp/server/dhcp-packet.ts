// BOOTP/DHCP message codec (RFC 2131 section 2, RFC 2132 options, RFC 3396 long options).
// Pure functions: decodeDhcp(bytes) -> DhcpPacket or DhcpDecodeError; encodeDhcp(packet) -> bytes, or a RangeError
// for a packet that cannot be encoded (the caller's bug, not bad input).
// Options are kept as raw values in wire order; dhcp-options.ts gives them types.
import { CodedError } from '../../lib/coded-error.js';
import { ipv4ToInt } from '../../lib/ipv4.js';
import { encodeToBytes, messageCodec, type BinaryCodec } from '../../lib/codec.js';

export class DhcpDecodeError extends CodedError<'MALFORMED'> {}

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
export const DHCP_MAGIC_COOKIE = 0x63825363;
/** Fixed BOOTP header (236 bytes) plus the magic cookie. */
export const DHCP_FIXED_BYTES = 240;
/** RFC 951/1542: replies shorter than a BOOTP message (300 bytes) confuse some old PXE ROMs. */
export const BOOTP_MIN_MESSAGE_BYTES = 300;
/** Broadcast bit in `flags` (RFC 2131 section 2, figure 2). */
export const FLAG_BROADCAST = 0x8000;

const SNAME_BYTES = 64;
const FILE_BYTES = 128;
const CHADDR_BYTES = 16;
const OPT_PAD = 0;
const OPT_END = 255;
const OPT_OVERLOAD = 52;

export interface DhcpPacket {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** Client hardware address: `hlen` bytes (<= 16). */
  chaddr: Uint8Array;
  sname: string;
  file: string;
  /** Option code -> value, in first-seen order; repeated codes are concatenated (RFC 3396). */
  options: Map<number, Uint8Array>;
}

function readIp(buf: Uint8Array, off: number): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

function writeIp(buf: Uint8Array, off: number, ip: string): void {
  const n = ipv4ToInt(ip); // throws Ipv4Error, a RangeError: a bad address is the caller's bug, not a bad packet
  buf[off] = n >>> 24;
  buf[off + 1] = (n >>> 16) & 255;
  buf[off + 2] = (n >>> 8) & 255;
  buf[off + 3] = n & 255;
}

function readCString(buf: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && buf[end] !== 0) end++;
  return Buffer.from(buf.buffer, buf.byteOffset + off, end - off).toString('latin1');
}

/** Parses an option area into `into`; returns the overload value (option 52) if present. */
function parseOptions(buf: Uint8Array, start: number, end: number, into: Map<number, Uint8Array>, where: string): void {
  let i = start;
  while (i < end) {
    const code = buf[i]!;
    if (code === OPT_PAD) {
      i++;
      continue;
    }
    if (code === OPT_END) return;
    if (i + 1 >= end) throw new DhcpDecodeError('MALFORMED', `option ${code} in ${where} has no length byte`);
    const len = buf[i + 1]!;
    if (i + 2 + len > end) throw new DhcpDecodeError('MALFORMED', `option ${code} in ${where} runs past the end (${len} bytes)`);
    const value = buf.slice(i + 2, i + 2 + len);
    const prev = into.get(code);
    into.set(code, prev ? concat(prev, value) : value);
    i += 2 + len;
  }
  // A missing END is tolerated: several clients pad to the end without one.
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

export function decodeDhcp(bytes: Uint8Array): DhcpPacket {
  if (bytes.length < DHCP_FIXED_BYTES) throw new DhcpDecodeError('MALFORMED', `message too short: ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const op = bytes[0]!;
  if (op !== BOOTREQUEST && op !== BOOTREPLY) throw new DhcpDecodeError('MALFORMED', `bad op ${op}`);
  const hlen = bytes[2]!;
  if (hlen > CHADDR_BYTES) throw new DhcpDecodeError('MALFORMED', `hardware address length ${hlen} > ${CHADDR_BYTES}`);
  if (view.getUint32(236) !== DHCP_MAGIC_COOKIE) throw new DhcpDecodeError('MALFORMED', 'missing DHCP magic cookie');
  const options = new Map<number, Uint8Array>();
  parseOptions(bytes, DHCP_FIXED_BYTES, bytes.length, options, 'options');
  let sname = readCString(bytes, 44, SNAME_BYTES);
  let file = readCString(bytes, 108, FILE_BYTES);
  const overload = options.get(OPT_OVERLOAD);
  if (overload) {
    if (overload.length !== 1 || overload[0]! < 1 || overload[0]! > 3) throw new DhcpDecodeError('MALFORMED', 'bad option overload value');
    // RFC 2131 section 4.1: options field first, then 'file', then 'sname'.
    if (overload[0]! & 1) {
      parseOptions(bytes, 108, 108 + FILE_BYTES, options, 'file');
      file = '';
    }
    if (overload[0]! & 2) {
      parseOptions(bytes, 44, 44 + SNAME_BYTES, options, 'sname');
      sname = '';
    }
    options.delete(OPT_OVERLOAD);
  }
  return {
    op,
    htype: bytes[1]!,
    hlen,
    hops: bytes[3]!,
    xid: view.getUint32(4),
    secs: view.getUint16(8),
    flags: view.getUint16(10),
    ciaddr: readIp(bytes, 12),
    yiaddr: readIp(bytes, 16),
    siaddr: readIp(bytes, 20),
    giaddr: readIp(bytes, 24),
    chaddr: bytes.slice(28, 28 + hlen),
    sname,
    file,
    options,
  };
}

export function encodingLength(packet: DhcpPacket): number {
  let n = DHCP_FIXED_BYTES + 1; // + END
  for (const value of packet.options.values()) n += Math.max(1, Math.ceil(value.length / 255)) * 2 + value.length;
  return Math.max(n, BOOTP_MIN_MESSAGE_BYTES);
}

/** Writes a packet into `out` (zeroed, exactly encodingLength bytes); options longer than 255 bytes are split (RFC 3396). */
function writeDhcp(packet: DhcpPacket, out: Uint8Array): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (packet.chaddr.length > CHADDR_BYTES) throw new RangeError('chaddr longer than 16 bytes');
  out[0] = packet.op;
  out[1] = packet.htype;
  out[2] = packet.hlen;
  out[3] = packet.hops;
  view.setUint32(4, packet.xid >>> 0);
  view.setUint16(8, packet.secs);
  view.setUint16(10, packet.flags);
  writeIp(out, 12, packet.ciaddr);
  writeIp(out, 16, packet.yiaddr);
  writeIp(out, 20, packet.siaddr);
  writeIp(out, 24, packet.giaddr);
  out.set(packet.chaddr, 28);
  const sname = Buffer.from(packet.sname, 'latin1');
  const file = Buffer.from(packet.file, 'latin1');
  // One byte stays free for the NUL terminator.
  if (sname.length >= SNAME_BYTES) throw new RangeError(`sname longer than ${SNAME_BYTES - 1} bytes`);
  if (file.length >= FILE_BYTES) throw new RangeError(`file longer than ${FILE_BYTES - 1} bytes`);
  out.set(sname, 44);
  out.set(file, 108);
  view.setUint32(236, DHCP_MAGIC_COOKIE);
  let i = DHCP_FIXED_BYTES;
  for (const [code, value] of packet.options) {
    if (!Number.isInteger(code) || code <= OPT_PAD || code >= OPT_END) throw new RangeError(`bad option code ${code}`);
    let off = 0;
    do {
      const chunk = value.subarray(off, off + 255);
      out[i++] = code;
      out[i++] = chunk.length;
      out.set(chunk, i);
      i += chunk.length;
      off += 255;
    } while (off < value.length);
  }
  out[i] = OPT_END;
}

/** A DHCP message fills its UDP datagram: decodeAt uses every byte from the offset on. */
export const dhcpCodec: BinaryCodec<DhcpPacket> = messageCodec({ encodingLength, write: writeDhcp, read: decodeDhcp });

/** Encodes a packet; RangeError on fields that cannot be encoded (the caller's bug, not bad input). */
export function encodeDhcp(packet: DhcpPacket): Uint8Array {
  return encodeToBytes(dhcpCodec, packet);
}

/** Client hardware address as aa:bb:cc:... */
export function formatHardwareAddress(chaddr: Uint8Array): string {
  return Array.from(chaddr, (b) => b.toString(16).padStart(2, '0')).join(':');
}
