// The relay header: what a tunnel end and the middle node put in front of a tunnelled frame. One
// fixed layout on both carriers: inside a LOCAL frame (kind LOCAL_RELAY) on the reliable control
// channel, and bare on the unordered data channel, where the op byte 0xA5 tells it apart from the IP
// forwarder's frames (magic 0x56). The middle node reads only this header and rewrites `peer`; the
// payload passes through untouched. Pure codec, every decode bounds-checked.
//
//   op u8 | tunnel u32 | peer address 20 | payload
//
//   OPEN    end -> middle: "open tunnel `tunnel` to `peer`"                payload: opener's X25519 key 32
//   INVITE  middle -> target: "`peer` asks for tunnel `tunnel` through me"  payload: OPEN's, untouched
//   ACCEPT  target -> middle -> opener: "go ahead"                          payload: target's X25519 key 32
//   CONTROL either way: one control-channel frame of the tunnel (handshake first, then sealed link
//           frames, tunnel-crypto.ts)
//   CLOSE   either way: the tunnel is gone                                       payload: reason u8
//   DATA    either way, data channel only: one data-channel packet of the tunnel
//
// `peer` is always the far end as seen by the receiver: an end writes the other end's address, the
// middle replaces it with the sender's (authenticated by the link it came on) before forwarding.
import type { RingAddress } from '../ring/ring.js';
import { ADDRESS_BYTES, bytesToAddress, RING_SIZE, writeAddress } from '../ring/ring.js';
import { CodedError } from '../../lib/coded-error.js';
import { encodeToBytes, messageCodec, type BinaryCodec } from '../../lib/codec.js';

export const RELAY_OP_OPEN = 1;
export const RELAY_OP_INVITE = 2;
export const RELAY_OP_CONTROL = 3;
export const RELAY_OP_CLOSE = 4;
export const RELAY_OP_ACCEPT = 5;
/** Data-channel marker; must differ from the IP forwarder's frame magic (0x56). */
export const RELAY_OP_DATA = 0xa5;

export type RelayOp = typeof RELAY_OP_OPEN | typeof RELAY_OP_INVITE | typeof RELAY_OP_ACCEPT | typeof RELAY_OP_CONTROL | typeof RELAY_OP_CLOSE | typeof RELAY_OP_DATA;
/** OPEN, INVITE and ACCEPT carry an ephemeral X25519 public key. */
export const RELAY_KEY_BYTES = 32;

export const RELAY_HEADER_BYTES = 1 + 4 + ADDRESS_BYTES;
/** A tunnelled frame is never larger than this (the control channel's own frame limit is 256 KiB). */
export const MAX_RELAY_PAYLOAD_BYTES = 255 * 1024;

/** Why a tunnel closed; carried in CLOSE. */
export enum RelayCloseReason {
  /** An end closed its link. */
  Closed = 1,
  /** The middle node has no (direct) link to the requested peer. */
  NoRoute = 2,
  /** The middle node carries as many tunnels as it accepts. */
  Busy = 3,
  /** The middle node lost its link to the other end. */
  PeerLost = 4,
  /** The tunnel exceeded the middle node's budget for reliable frames. */
  Overload = 5,
  /** The target refused (handshake failed, stopping, or too many tunnels). */
  Refused = 6,
  /** The handshake did not finish in time. */
  Timeout = 7,
}

export interface RelayHeader {
  op: RelayOp;
  tunnel: number;
  peer: RingAddress;
}

export interface RelayMessage extends RelayHeader {
  /** A view into the decoded bytes (no copy). */
  payload: Uint8Array;
}

/** A malformed relay header. Receivers count and drop it. */
export class RelayCodecError extends CodedError<'malformed'> {}

const OPS = new Set<number>([RELAY_OP_OPEN, RELAY_OP_INVITE, RELAY_OP_ACCEPT, RELAY_OP_CONTROL, RELAY_OP_CLOSE, RELAY_OP_DATA]);

function checkPayload(op: number, length: number): void {
  if (length > MAX_RELAY_PAYLOAD_BYTES) throw new RelayCodecError('malformed', `relay payload of ${length} bytes (max ${MAX_RELAY_PAYLOAD_BYTES})`);
  if ((op === RELAY_OP_OPEN || op === RELAY_OP_INVITE || op === RELAY_OP_ACCEPT) && length !== RELAY_KEY_BYTES) throw new RelayCodecError('malformed', `relay op ${op} carries exactly a ${RELAY_KEY_BYTES}-byte key`);
  if (op === RELAY_OP_CLOSE && length !== 1) throw new RelayCodecError('malformed', 'relay CLOSE carries exactly one reason byte');
}

function checkHeader(h: RelayHeader, payloadLength: number): void {
  if (!OPS.has(h.op)) throw new RelayCodecError('malformed', `unknown relay op ${h.op}`);
  if (!Number.isInteger(h.tunnel) || h.tunnel < 0 || h.tunnel > 0xffffffff) throw new RelayCodecError('malformed', `tunnel id ${h.tunnel} not a u32`);
  if (typeof h.peer !== 'bigint' || h.peer < 0n || h.peer >= RING_SIZE) throw new RelayCodecError('malformed', 'peer: not a 160-bit address');
  checkPayload(h.op, payloadLength);
}

/** A relay message fills its routed payload: decodeAt uses every byte from the offset on. */
export const relayCodec: BinaryCodec<RelayMessage> = messageCodec({
  encodingLength(m) {
    checkHeader(m, m.payload.length);
    return RELAY_HEADER_BYTES + m.payload.length;
  },
  write(m, out) {
    out[0] = m.op;
    new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(1, m.tunnel);
    writeAddress(m.peer, out, 5);
    out.set(m.payload, RELAY_HEADER_BYTES);
  },
  read: (bytes) => decodeRelay(bytes),
});

/** Header + payload in one allocation. */
export function encodeRelay(h: RelayHeader, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  return encodeToBytes(relayCodec, { op: h.op, tunnel: h.tunnel, peer: h.peer, payload });
}

export function encodeClose(tunnel: number, peer: RingAddress, reason: RelayCloseReason): Uint8Array {
  return encodeRelay({ op: RELAY_OP_CLOSE, tunnel, peer }, Uint8Array.of(reason));
}

export function decodeRelay(bytes: Uint8Array): RelayMessage {
  if (bytes.length < RELAY_HEADER_BYTES) throw new RelayCodecError('malformed', `relay header: need ${RELAY_HEADER_BYTES} bytes, have ${bytes.length}`);
  const op = bytes[0]!;
  if (!OPS.has(op)) throw new RelayCodecError('malformed', `unknown relay op ${op}`);
  const payload = bytes.subarray(RELAY_HEADER_BYTES);
  checkPayload(op, payload.length);
  if (op === RELAY_OP_CLOSE && !(payload[0]! in RelayCloseReason)) throw new RelayCodecError('malformed', `unknown close reason ${payload[0]}`);
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  return {
    op: op as RelayOp,
    tunnel: new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getUint32(1),
    peer: bytesToAddress(b, 5),
    payload,
  };
}

/**
 * The same bytes with `peer` replaced: what the middle node forwards. A copy (the input may be a view
 * into a receive buffer the transport reuses); the payload is not looked at.
 */
export function withPeer(bytes: Uint8Array, peer: RingAddress): Uint8Array {
  if (bytes.length < RELAY_HEADER_BYTES) throw new RelayCodecError('malformed', 'relay header truncated');
  const out = new Uint8Array(bytes);
  writeAddress(peer, out, 5);
  return out;
}

export function closeReasonName(reason: number): string {
  return RelayCloseReason[reason] ?? `reason ${reason}`;
}
