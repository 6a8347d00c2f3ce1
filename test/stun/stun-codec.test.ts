import test from 'ava';
import fc from 'fast-check';
import {
  ATTR_SOFTWARE,
  ATTR_XOR_MAPPED_ADDRESS,
  crc32,
  decodeErrorCode,
  decodeStunMessage,
  decodeUnknownAttributes,
  decodeXorMappedAddress,
  encodeErrorCode,
  encodeStunMessage,
  encodeUnknownAttributes,
  encodeXorMappedAddress,
  messageType,
  stunEncodingLength,
  StunClass,
  StunCodecError,
  STUN_METHOD_BINDING,
  type StunMessage,
} from '../../overlay/stun/stun-codec.js';

const tid = Uint8Array.from({ length: 12 }, (_, i) => i + 1);

test('message types interleave method and class as RFC 8489 section 5 draws them', (t) => {
  t.is(messageType(STUN_METHOD_BINDING, StunClass.Request), 0x0001);
  t.is(messageType(STUN_METHOD_BINDING, StunClass.Indication), 0x0011);
  t.is(messageType(STUN_METHOD_BINDING, StunClass.SuccessResponse), 0x0101);
  t.is(messageType(STUN_METHOD_BINDING, StunClass.ErrorResponse), 0x0111);
  t.is(messageType(0x003, StunClass.Request), 0x0003); // TURN Allocate
  t.is(crc32(new TextEncoder().encode('123456789')), 0xcbf43926); // the CRC-32 check value
});

test('RFC 5769 section 2.2 sample IPv4 response: FINGERPRINT checks and XOR-MAPPED-ADDRESS decodes to 192.0.2.1:32853', (t) => {
  const hex =
    '0101003c2112a442b7e7a701bc34d686fa87dfae' +
    '8022000b7465737420766563746f7220' +
    '002000080001a147e112a643' +
    '000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7' +
    '80280004c07d4c96';
  const { message, bytesUsed } = decodeStunMessage(Buffer.from(hex, 'hex'));
  t.is(bytesUsed, hex.length / 2);
  t.is(message.cls, StunClass.SuccessResponse);
  t.is(message.method, STUN_METHOD_BINDING);
  t.true(message.fingerprint);
  const xma = message.attributes.find((a) => a.type === ATTR_XOR_MAPPED_ADDRESS)!;
  t.deepEqual(decodeXorMappedAddress(xma.value, message.transactionId), { family: 4, address: '192.0.2.1', port: 32853 });
  t.is(Buffer.from(message.attributes.find((a) => a.type === ATTR_SOFTWARE)!.value).toString(), 'test vector');
  // One flipped bit anywhere before FINGERPRINT fails it.
  const bad = Buffer.from(hex, 'hex');
  bad[30] = bad[30]! ^ 1;
  t.throws(() => decodeStunMessage(bad), { instanceOf: StunCodecError, message: /FINGERPRINT/ });
});

const arbMessage: fc.Arbitrary<StunMessage> = fc.record({
  method: fc.integer({ min: 0, max: 0xfff }),
  cls: fc.constantFrom(StunClass.Request, StunClass.Indication, StunClass.SuccessResponse, StunClass.ErrorResponse),
  transactionId: fc.uint8Array({ minLength: 12, maxLength: 12 }),
  attributes: fc.array(fc.record({ type: fc.integer({ min: 0, max: 0xffff }).filter((x) => x !== 0x8028), value: fc.uint8Array({ maxLength: 40 }) }), { maxLength: 8 }),
  fingerprint: fc.boolean(),
});

test('round trip at an offset: decode(encode(m)) = m, lengths agree, re-encoding is identical', (t) => {
  fc.assert(
    fc.property(arbMessage, fc.integer({ min: 0, max: 9 }), (m, offset) => {
      const buf = new Uint8Array(offset + stunEncodingLength(m) + 3);
      encodeStunMessage(m, buf, offset);
      const { message, bytesUsed } = decodeStunMessage(buf, offset);
      t.deepEqual(message, m);
      t.is(bytesUsed, stunEncodingLength(m));
      t.deepEqual(encodeStunMessage(message), buf.subarray(offset, offset + bytesUsed));
    }),
  );
});

test('fuzz: decoding random bytes (and mutated messages) returns a message or throws StunCodecError, nothing else', (t) => {
  const check = (b: Uint8Array, offset: number) => {
    try {
      decodeStunMessage(b, offset);
    } catch (err) {
      if (!(err instanceof StunCodecError)) throw err;
    }
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: -2, max: 30 }), (b, off) => check(b, off)), { numRuns: 3000 });
  fc.assert(
    fc.property(arbMessage, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), (m, flips) => {
      const b = encodeStunMessage(m);
      for (const [i, v] of flips) b[i % b.length] = v;
      check(b, 0);
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (v) => {
      for (const f of [() => decodeXorMappedAddress(v, tid), () => decodeErrorCode(v), () => decodeUnknownAttributes(v)]) {
        try {
          f();
        } catch (err) {
          if (!(err instanceof StunCodecError)) throw err;
        }
      }
    }),
  );
  t.pass();
});

test('decoder rejects listed attack inputs with their codes', (t) => {
  const good = encodeStunMessage({ method: 1, cls: StunClass.Request, transactionId: tid, attributes: [{ type: 0x8022, value: Uint8Array.of(1, 2, 3) }], fingerprint: true });
  const withLength = (n: number) => {
    const b = Uint8Array.from(good);
    b[2] = n >> 8;
    b[3] = n & 0xff;
    return b;
  };
  const cases: Array<[string, Uint8Array, string]> = [
    ['empty', new Uint8Array(0), 'truncated'],
    ['19 bytes', good.subarray(0, 19), 'truncated'],
    ['top bits set (RTP/DTLS-looking)', Uint8Array.of(0x80, ...good.subarray(1)), 'not-stun'],
    ['wrong cookie', Uint8Array.from(good).fill(0, 4, 8), 'not-stun'],
    ['length not a multiple of 4', withLength(10), 'bad-length'],
    ['length past the datagram', withLength(0xfffc), 'truncated'],
    ['attribute past the message', withLength(4), 'bad-length'],
    ['attribute after FINGERPRINT', Uint8Array.of(...withLength(good.length - 20 + 4), 0x80, 0x22, 0, 0), 'bad-fingerprint'],
    ['too many attributes', encodeStunMessage({ method: 1, cls: 0, transactionId: tid, attributes: Array.from({ length: 33 }, () => ({ type: 0x8022, value: new Uint8Array(0) })), fingerprint: false }), 'too-many-attributes'],
  ];
  for (const [what, b, code] of cases) t.is(catchCode(() => decodeStunMessage(b)), code, what);
  // Padding bytes may hold anything (section 14): not an error, and not part of the value.
  const padded = encodeStunMessage({ method: 1, cls: 0, transactionId: tid, attributes: [{ type: 0x8022, value: Uint8Array.of(1, 2, 3) }], fingerprint: false });
  padded[20 + 4 + 3] = 0xee;
  t.deepEqual(decodeStunMessage(padded).message.attributes[0]!.value, Uint8Array.of(1, 2, 3));
});

function catchCode(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return (err as StunCodecError).code;
  }
  return undefined;
}

test('attribute values: XOR-MAPPED-ADDRESS (IPv4, IPv6), ERROR-CODE, UNKNOWN-ATTRIBUTES round-trip; bad ones are typed errors', (t) => {
  for (const a of [
    { family: 4 as const, address: '10.200.0.11', port: 40000 },
    { family: 4 as const, address: '0.0.0.0', port: 0 },
    { family: 6 as const, address: '2001:db8:0:0:0:0:0:1', port: 65535 },
  ]) {
    t.deepEqual(decodeXorMappedAddress(encodeXorMappedAddress(a, tid), tid), a);
  }
  t.deepEqual(decodeXorMappedAddress(encodeXorMappedAddress({ family: 6, address: '::ffff:1.2.3.4', port: 1 }, tid), tid).address, '0:0:0:0:0:ffff:102:304');
  t.deepEqual(decodeErrorCode(encodeErrorCode(420, 'Unknown Attribute')), { code: 420, reason: 'Unknown Attribute' });
  t.deepEqual(decodeUnknownAttributes(encodeUnknownAttributes([0x0003, 0x7fff])), [3, 0x7fff]);
  t.is(catchCode(() => encodeXorMappedAddress({ family: 4, address: '1.2.3', port: 1 }, tid)), 'bad-argument');
  t.is(catchCode(() => encodeXorMappedAddress({ family: 4, address: '1.2.3.4', port: 70000 }, tid)), 'bad-argument');
  t.is(catchCode(() => encodeErrorCode(200, 'ok')), 'bad-argument');
  t.is(catchCode(() => decodeXorMappedAddress(Uint8Array.of(0, 3, 0, 0, 1, 2, 3, 4), tid)), 'bad-attribute');
  t.is(catchCode(() => decodeErrorCode(Uint8Array.of(0, 0, 2, 0))), 'bad-attribute');
  t.is(catchCode(() => encodeStunMessage({ method: 1, cls: 0, transactionId: new Uint8Array(11), attributes: [], fingerprint: false })), 'bad-argument');
  t.is(catchCode(() => encodeStunMessage({ method: 1, cls: 0, transactionId: tid, attributes: [], fingerprint: false }, new Uint8Array(10))), 'bad-argument');
});
