// End-to-end protection of a relay tunnel, so the middle node can neither read nor forge frames.
// Each end brings an ephemeral X25519 key (in OPEN/INVITE and ACCEPT); both public keys are part of
// the link handshake's transcript (in place of WebRTC's DTLS fingerprints), which both ends sign, so
// the middle cannot swap them. Keys: HKDF-SHA256(X25519 secret, salt = transcript hash) -> one
// ChaCha20-Poly1305 key per direction. Every tunnelled frame is sealed:
//
//   seq u64 | ciphertext | tag 16          nonce = channel u8 (1 control, 2 data) | 0 0 0 | seq u64
//
// Control frames must arrive with strictly increasing sequence numbers (the channel is ordered);
// data packets (unordered, lossy) pass a 1,024-packet replay window. Anything else is dropped.
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, hkdfSync, type KeyObject } from 'node:crypto';

export const TUNNEL_KEY_BYTES = 32;
export const SEAL_OVERHEAD_BYTES = 8 + 16;
const TAG_BYTES = 16;
const REPLAY_WINDOW = 1024;
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const KEY_LABEL = 'overlay-relay-tunnel-keys/v1';

export type TunnelChannel = 'control' | 'data';

/** An ephemeral X25519 key pair made from 32 caller-supplied random bytes (the injected Random). */
export class TunnelKeyPair {
  private readonly privateKey: KeyObject;
  readonly publicKey: Uint8Array;

  constructor(seed: Uint8Array) {
    if (seed.length !== TUNNEL_KEY_BYTES) throw new RangeError(`X25519 seed must be ${TUNNEL_KEY_BYTES} bytes`);
    this.privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
    const spki = createPublicKey(this.privateKey).export({ format: 'der', type: 'spki' });
    this.publicKey = new Uint8Array(spki.subarray(SPKI_X25519_PREFIX.length));
  }

  /** The shared secret with `peerPublic`; undefined for an unusable key (e.g. a low-order point). */
  agree(peerPublic: Uint8Array): Uint8Array | undefined {
    if (peerPublic.length !== TUNNEL_KEY_BYTES) return undefined;
    try {
      const pub = createPublicKey({ key: Buffer.concat([SPKI_X25519_PREFIX, peerPublic]), format: 'der', type: 'spki' });
      const secret = new Uint8Array(diffieHellman({ privateKey: this.privateKey, publicKey: pub }));
      return secret.some((b) => b !== 0) ? secret : undefined;
    } catch {
      return undefined;
    }
  }
}

/** Seals and opens one tunnel end's frames. */
export class TunnelCipher {
  private readonly sendKey: Uint8Array;
  private readonly receiveKey: Uint8Array;
  private readonly sendSeq = { control: 0, data: 0 };
  private lastControlSeq = -1;
  private dataMax = -1;
  private readonly dataSeen = new Float64Array(REPLAY_WINDOW).fill(-1);

  /** `offerer`: the end that opened the tunnel (it uses the first key to send). */
  constructor(secret: Uint8Array, transcript: Uint8Array, offerer: boolean) {
    const keys = new Uint8Array(hkdfSync('sha256', secret, transcript, KEY_LABEL, 2 * TUNNEL_KEY_BYTES));
    const first = keys.subarray(0, TUNNEL_KEY_BYTES);
    const second = keys.subarray(TUNNEL_KEY_BYTES);
    this.sendKey = offerer ? first : second;
    this.receiveKey = offerer ? second : first;
  }

  seal(channel: TunnelChannel, plaintext: Uint8Array): Uint8Array {
    const seq = this.sendSeq[channel]++;
    const iv = nonce(channel, seq);
    const c = createCipheriv('chacha20-poly1305', this.sendKey, iv, { authTagLength: TAG_BYTES });
    const out = new Uint8Array(8 + plaintext.length + TAG_BYTES);
    out.set(iv.subarray(4), 0);
    const body = c.update(plaintext);
    c.final();
    out.set(body, 8);
    out.set(c.getAuthTag(), 8 + body.length);
    return out;
  }

  /** The plaintext, or undefined if the frame is forged, corrupted or replayed. */
  open(channel: TunnelChannel, sealed: Uint8Array): Uint8Array | undefined {
    if (sealed.length < SEAL_OVERHEAD_BYTES) return undefined;
    const view = new DataView(sealed.buffer, sealed.byteOffset, sealed.length);
    const seq = view.getUint32(0) * 2 ** 32 + view.getUint32(4);
    if (!Number.isSafeInteger(seq)) return undefined;
    if (channel === 'control' ? seq <= this.lastControlSeq : !this.fresh(seq)) return undefined;
    let plain: Uint8Array;
    try {
      const d = createDecipheriv('chacha20-poly1305', this.receiveKey, nonce(channel, seq), { authTagLength: TAG_BYTES });
      d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      const body = d.update(sealed.subarray(8, sealed.length - TAG_BYTES));
      d.final();
      plain = new Uint8Array(body.buffer, body.byteOffset, body.length);
    } catch {
      return undefined;
    }
    if (channel === 'control') this.lastControlSeq = seq;
    else this.markSeen(seq);
    return plain;
  }

  /** Not yet seen and not older than the window. */
  private fresh(seq: number): boolean {
    if (seq > this.dataMax) return true;
    if (seq <= this.dataMax - REPLAY_WINDOW) return false;
    return this.dataSeen[seq % REPLAY_WINDOW] !== seq;
  }

  private markSeen(seq: number): void {
    this.dataSeen[seq % REPLAY_WINDOW] = seq;
    if (seq > this.dataMax) this.dataMax = seq;
  }
}

function nonce(channel: TunnelChannel, seq: number): Buffer {
  const iv = Buffer.alloc(12);
  iv[0] = channel === 'control' ? 1 : 2;
  iv.writeUInt32BE(Math.floor(seq / 2 ** 32), 4);
  iv.writeUInt32BE(seq >>> 0, 8);
  return iv;
}
