// The change journal's record payload (change-journal.ts): one commit's changes in a binary form.
// It replaced JSON with base64 handles, which cost more per create than the record's write(2)
// (docs/rowfs.md, "Where a create's time goes in the proxy").
// Layout, big-endian: u8 format version (1), then each change: u8 op, its fields in order.
//   integers (vid, parent, type, mainBlocks, ...): u64 < 2^53 (u32 high, u32 low)
//   strings (names, main index keys): u32 byte length, UTF-8
//   byte strings (handles, bitmaps): u32 byte length, bytes; a null handle is length 0xffffffff
// A JSON payload (earlier versions) starts with '[' (0x5b), never with a format version.
import { CodedError } from '../../lib/coded-error.js';

/** One change of a commit, in journal form. */
export type JournalChange =
  | { op: 'node'; vid: number; type: number; parent: number; name: string; main: Uint8Array | null; shadow: Uint8Array | null; mainBlocks: number }
  | { op: 'rmnode'; vid: number }
  | { op: 'name'; parent: number; name: string; vid: number }
  | { op: 'rmname'; parent: number; name: string }
  | { op: 'whiteout'; parent: number; name: string }
  | { op: 'rmwhiteout'; parent: number; name: string }
  | { op: 'bitmap'; vid: number; bytes: Uint8Array }
  | { op: 'mainIndex'; key: string; vid: number };

export const JOURNAL_FORMAT_VERSION = 1;

export type JournalCodecErrorCode =
  | 'TRUNCATED' // a field runs past the payload's end
  | 'BAD_VERSION' // a format version this code does not know
  | 'BAD_OP' // an op byte outside 1..8
  | 'BAD_INTEGER' // an integer past 2^53 - 1
  | 'UNENCODABLE'; // a name that UTF-8 cannot carry exactly (a lone surrogate)

export class JournalCodecError extends CodedError<JournalCodecErrorCode> {
  constructor(
    code: JournalCodecErrorCode,
    message: string,
  ) {
    super(code, `${code}: ${message}`);
  }
}

const OPS = ['node', 'rmnode', 'name', 'rmname', 'whiteout', 'rmwhiteout', 'bitmap', 'mainIndex'] as const;
const OP_CODE: Record<JournalChange['op'], number> = { node: 1, rmnode: 2, name: 3, rmname: 4, whiteout: 5, rmwhiteout: 6, bitmap: 7, mainIndex: 8 };
const NULL_BYTES = 0xffffffff;
const TWO_32 = 2 ** 32;

/** A lone surrogate (high not followed by low, or low not after high): UTF-8 would replace it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function stringBytes(s: string): number {
  if (LONE_SURROGATE.test(s)) throw new JournalCodecError('UNENCODABLE', 'a name with a lone surrogate');
  return 4 + Buffer.byteLength(s, 'utf8');
}

/** Bytes `changes` take encoded (version byte included). */
export function journalPayloadBytes(changes: readonly JournalChange[]): number {
  let n = 1;
  for (const c of changes) {
    n += 1;
    switch (c.op) {
      case 'node':
        n += 8 + 8 + 8 + stringBytes(c.name) + 4 + (c.main?.length ?? 0) + 4 + (c.shadow?.length ?? 0) + 8;
        break;
      case 'rmnode':
        n += 8;
        break;
      case 'name':
        n += 8 + stringBytes(c.name) + 8;
        break;
      case 'rmname':
      case 'whiteout':
      case 'rmwhiteout':
        n += 8 + stringBytes(c.name);
        break;
      case 'bitmap':
        n += 8 + 4 + c.bytes.length;
        break;
      case 'mainIndex':
        n += stringBytes(c.key) + 8;
        break;
    }
  }
  return n;
}

// The encoder's writers are module functions returning the next offset, not closures over it: a
// closure made per call loses its optimized code at every full GC (V8 holds it weakly once no
// instance lives) and is compiled again, which kept TurboFan busy for the whole of a proxy's run.

function putU64(buf: Buffer, at: number, v: number): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`journal integer out of range: ${v}`);
  buf.writeUInt32BE(Math.floor(v / TWO_32), at);
  buf.writeUInt32BE(v % TWO_32, at + 4);
  return at + 8;
}

function putString(buf: Buffer, at: number, s: string): number {
  const n = buf.write(s, at + 4, 'utf8');
  buf.writeUInt32BE(n, at);
  return at + 4 + n;
}

function putBytes(buf: Buffer, at: number, b: Uint8Array | null): number {
  if (b === null) {
    buf.writeUInt32BE(NULL_BYTES, at);
    return at + 4;
  }
  buf.writeUInt32BE(b.length, at);
  buf.set(b, at + 4);
  return at + 4 + b.length;
}

/** Writes `changes` at `offset` of `buf` (journalPayloadBytes long, checked by the caller); returns the end. */
export function encodeJournalChanges(buf: Buffer, offset: number, changes: readonly JournalChange[]): number {
  let at = offset;
  buf[at++] = JOURNAL_FORMAT_VERSION;
  for (const c of changes) {
    buf[at++] = OP_CODE[c.op];
    switch (c.op) {
      case 'node':
        at = putU64(buf, at, c.vid);
        at = putU64(buf, at, c.type);
        at = putU64(buf, at, c.parent);
        at = putString(buf, at, c.name);
        at = putBytes(buf, at, c.main);
        at = putBytes(buf, at, c.shadow);
        at = putU64(buf, at, c.mainBlocks);
        break;
      case 'rmnode':
        at = putU64(buf, at, c.vid);
        break;
      case 'name':
        at = putU64(buf, at, c.parent);
        at = putString(buf, at, c.name);
        at = putU64(buf, at, c.vid);
        break;
      case 'rmname':
      case 'whiteout':
      case 'rmwhiteout':
        at = putU64(buf, at, c.parent);
        at = putString(buf, at, c.name);
        break;
      case 'bitmap':
        at = putU64(buf, at, c.vid);
        at = putBytes(buf, at, c.bytes);
        break;
      case 'mainIndex':
        at = putString(buf, at, c.key);
        at = putU64(buf, at, c.vid);
        break;
    }
  }
  return at;
}

/** The changes of the payload in `buf[offset, end)`; byte strings are copies. Throws JournalCodecError. */
export function decodeJournalChanges(buf: Buffer, offset: number, end: number): JournalChange[] {
  let at = offset;
  const need = (n: number) => {
    if (at + n > end) throw new JournalCodecError('TRUNCATED', `${n} bytes needed at ${at - offset} of ${end - offset}`);
  };
  const u64 = () => {
    need(8);
    const hi = buf.readUInt32BE(at);
    const v = hi * TWO_32 + buf.readUInt32BE(at + 4);
    if (!Number.isSafeInteger(v)) throw new JournalCodecError('BAD_INTEGER', `${hi}:${buf.readUInt32BE(at + 4)}`);
    at += 8;
    return v;
  };
  const len = () => {
    need(4);
    const n = buf.readUInt32BE(at);
    at += 4;
    return n;
  };
  const str = () => {
    const n = len();
    need(n);
    const s = buf.toString('utf8', at, at + n);
    at += n;
    return s;
  };
  const bytes = (): Uint8Array | null => {
    const n = len();
    if (n === NULL_BYTES) return null;
    need(n);
    const b = new Uint8Array(buf.subarray(at, at + n)); // a copy, not a view of the file
    at += n;
    return b;
  };
  need(1);
  const version = buf[at++]!;
  if (version !== JOURNAL_FORMAT_VERSION) throw new JournalCodecError('BAD_VERSION', `format ${version}`);
  const out: JournalChange[] = [];
  while (at < end) {
    const op = OPS[buf[at++]! - 1];
    switch (op) {
      case 'node': {
        const vid = u64();
        const type = u64();
        const parent = u64();
        const name = str();
        const main = bytes();
        const shadow = bytes();
        out.push({ op, vid, type, parent, name, main, shadow, mainBlocks: u64() });
        break;
      }
      case 'rmnode':
        out.push({ op, vid: u64() });
        break;
      case 'name': {
        const parent = u64();
        const name = str();
        out.push({ op, parent, name, vid: u64() });
        break;
      }
      case 'rmname':
      case 'whiteout':
      case 'rmwhiteout': {
        const parent = u64();
        out.push({ op, parent, name: str() });
        break;
      }
      case 'bitmap': {
        const vid = u64();
        const b = bytes();
        if (b === null) throw new JournalCodecError('TRUNCATED', 'a bitmap without bytes');
        out.push({ op, vid, bytes: b });
        break;
      }
      case 'mainIndex': {
        const key = str();
        out.push({ op, key, vid: u64() });
        break;
      }
      default:
        throw new JournalCodecError('BAD_OP', `op ${buf[at - 1]}`);
    }
  }
  return out;
}
