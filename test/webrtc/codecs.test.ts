import test from 'ava';
import fc from 'fast-check';
import { decodeSignal, encodeSignal, SignalCodecError, SignalType, type SignalMessage } from '../../overlay/link/webrtc/signal-codec.js';
import { BootstrapCodecError, BootstrapType, decodeBootstrap, encodeBootstrap, type BootstrapMessage } from '../../overlay/bootstrap/messages.js';
import { validateIceUrl, IceConfigError, describePath } from '../../overlay/link/webrtc/ice-config.js';
import { parseBootstrapUrl, BootstrapError } from '../../overlay/bootstrap/errors.js';

const session = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);

test('signal codec round-trips every message', (t) => {
  const msgs: SignalMessage[] = [
    { type: SignalType.Offer, session, sdp: 'v=0\r\na=fingerprint:sha-256 AB\r\n' },
    { type: SignalType.Answer, session, sdp: '' },
    { type: SignalType.Candidate, session, mid: '0', candidate: 'a=candidate:1 1 UDP 2114977791 127.0.0.1 40048 typ host' },
    { type: SignalType.Reject, session, reason: 'busy' },
  ];
  for (const m of msgs) {
    const b = encodeSignal(m);
    t.deepEqual(decodeSignal(b), m);
    t.deepEqual(encodeSignal(decodeSignal(b)), b);
  }
  t.throws(() => encodeSignal({ type: SignalType.Offer, session: new Uint8Array(7), sdp: '' }), { instanceOf: SignalCodecError });
  t.throws(() => encodeSignal({ type: SignalType.Offer, session, sdp: 'x'.repeat(20_000) }), { instanceOf: SignalCodecError });
});

test('signal decoder rejects listed attack inputs', (t) => {
  const good = encodeSignal({ type: SignalType.Candidate, session, mid: '0', candidate: 'c' });
  const cases: Array<[string, Uint8Array]> = [
    ['empty', new Uint8Array(0)],
    ['bad version', Uint8Array.of(2, 1, ...session, 0, 0)],
    ['unknown type', Uint8Array.of(1, 9, ...session)],
    ['short session', Uint8Array.of(1, 1, 1, 2)],
    ['truncated', good.subarray(0, good.length - 1)],
    ['trailing', Uint8Array.of(...good, 0)],
    ['sdp length over limit', Uint8Array.of(1, 1, ...session, 0xff, 0xff)],
    ['bad utf-8', Uint8Array.of(1, 1, ...session, 0, 1, 0xc0)],
  ];
  for (const [what, b] of cases) t.throws(() => decodeSignal(b), { instanceOf: SignalCodecError }, what);
});

test('bootstrap codec round-trips every message', (t) => {
  const msgs: BootstrapMessage[] = [
    { type: BootstrapType.Welcome, network: 'net-1', address: (1n << 159n) + 5n },
    { type: BootstrapType.Welcome, network: 'net-1', address: 9n, stunPort: 7000 },
    { type: BootstrapType.Hello, network: 'n', address: 0n },
    { type: BootstrapType.Signal, payload: Uint8Array.of(1, 2, 3) },
    { type: BootstrapType.Error, message: 'nope ✗' },
  ];
  for (const m of msgs) {
    const b = encodeBootstrap(m);
    t.deepEqual(decodeBootstrap(b), m);
    t.deepEqual(encodeBootstrap(decodeBootstrap(b)), b);
  }
  // Over-long error text is trimmed to whole characters, still decodable.
  const long = decodeBootstrap(encodeBootstrap({ type: BootstrapType.Error, message: '✗'.repeat(1000) }));
  t.true(long.type === BootstrapType.Error && long.message.length === 341);
  t.throws(() => encodeBootstrap({ type: BootstrapType.Hello, network: '', address: 1n }), { instanceOf: BootstrapCodecError });
  t.throws(() => encodeBootstrap({ type: BootstrapType.Hello, network: 'n', address: 1n << 160n }), { instanceOf: BootstrapCodecError });
});

test('bootstrap decoder rejects listed attack inputs', (t) => {
  const cases: Array<[string, Uint8Array]> = [
    ['empty', new Uint8Array(0)],
    ['bad version', Uint8Array.of(9, 3)],
    ['unknown type', Uint8Array.of(1, 0)],
    ['hello no name', Uint8Array.of(1, 2)],
    ['hello zero-length name', Uint8Array.of(1, 2, 0, ...new Uint8Array(20))],
    ['hello short address', Uint8Array.of(1, 2, 1, 65, ...new Uint8Array(19))],
    ['hello with a STUN port (only WELCOME has one)', Uint8Array.of(1, 2, 1, 65, ...new Uint8Array(20), 0x1b, 0x58)],
    ['welcome with STUN port 0', Uint8Array.of(1, 1, 1, 65, ...new Uint8Array(20), 0, 0)],
    ['welcome with one trailing byte', Uint8Array.of(1, 1, 1, 65, ...new Uint8Array(20), 7)],
    ['error length mismatch', Uint8Array.of(1, 4, 0, 5, 65)],
    ['oversized frame', new Uint8Array(40_000).fill(1)],
  ];
  for (const [what, b] of cases) t.throws(() => decodeBootstrap(b), { instanceOf: BootstrapCodecError }, what);
});

test('fuzz: signal and bootstrap decoders return a value or throw their own error', (t) => {
  const sig = encodeSignal({ type: SignalType.Candidate, session, mid: '0', candidate: 'candidate' });
  const boot = encodeBootstrap({ type: BootstrapType.Welcome, network: 'net', address: 77n, stunPort: 3478 });
  const mutate = (seed: Uint8Array) =>
    fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat({ max: 4 })).map(([i, v, cut]) => {
      const b = seed.slice(0, Math.max(0, seed.length - cut));
      if (b.length) b[i % b.length] = v;
      return b;
    });
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 80 }), mutate(sig)), (b) => {
      try {
        decodeSignal(b);
        return true;
      } catch (err) {
        return err instanceof SignalCodecError;
      }
    }),
    { numRuns: 5000, seed: 1 },
  );
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 80 }), mutate(boot)), (b) => {
      try {
        decodeBootstrap(b);
        return true;
      } catch (err) {
        return err instanceof BootstrapCodecError;
      }
    }),
    { numRuns: 5000, seed: 2 },
  );
  t.pass();
});

test('ICE URLs and bootstrap URLs are validated with clear errors', (t) => {
  t.is(validateIceUrl('stun:127.0.0.1:3478'), 'stun:127.0.0.1:3478');
  t.is(validateIceUrl('turn:u:p@10.0.0.1:3478'), 'turn:u:p@10.0.0.1:3478');
  t.is(validateIceUrl('turn:u:p@turn.example.org?transport=tcp'), 'turn:u:p@turn.example.org?transport=tcp');
  for (const bad of ['stun:', 'http://x', 'turn:10.0.0.1:3478', 'stun:u:p@h:1', 'stun:h:99999', 'stun:h x']) {
    t.throws(() => validateIceUrl(bad), { instanceOf: IceConfigError }, bad);
  }
  t.is(parseBootstrapUrl('ws://127.0.0.1:9000').port, '9000');
  for (const bad of ['127.0.0.1:9000', 'http://h:1', 'ws://h', 'ws://:1']) t.throws(() => parseBootstrapUrl(bad), { instanceOf: BootstrapError }, bad);
});

test('describePath tells direct from relayed and why', (t) => {
  const end = (type: string) => ({ type, transportType: 'UDP', address: '10.0.0.1', port: 1 });
  t.is(describePath({ local: end('host'), remote: end('srflx') }).path, 'direct');
  const r = describePath({ local: end('relay'), remote: end('srflx') });
  t.is(r.path, 'relayed');
  t.regex(r.detail, /relay<->srflx .*TURN relay on our side/);
  t.is(describePath(null).path, 'direct');
});
