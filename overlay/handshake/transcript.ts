// What both sides of a link sign and MAC. The transcript hash covers the network name, both DTLS
// certificate fingerprints (taken from the offer and the answer SDP, which the DTLS layer verifies
// against the certificates actually used), both Ed25519 public keys and both nonces, each in a fixed
// role order (offerer first). A signature over it ties "the key on the other end of this DTLS session"
// to the node's identity; the MAC, keyed from the network secret, proves membership without sending
// the secret. Role tags keep one side's AUTH from being reflected back as the other's.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { CodedError } from '../../lib/coded-error.js';

export type HandshakeRole = 'offerer' | 'answerer';

export class FingerprintError extends CodedError<'malformed'> {}

const TRANSCRIPT_LABEL = 'overlay-link-handshake/v1';
const NETWORK_KEY_LABEL = 'overlay-network-key/v1';
const utf8 = new TextEncoder();

/**
 * The DTLS fingerprint announced in an SDP (`a=fingerprint:sha-256 AB:CD:...`), normalised to
 * `sha-256 ABCD...` bytes. Exactly one distinct fingerprint must be present (RFC 8122 section 5).
 */
export function fingerprintFromSdp(sdp: string): Uint8Array {
  const found = new Set<string>();
  for (const m of sdp.matchAll(/^a=fingerprint:(\S+)\s+([0-9A-Fa-f:]+)\s*$/gm)) {
    found.add(`${m[1]!.toLowerCase()} ${m[2]!.replaceAll(':', '').toUpperCase()}`);
  }
  if (found.size === 0) throw new FingerprintError('malformed', 'SDP carries no a=fingerprint line');
  if (found.size > 1) throw new FingerprintError('malformed', 'SDP carries more than one distinct fingerprint');
  return utf8.encode([...found][0]!);
}

export interface TranscriptParts {
  network: string;
  offererFingerprint: Uint8Array;
  answererFingerprint: Uint8Array;
  offererKey: Uint8Array;
  answererKey: Uint8Array;
  offererNonce: Uint8Array;
  answererNonce: Uint8Array;
}

/** SHA-256 over the length-prefixed parts, in a fixed order. */
export function transcriptHash(p: TranscriptParts): Uint8Array {
  const h = createHash('sha256');
  const field = (b: Uint8Array) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    h.update(len).update(b);
  };
  field(utf8.encode(TRANSCRIPT_LABEL));
  field(utf8.encode(p.network));
  field(p.offererFingerprint);
  field(p.answererFingerprint);
  field(p.offererKey);
  field(p.answererKey);
  field(p.offererNonce);
  field(p.answererNonce);
  return new Uint8Array(h.digest());
}

/** The bytes one role signs and MACs: its role tag, then the transcript hash. */
export function roleBoundTranscript(role: HandshakeRole, hash: Uint8Array): Uint8Array {
  const tag = utf8.encode(`${role}:`);
  const out = new Uint8Array(tag.length + hash.length);
  out.set(tag);
  out.set(hash, tag.length);
  return out;
}

/**
 * The MAC key of a network: HMAC-SHA256(secret, label | network). Derived once per node; binding the
 * network name keeps two networks that happen to share a secret apart.
 */
export function networkKey(secret: Uint8Array, network: string): Uint8Array {
  return new Uint8Array(createHmac('sha256', secret).update(utf8.encode(NETWORK_KEY_LABEL + '\0' + network)).digest());
}

export function transcriptMac(key: Uint8Array, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', key).update(data).digest());
}

/** Constant-time equality for MACs. */
export function macEquals(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
