import test from 'ava';
import fc from 'fast-check';
import { Identity } from '../../overlay/identity.js';
import { LinkHandshake, type HandshakeOutcome, type HandshakeParams } from '../../overlay/handshake/handshake.js';
import { decodeHandshake, encodeHandshake, HandshakeCodecError, HandshakeType, RefuseReason, type HandshakeMessage } from '../../overlay/handshake/messages.js';
import { fingerprintFromSdp, FingerprintError, networkKey } from '../../overlay/handshake/transcript.js';
import { seededRandom } from '../../lib/random.js';

const enc = (s: string) => new TextEncoder().encode(s);
const rnd = seededRandom(42);
const FP_A = enc('sha-256 AA01');
const FP_B = enc('sha-256 BB02');

function pair(over: { a?: Partial<HandshakeParams>; b?: Partial<HandshakeParams> } = {}) {
  const ia = Identity.fromSeed(new Uint8Array(32).fill(1));
  const ib = Identity.fromSeed(new Uint8Array(32).fill(2));
  const key = networkKey(enc('the network secret'), 'net');
  const a = new LinkHandshake({
    role: 'offerer', network: 'net', networkKey: key, signer: ia, localFingerprint: FP_A, remoteFingerprint: FP_B, nonce: rnd.bytes(32), expectedRemote: ib.address, ...over.a,
  });
  const b = new LinkHandshake({
    role: 'answerer', network: 'net', networkKey: key, signer: ib, localFingerprint: FP_B, remoteFingerprint: FP_A, nonce: rnd.bytes(32), expectedRemote: ia.address, ...over.b,
  });
  return { a, b, ia, ib };
}

/** Runs both state machines against each other over an in-order pipe; returns both outcomes. */
function run(a: LinkHandshake, b: LinkHandshake, tamper: (from: 'a' | 'b', f: Uint8Array) => Uint8Array = (_, f) => f) {
  const toB = [a.start()];
  const toA = [b.start()];
  for (let round = 0; round < 10 && (toA.length || toB.length); round++) {
    for (const f of toB.splice(0)) toA.push(...b.receive(tamper('a', f)).send);
    for (const f of toA.splice(0)) toB.push(...a.receive(tamper('b', f)).send);
  }
  return { a: a.outcome, b: b.outcome };
}

const accepted = (o?: HandshakeOutcome) => (o?.accepted ? o : undefined);
const refused = (o?: HandshakeOutcome) => (o && !o.accepted ? o : undefined);

test('members with the same secret accept each other and learn the authenticated key', (t) => {
  const { a, b, ia, ib } = pair();
  const r = run(a, b);
  t.deepEqual(accepted(r.a)?.remoteKey, ib.publicKey);
  t.is(accepted(r.a)?.remote, ib.address);
  t.deepEqual(accepted(r.b)?.remoteKey, ia.publicKey);
});

test('a different secret is refused by both sides as BadSecret', (t) => {
  const { a, b } = pair({ b: { networkKey: networkKey(enc('another secret'), 'net') } });
  const r = run(a, b);
  t.is(refused(r.a)?.reason, RefuseReason.BadSecret);
  t.is(refused(r.b)?.reason, RefuseReason.BadSecret);
  t.regex(refused(r.a)!.detail, /network secret mismatch/);
});

test('the same secret under another network name is refused', (t) => {
  const { a, b } = pair({ b: { network: 'othernet', networkKey: networkKey(enc('the network secret'), 'othernet') } });
  const r = run(a, b);
  t.false(r.a?.accepted);
  t.false(r.b?.accepted);
});

test('a fingerprint mismatch (a man in the middle of signalling) breaks the signature', (t) => {
  // b believes the offerer's DTLS certificate is some other one: the transcripts differ.
  const { a, b } = pair({ b: { remoteFingerprint: enc('sha-256 EE99') } });
  const r = run(a, b);
  t.false(r.a?.accepted);
  t.false(r.b?.accepted);
});

test('a forged signature with the right secret is refused as BadSignature', (t) => {
  const { a, b } = pair();
  const r = run(a, b, (from, f) => {
    if (from === 'b' && f[0] === HandshakeType.Auth) {
      const g = f.slice();
      g[10]! ^= 0xff; // inside the signature, MAC untouched
      return g;
    }
    return f;
  });
  t.is(refused(r.a)?.reason, RefuseReason.BadSignature);
  t.is(refused(r.b)?.reason, RefuseReason.BadSignature);
  t.true(refused(r.b)!.byPeer, 'b learns it was refused');
});

test('a key that does not hash to the dialled address is refused as AddressMismatch', (t) => {
  const { a, b } = pair({ a: { expectedRemote: 12345n } });
  const r = run(a, b);
  t.is(refused(r.a)?.reason, RefuseReason.AddressMismatch);
  t.false(r.b?.accepted);
});

test('out-of-order, repeated, reflected and garbage frames are protocol errors', (t) => {
  const { a, ia } = pair();
  const auth = encodeHandshake({ type: HandshakeType.Auth, signature: new Uint8Array(64), mac: new Uint8Array(32) });
  t.is(refused(a.receive(auth).outcome)?.reason, RefuseReason.ProtocolError);

  const p2 = pair();
  t.is(refused(p2.a.receive(Uint8Array.of(9, 9, 9)).outcome)?.reason, RefuseReason.ProtocolError);

  const p3 = pair({ a: { expectedRemote: undefined } });
  const own = encodeHandshake({ type: HandshakeType.Hello, publicKey: ia.publicKey, nonce: new Uint8Array(32) });
  t.is(refused(p3.a.receive(own).outcome)?.reason, RefuseReason.ProtocolError, 'our own key reflected back');

  // Reflection of a's own AUTH: role tags make it fail.
  const p4 = pair();
  const hb = p4.b.start();
  const authA = p4.a.receive(hb).send[0]!;
  t.false(p4.a.receive(authA).outcome?.accepted);

  // CONFIRM before our own verification is refused.
  const p6 = pair();
  p6.a.receive(p6.b.start());
  t.is(refused(p6.a.receive(encodeHandshake({ type: HandshakeType.Confirm })).outcome)?.reason, RefuseReason.ProtocolError);

  // After an outcome the machine is inert.
  const p5 = pair();
  run(p5.a, p5.b);
  t.deepEqual(p5.a.receive(Uint8Array.of(1)).send, []);
});

test('handshake codec round-trips every message', (t) => {
  const msgs: HandshakeMessage[] = [
    { type: HandshakeType.Hello, publicKey: rnd.bytes(32), nonce: rnd.bytes(32) },
    { type: HandshakeType.Auth, signature: rnd.bytes(64), mac: rnd.bytes(32) },
    { type: HandshakeType.Refuse, reason: RefuseReason.BadSecret, text: '' },
    { type: HandshakeType.Refuse, reason: RefuseReason.ProtocolError, text: 'déjà vu' },
    { type: HandshakeType.Confirm },
  ];
  for (const m of msgs) {
    const bytes = encodeHandshake(m);
    t.deepEqual(decodeHandshake(bytes), m);
    t.deepEqual(encodeHandshake(decodeHandshake(bytes)), bytes);
  }
  t.throws(() => encodeHandshake({ type: HandshakeType.Hello, publicKey: new Uint8Array(31), nonce: new Uint8Array(32) }), { instanceOf: HandshakeCodecError });
  t.throws(() => encodeHandshake({ type: HandshakeType.Refuse, reason: RefuseReason.BadSecret, text: 'x'.repeat(201) }), { instanceOf: HandshakeCodecError });
});

test('handshake decoder rejects listed attack inputs with HandshakeCodecError', (t) => {
  const hello = encodeHandshake({ type: HandshakeType.Hello, publicKey: new Uint8Array(32), nonce: new Uint8Array(32) });
  const cases: Array<[string, Uint8Array]> = [
    ['empty', new Uint8Array(0)],
    ['one byte', Uint8Array.of(1)],
    ['wrong version', Uint8Array.of(1, 2, ...new Uint8Array(64))],
    ['truncated HELLO', hello.subarray(0, 65)],
    ['HELLO with trailing byte', Uint8Array.of(...hello, 0)],
    ['unknown type', Uint8Array.of(7, 1)],
    ['CONFIRM with payload', Uint8Array.of(4, 1, 0)],
    ['REFUSE unknown reason', Uint8Array.of(3, 1, 99, 0)],
    ['REFUSE length past end', Uint8Array.of(3, 1, 1, 5, 65)],
    ['REFUSE bad UTF-8', Uint8Array.of(3, 1, 1, 1, 0xff)],
  ];
  for (const [what, bytes] of cases) t.throws(() => decodeHandshake(bytes), { instanceOf: HandshakeCodecError }, what);
});

test('fuzz: decoding random or mutated bytes returns a message or throws HandshakeCodecError', (t) => {
  const seeds = [
    encodeHandshake({ type: HandshakeType.Hello, publicKey: rnd.bytes(32), nonce: rnd.bytes(32) }),
    encodeHandshake({ type: HandshakeType.Auth, signature: rnd.bytes(64), mac: rnd.bytes(32) }),
    encodeHandshake({ type: HandshakeType.Refuse, reason: RefuseReason.BadSecret, text: 'abc' }),
  ];
  const mutated = fc.tuple(fc.constantFrom(...seeds), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat({ max: 3 })).map(([s, i, v, cut]) => {
    const b = s.slice(0, Math.max(0, s.length - cut));
    if (b.length) b[i % b.length] = v;
    return b;
  });
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 120 }), mutated), (bytes) => {
      try {
        const m = decodeHandshake(bytes);
        return encodeHandshake(m).length === bytes.length;
      } catch (err) {
        return err instanceof HandshakeCodecError;
      }
    }),
    { numRuns: 5000, seed: 7 },
  );
  // The state machine itself never throws on arbitrary input.
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.uint8Array({ maxLength: 120 }), mutated), { maxLength: 4 }), (frames) => {
      const { a } = pair();
      for (const f of frames) a.receive(f);
      return true;
    }),
    { numRuns: 300, seed: 8 },
  );
  t.pass();
});

test('fingerprintFromSdp reads and normalises one fingerprint, rejects none or several', (t) => {
  const sdp = 'v=0\r\na=fingerprint:SHA-256 ab:CD:01\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=fingerprint:sha-256 AB:cd:01\r\n';
  t.is(new TextDecoder().decode(fingerprintFromSdp(sdp)), 'sha-256 ABCD01');
  t.throws(() => fingerprintFromSdp('v=0\r\n'), { instanceOf: FingerprintError });
  t.throws(() => fingerprintFromSdp('a=fingerprint:sha-256 AB\r\na=fingerprint:sha-256 CD\r\n'), { instanceOf: FingerprintError });
});
