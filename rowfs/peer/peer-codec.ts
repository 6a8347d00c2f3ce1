// The peer block protocol between mounts of one image version (docs/images.md, "Peer blocks"): a
// mount asks another for consecutive blocks of one file, named by its path id (the 20 bytes of
// SHA-256 of the path that are also the proxy's path handle), and gets back the ones it holds in
// its verified block cache. One message per record of a TCP stream (frames.ts adds the length).
//
//   get     u8 1 | u32 id | 20 bytes file | u32 first | u16 count (1..MAX_BLOCKS_PER_REQUEST)
//   blocks  u8 2 | u32 id | u8 status | u32 first | u16 count | count x (u32 length | bytes),
//           length ABSENT_LENGTH = block not held (no bytes follow)
// The receiver checks every block against the manifest; the codec checks only shapes and bounds.
import { messageCodec, encodeToBytes, type BinaryCodec } from '../../lib/codec.js';
import { CodedError } from '../../lib/coded-error.js';

export const FILE_ID_BYTES = 20;
/** Blocks one get may ask for: with 64 KiB blocks, 4 MiB in one reply. */
export const MAX_BLOCKS_PER_REQUEST = 64;
/** Largest block a reply may carry (the manifest's largest block size). */
export const MAX_PEER_BLOCK_BYTES = 1 << 20;
/** Largest reply: header plus the blocks, bounded so a receiver can refuse a bigger frame up front. */
export const MAX_PEER_MESSAGE_BYTES = 12 + MAX_BLOCKS_PER_REQUEST * 4 + 8 * 1024 * 1024;
const ABSENT_LENGTH = 0xffffffff;

/** Blocks of `blockSize` bytes one get may ask for so that the reply fits MAX_PEER_MESSAGE_BYTES (64 KiB: 64; 1 MiB: 8). */
export function maxBlocksPerGet(blockSize: number): number {
  return Math.max(1, Math.min(MAX_BLOCKS_PER_REQUEST, Math.floor((MAX_PEER_MESSAGE_BYTES - BLOCKS_HEADER_BYTES) / (4 + blockSize))));
}
const GET = 1;
const BLOCKS = 2;
const GET_BYTES = 1 + 4 + FILE_ID_BYTES + 4 + 2;
const BLOCKS_HEADER_BYTES = 1 + 4 + 1 + 4 + 2;

export enum PeerStatus {
  /** The blocks held are in the reply (possibly none). */
  OK = 0,
  /** Over the upload budget right now: ask someone else. */
  BUSY = 1,
}

export interface PeerGet {
  type: 'get';
  id: number;
  file: Uint8Array;
  first: number;
  count: number;
}

export interface PeerReply {
  type: 'blocks';
  id: number;
  status: PeerStatus;
  first: number;
  /** One entry per block asked for; undefined = not held. */
  blocks: Array<Uint8Array | undefined>;
}

export type PeerMessage = PeerGet | PeerReply;

export type PeerCodecErrorCode = 'TRUNCATED' | 'BAD_TYPE' | 'BAD_VALUE' | 'TRAILING';

export class PeerCodecError extends CodedError<PeerCodecErrorCode> {}

function checkCount(n: number, what: string, error: (m: string) => Error): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_BLOCKS_PER_REQUEST) throw error(`${what}: block count ${n} outside 1..${MAX_BLOCKS_PER_REQUEST}`);
}
const onEncode = (m: string) => new RangeError(m);
const onDecode = (m: string) => new PeerCodecError('BAD_VALUE', m);

function encodingLength(m: PeerMessage): number {
  if (m.type === 'get') return GET_BYTES;
  let n = BLOCKS_HEADER_BYTES;
  for (const b of m.blocks) n += 4 + (b?.length ?? 0);
  return n;
}

function write(m: PeerMessage, out: Uint8Array): void {
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (!Number.isInteger(m.id) || m.id < 0 || m.id > 0xffffffff) throw new RangeError(`request id ${m.id}`);
  if (!Number.isInteger(m.first) || m.first < 0 || m.first > 0xffffffff) throw new RangeError(`first block ${m.first}`);
  if (m.type === 'get') {
    if (m.file.length !== FILE_ID_BYTES) throw new RangeError(`file id must be ${FILE_ID_BYTES} bytes`);
    checkCount(m.count, 'get', onEncode);
    v.setUint8(0, GET);
    v.setUint32(1, m.id);
    out.set(m.file, 5);
    v.setUint32(5 + FILE_ID_BYTES, m.first);
    v.setUint16(9 + FILE_ID_BYTES, m.count);
    return;
  }
  checkCount(m.blocks.length, 'blocks', onEncode);
  if (!(m.status in PeerStatus)) throw new RangeError(`status ${m.status}`);
  v.setUint8(0, BLOCKS);
  v.setUint32(1, m.id);
  v.setUint8(5, m.status);
  v.setUint32(6, m.first);
  v.setUint16(10, m.blocks.length);
  let at = BLOCKS_HEADER_BYTES;
  for (const b of m.blocks) {
    if (b && b.length > MAX_PEER_BLOCK_BYTES) throw new RangeError(`block of ${b.length} bytes`);
    v.setUint32(at, b ? b.length : ABSENT_LENGTH);
    at += 4;
    if (b) {
      out.set(b, at);
      at += b.length;
    }
  }
}

function read(bytes: Uint8Array): PeerMessage {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (n: number) => {
    if (bytes.length < n) throw new PeerCodecError('TRUNCATED', `peer message of ${bytes.length} bytes, need ${n}`);
  };
  need(1);
  const type = v.getUint8(0);
  if (type === GET) {
    need(GET_BYTES);
    if (bytes.length !== GET_BYTES) throw new PeerCodecError('TRAILING', `get of ${bytes.length} bytes`);
    const count = v.getUint16(9 + FILE_ID_BYTES);
    checkCount(count, 'get', onDecode);
    return { type: 'get', id: v.getUint32(1), file: bytes.slice(5, 5 + FILE_ID_BYTES), first: v.getUint32(5 + FILE_ID_BYTES), count };
  }
  if (type !== BLOCKS) throw new PeerCodecError('BAD_TYPE', `peer message type ${type}`);
  need(BLOCKS_HEADER_BYTES);
  const status = v.getUint8(5);
  if (!(status in PeerStatus)) throw onDecode(`status ${status}`);
  const count = v.getUint16(10);
  checkCount(count, 'blocks', onDecode);
  const blocks: Array<Uint8Array | undefined> = [];
  let at = BLOCKS_HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    need(at + 4);
    const length = v.getUint32(at);
    at += 4;
    if (length === ABSENT_LENGTH) {
      blocks.push(undefined);
      continue;
    }
    if (length > MAX_PEER_BLOCK_BYTES) throw onDecode(`block of ${length} bytes`);
    need(at + length);
    blocks.push(bytes.subarray(at, at + length));
    at += length;
  }
  if (at !== bytes.length) throw new PeerCodecError('TRAILING', `${bytes.length - at} bytes after the blocks`);
  return { type: 'blocks', id: v.getUint32(1), status, first: v.getUint32(6), blocks };
}

export const peerCodec: BinaryCodec<PeerMessage> = messageCodec<PeerMessage>({ encodingLength, write, read });
export const encodePeerMessage = (m: PeerMessage): Uint8Array => encodeToBytes(peerCodec, m);
export const decodePeerMessage = (bytes: Uint8Array): PeerMessage => peerCodec.decodeAt(bytes, 0).value;
