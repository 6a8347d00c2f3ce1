// A node's identity: an Ed25519 key pair persisted in its state directory, and the 160-bit ring
// address derived from it (first 160 bits of SHA-256 of the raw public key). Nobody can pick an
// address without the matching key, so addresses are bound to keys on every link and DHT record.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RingAddress } from './ring/ring.js';
import { makeDirectory } from '../lib/make-directory.js';
import { CodedError } from '../lib/coded-error.js';

export const PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const ADDRESS_BITS = 160;

// DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows it.
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export class IdentityError extends CodedError<'invalid'> {}

/** Ring address of a raw Ed25519 public key. */
export function addressOfKey(publicKey: Uint8Array): RingAddress {
  const digest = createHash('sha256').update(publicKey).digest();
  return BigInt('0x' + digest.subarray(0, ADDRESS_BITS / 8).toString('hex'));
}

function rawPublicKeyToKeyObject(publicKey: Uint8Array): KeyObject {
  if (publicKey.length !== PUBLIC_KEY_BYTES) throw new IdentityError('invalid', `public key must be ${PUBLIC_KEY_BYTES} bytes, got ${publicKey.length}`);
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]), format: 'der', type: 'spki' });
}

/** Verifies an Ed25519 signature by a raw public key; false (never a throw) for malformed input. */
export function verifySignature(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== PUBLIC_KEY_BYTES || signature.length !== SIGNATURE_BYTES) return false;
  try {
    return verify(null, data, rawPublicKeyToKeyObject(publicKey), signature);
  } catch {
    return false;
  }
}

export class Identity {
  readonly publicKey: Uint8Array;
  readonly address: RingAddress;
  private constructor(private readonly privateKey: KeyObject) {
    const der = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
    this.publicKey = new Uint8Array(der.subarray(der.length - PUBLIC_KEY_BYTES));
    this.address = addressOfKey(this.publicKey);
  }

  static generate(): Identity {
    return new Identity(generateKeyPairSync('ed25519').privateKey);
  }

  /** Deterministic identity from a 32-byte seed (simulations and tests). */
  static fromSeed(seed: Uint8Array): Identity {
    if (seed.length !== 32) throw new IdentityError('invalid', 'seed must be 32 bytes');
    // PKCS#8 wrapping of a raw Ed25519 private key.
    const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
    return new Identity(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }));
  }

  /** Loads `dir/identity.pem`, creating it (mode 0600, written atomically) on first use. */
  static loadOrCreate(dir: string): Identity {
    const file = join(dir, 'identity.pem');
    if (existsSync(file)) {
      try {
        return new Identity(createPrivateKey(readFileSync(file)));
      } catch (err) {
        throw new IdentityError('invalid', `cannot read identity ${file}: ${(err as Error).message}`);
      }
    }
    makeDirectory(dir, 0o700);
    const id = Identity.generate();
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, id.privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    renameSync(tmp, file);
    return id;
  }

  sign(data: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, data, this.privateKey));
  }

  /** 40 hex characters. */
  get addressHex(): string {
    return this.address.toString(16).padStart(ADDRESS_BITS / 4, '0');
  }
}
