// TFTP packet codec (RFC 1350, option extension RFC 2347). Pure functions with typed errors.
// The server's data path does not allocate packets through here: it writes DATA headers with
// writeDataHeader into a per-transfer buffer (see tftp-transfer.ts).
import { CodedError } from '../../lib/coded-error.js';
import { encodeToBytes, messageCodec, type BinaryCodec } from '../../lib/codec.js';

/** MALFORMED: not a TFTP packet we accept; UNKNOWN_MODE: a request whose mode is not octet or netascii. */
export type TftpDecodeErrorCode = 'MALFORMED' | 'UNKNOWN_MODE';

export class TftpDecodeError extends CodedError<TftpDecodeErrorCode> {}

export const TftpOpcode = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;

/** RFC 1350 section 5 error codes, plus 8 from RFC 2347. */
export const TftpErrorCode = {
  NOT_DEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  OPTION_REFUSED: 8,
} as const;

export const DATA_HEADER_BYTES = 4;
/** RFC 1350 block size without the blksize option. */
export const DEFAULT_BLOCK_BYTES = 512;
/** RFC 2348 blksize bounds. */
export const MIN_BLKSIZE_BYTES = 8;
export const MAX_BLKSIZE_BYTES = 65464;
/** Largest request we parse; RFC 2347 asks for <= 512 bytes, some clients send more. */
export const MAX_REQUEST_BYTES = 1500;

export type TftpPacket =
  | { op: 'RRQ' | 'WRQ'; filename: string; mode: string; options: Map<string, string> }
  | { op: 'DATA'; block: number; data: Uint8Array }
  | { op: 'ACK'; block: number }
  | { op: 'ERROR'; code: number; message: string }
  | { op: 'OACK'; options: Map<string, string> };

/** NUL-terminated strings from `start` to the end of `bytes`; the last must be terminated. */
function readStrings(bytes: Uint8Array, start: number): string[] {
  const out: string[] = [];
  let i = start;
  while (i < bytes.length) {
    const end = bytes.indexOf(0, i);
    if (end < 0) throw new TftpDecodeError('MALFORMED', 'string not NUL-terminated');
    out.push(Buffer.from(bytes.buffer, bytes.byteOffset + i, end - i).toString('latin1'));
    i = end + 1;
  }
  return out;
}

function readOptions(strings: string[]): Map<string, string> {
  if (strings.length % 2 !== 0) throw new TftpDecodeError('MALFORMED', 'option without a value');
  const options = new Map<string, string>();
  for (let i = 0; i < strings.length; i += 2) {
    const name = strings[i]!.toLowerCase();
    if (name.length === 0) throw new TftpDecodeError('MALFORMED', 'empty option name');
    if (options.has(name)) throw new TftpDecodeError('MALFORMED', `option ${name} given twice`);
    options.set(name, strings[i + 1]!);
  }
  return options;
}

export function decodeTftp(bytes: Uint8Array): TftpPacket {
  if (bytes.length < 4) throw new TftpDecodeError('MALFORMED', `packet too short: ${bytes.length} bytes`);
  const opcode = (bytes[0]! << 8) | bytes[1]!;
  const second = (bytes[2]! << 8) | bytes[3]!;
  switch (opcode) {
    case TftpOpcode.RRQ:
    case TftpOpcode.WRQ: {
      if (bytes.length > MAX_REQUEST_BYTES) throw new TftpDecodeError('MALFORMED', `request longer than ${MAX_REQUEST_BYTES} bytes`);
      const strings = readStrings(bytes, 2);
      if (strings.length < 2) throw new TftpDecodeError('MALFORMED', 'request without filename and mode');
      const [filename, mode, ...rest] = strings as [string, string, ...string[]];
      if (filename.length === 0) throw new TftpDecodeError('MALFORMED', 'empty filename');
      const lowerMode = mode.toLowerCase();
      // RFC 1350's "mail" mode is obsolete (RFC 1350 s1: it "should not be implemented or used").
      if (lowerMode !== 'octet' && lowerMode !== 'netascii') throw new TftpDecodeError('UNKNOWN_MODE', `unknown mode '${mode}'`);
      return { op: opcode === TftpOpcode.RRQ ? 'RRQ' : 'WRQ', filename, mode: lowerMode, options: readOptions(rest) };
    }
    case TftpOpcode.DATA:
      if (bytes.length > DATA_HEADER_BYTES + MAX_BLKSIZE_BYTES) throw new TftpDecodeError('MALFORMED', 'DATA larger than the largest block');
      return { op: 'DATA', block: second, data: bytes.slice(4) };
    case TftpOpcode.ACK:
      if (bytes.length !== 4) throw new TftpDecodeError('MALFORMED', `ACK of ${bytes.length} bytes`);
      return { op: 'ACK', block: second };
    case TftpOpcode.ERROR: {
      const strings = readStrings(bytes, 4);
      if (strings.length !== 1) throw new TftpDecodeError('MALFORMED', 'ERROR needs exactly one message string');
      return { op: 'ERROR', code: second, message: strings[0]! };
    }
    case TftpOpcode.OACK:
      return { op: 'OACK', options: readOptions(readStrings(bytes, 2)) };
    default:
      throw new TftpDecodeError('MALFORMED', `unknown opcode ${opcode}`);
  }
}

function checkString(s: string, what: string): Buffer {
  const b = Buffer.from(s, 'latin1');
  if (b.includes(0)) throw new RangeError(`${what} contains NUL`);
  return b;
}

/** The NUL-terminated strings of a request or OACK, checked (RangeError on what cannot be encoded). */
function packetStrings(packet: TftpPacket & { op: 'RRQ' | 'WRQ' | 'OACK' }): Buffer[] {
  const strings: string[] = [];
  if (packet.op !== 'OACK') {
    if (packet.filename.length === 0) throw new RangeError('empty filename');
    strings.push(packet.filename, packet.mode);
  } else if (packet.options.size === 0) {
    throw new RangeError('OACK needs at least one option (RFC 2347)');
  }
  for (const [k, v] of packet.options) strings.push(k, v);
  return strings.map((s) => checkString(s, packet.op === 'OACK' ? 'option' : 'request'));
}

function tftpLength(packet: TftpPacket): number {
  switch (packet.op) {
    case 'RRQ':
    case 'WRQ':
    case 'OACK':
      return 2 + packetStrings(packet).reduce((n, p) => n + p.length + 1, 0);
    case 'DATA':
      return DATA_HEADER_BYTES + packet.data.length;
    case 'ACK':
      return 4;
    case 'ERROR':
      return 5 + checkString(packet.message, 'error message').length;
  }
}

/** Writes a packet into `out` (zeroed, exactly tftpLength bytes). */
function writeTftp(packet: TftpPacket, out: Uint8Array): void {
  switch (packet.op) {
    case 'RRQ':
    case 'WRQ':
    case 'OACK': {
      out[1] = packet.op === 'RRQ' ? TftpOpcode.RRQ : packet.op === 'WRQ' ? TftpOpcode.WRQ : TftpOpcode.OACK;
      let i = 2;
      for (const p of packetStrings(packet)) {
        out.set(p, i);
        i += p.length + 1;
      }
      return;
    }
    case 'DATA':
      writeDataHeader(out, packet.block);
      out.set(packet.data, DATA_HEADER_BYTES);
      return;
    case 'ACK':
      out[1] = TftpOpcode.ACK;
      out[2] = (packet.block >> 8) & 255;
      out[3] = packet.block & 255;
      return;
    case 'ERROR':
      out[1] = TftpOpcode.ERROR;
      out[2] = (packet.code >> 8) & 255;
      out[3] = packet.code & 255;
      out.set(checkString(packet.message, 'error message'), 4);
      return;
  }
}

/** A TFTP packet fills its UDP datagram: decodeAt uses every byte from the offset on. */
export const tftpCodec: BinaryCodec<TftpPacket> = messageCodec({ encodingLength: tftpLength, write: writeTftp, read: decodeTftp });

export function encodeTftp(packet: TftpPacket): Uint8Array {
  return encodeToBytes(tftpCodec, packet);
}

/** Writes a DATA header for `block` (taken modulo 2^16: block numbers roll over) at the start of `buf`. */
export function writeDataHeader(buf: Uint8Array, block: number): void {
  buf[0] = 0;
  buf[1] = TftpOpcode.DATA;
  buf[2] = (block >>> 8) & 255;
  buf[3] = block & 255;
}

/** Fast path for the server: the block number of an ACK datagram, or -1 when it is not a well-formed ACK. */
export function ackBlockOf(bytes: Uint8Array): number {
  if (bytes.length !== 4 || bytes[0] !== 0 || bytes[1] !== TftpOpcode.ACK) return -1;
  return (bytes[2]! << 8) | bytes[3]!;
}
