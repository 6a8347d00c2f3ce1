import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Identity, addressOfKey, verifySignature } from '../overlay/identity.js';

test('identity persists and signs verifiably', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'id-'));
  try {
    const a = Identity.loadOrCreate(dir);
    const b = Identity.loadOrCreate(dir);
    t.deepEqual(a.publicKey, b.publicKey);
    t.is(a.address, addressOfKey(a.publicKey));
    t.is(a.addressHex.length, 40);
    const msg = new TextEncoder().encode('hello');
    const sig = a.sign(msg);
    t.true(verifySignature(a.publicKey, msg, sig));
    t.false(verifySignature(a.publicKey, new TextEncoder().encode('hellp'), sig));
    t.false(verifySignature(Identity.generate().publicKey, msg, sig));
    t.false(verifySignature(a.publicKey.subarray(1), msg, sig));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fromSeed is deterministic', (t) => {
  const seed = new Uint8Array(32).fill(7);
  t.is(Identity.fromSeed(seed).address, Identity.fromSeed(seed).address);
  t.not(Identity.fromSeed(seed).address, Identity.fromSeed(new Uint8Array(32)).address);
});
