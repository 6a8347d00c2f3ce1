// Peer messages on a TCP stream: a u32 length, then the message. Frames are cut from the stream as
// bytes arrive; a length over the receiver's bound ends the connection before any of it is buffered.
import { peerCodec, decodePeerMessage, PeerCodecError, type PeerMessage } from './peer-codec.js';

const LENGTH_BYTES = 4;

/** The message with its length in front, encoded once into one buffer. */
export function frame(m: PeerMessage): Buffer {
  const length = peerCodec.encodingLength(m);
  const out = Buffer.allocUnsafe(LENGTH_BYTES + length);
  out.writeUInt32BE(length, 0);
  peerCodec.encodeInto(m, out, LENGTH_BYTES);
  return out;
}

/** What frames are read from: a socket, or a test's stand-in. */
export interface FrameSource {
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  readonly destroyed: boolean;
}

/**
 * Calls `onMessage` for each whole message arriving on `socket`; `onBad` once (and no more
 * messages) for a frame longer than `maxBytes` or one that does not decode.
 */
export function readFrames(socket: FrameSource, maxBytes: number, onMessage: (m: PeerMessage) => void, onBad: (why: string) => void): void {
  let parts: Buffer[] = [];
  let held = 0;
  let want = -1;
  let dead = false;
  const take = (n: number): Buffer => {
    const all = parts.length === 1 ? parts[0]! : Buffer.concat(parts, held);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    parts = rest.length ? [rest] : [];
    held = rest.length;
    return out;
  };
  socket.on('data', (chunk: Buffer) => {
    if (dead) return;
    parts.push(chunk);
    held += chunk.length;
    // A handler that ended the connection ends the decoding too (the rest of the chunk is unread).
    while (!socket.destroyed) {
      if (want < 0) {
        if (held < LENGTH_BYTES) return;
        want = take(LENGTH_BYTES).readUInt32BE(0);
        if (want > maxBytes) {
          dead = true;
          onBad(`frame of ${want} bytes (at most ${maxBytes})`);
          return;
        }
      }
      if (held < want) return;
      const body = take(want);
      want = -1;
      let m: PeerMessage;
      try {
        m = decodePeerMessage(body);
      } catch (e) {
        dead = true;
        onBad(e instanceof PeerCodecError ? e.message : `undecodable message: ${(e as Error).message}`);
        return;
      }
      onMessage(m);
    }
    dead = true;
  });
}
