import test from 'ava';
import fc from 'fast-check';
import {
  BOOTREQUEST, decodeDhcp, DhcpDecodeError, encodeDhcp, encodingLength, type DhcpPacket,
} from '../../dhcp/server/dhcp-packet.js';
import { DhcpOption, ipsValue, readIp } from '../../dhcp/server/dhcp-options.js';

const ipArb = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
const asciiNoNul = (max: number) => fc.string({ maxLength: max }).map((s) => s.replace(/[^\x01-\x7f]/g, 'a'));

const packetArb: fc.Arbitrary<DhcpPacket> = fc.record({
  op: fc.constantFrom(1, 2),
  htype: fc.nat(255),
  hlen: fc.integer({ min: 0, max: 16 }),
  hops: fc.nat(255),
  xid: fc.nat(0xffffffff),
  secs: fc.nat(0xffff),
  flags: fc.nat(0xffff),
  ciaddr: ipArb, yiaddr: ipArb, siaddr: ipArb, giaddr: ipArb,
  chaddr: fc.uint8Array({ maxLength: 16 }),
  sname: asciiNoNul(63),
  file: asciiNoNul(127),
  options: fc.uniqueArray(fc.tuple(fc.integer({ min: 1, max: 254 }).filter((c) => c !== 52), fc.uint8Array({ maxLength: 600 })), { selector: (e) => e[0], maxLength: 8 })
    .map((entries) => new Map(entries.filter(([, v]) => v.length > 0))),
}).map((p) => ({ ...p, hlen: p.chaddr.length }));

test('decode(encode(p)) == p for arbitrary packets, including options split over 255 bytes (RFC 3396)', (t) => {
  fc.assert(fc.property(packetArb, (p) => {
    const bytes = encodeDhcp(p);
    t.is(bytes.length, encodingLength(p));
    const back = decodeDhcp(bytes);
    t.deepEqual({ ...back, chaddr: Array.from(back.chaddr), options: [...back.options].map(([k, v]) => [k, Array.from(v)]) },
      { ...p, chaddr: Array.from(p.chaddr), options: [...p.options].map(([k, v]) => [k, Array.from(v)]) });
  }), { numRuns: 300 });
});

test('a reply is padded to the 300-byte BOOTP minimum', (t) => {
  const p: DhcpPacket = {
    op: BOOTREQUEST, htype: 1, hlen: 6, hops: 0, xid: 1, secs: 0, flags: 0,
    ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
    chaddr: Uint8Array.of(1, 2, 3, 4, 5, 6), sname: '', file: '', options: new Map([[53, Uint8Array.of(1)]]),
  };
  t.is(encodeDhcp(p).length, 300);
});

test('option overload (52) pulls options out of the file and sname fields', (t) => {
  const base: DhcpPacket = {
    op: BOOTREQUEST, htype: 1, hlen: 6, hops: 0, xid: 7, secs: 0, flags: 0,
    ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
    chaddr: Uint8Array.of(1, 2, 3, 4, 5, 6), sname: '', file: '',
    options: new Map([[53, Uint8Array.of(1)], [52, Uint8Array.of(3)]]),
  };
  const bytes = encodeDhcp(base);
  bytes.set([DhcpOption.ROUTER, 4, 10, 0, 0, 1, 255], 108); // in 'file'
  bytes.set([DhcpOption.HOST_NAME, 2, 0x68, 0x69, 255], 44); // in 'sname'
  const p = decodeDhcp(bytes);
  t.is(readIp(p.options.get(DhcpOption.ROUTER)), '10.0.0.1');
  t.deepEqual(Array.from(p.options.get(DhcpOption.HOST_NAME)!), [0x68, 0x69]);
  t.false(p.options.has(52));
  t.is(p.file, '');
});

test('attack inputs are rejected with DhcpDecodeError', (t) => {
  const good = encodeDhcp({
    op: BOOTREQUEST, htype: 1, hlen: 6, hops: 0, xid: 7, secs: 0, flags: 0,
    ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
    chaddr: Uint8Array.of(1, 2, 3, 4, 5, 6), sname: '', file: '', options: new Map([[50, ipsValue(['10.0.0.9'])]]),
  });
  const cases: Array<[string, Uint8Array]> = [
    ['empty', new Uint8Array(0)],
    ['short', good.subarray(0, 239)],
    ['bad op', Uint8Array.from(good, (b, i) => (i === 0 ? 9 : b))],
    ['hlen 17', Uint8Array.from(good, (b, i) => (i === 2 ? 17 : b))],
    ['no cookie', Uint8Array.from(good, (b, i) => (i === 236 ? 0 : b))],
    ['option past end', Uint8Array.of(...good.subarray(0, 240), 50, 200, 1, 2)],
    ['option without length', Uint8Array.of(...good.subarray(0, 240), 50)],
    ['bad overload', Uint8Array.of(...good.subarray(0, 240), 52, 1, 9, 255)],
  ];
  for (const [name, bytes] of cases) t.throws(() => decodeDhcp(bytes), { instanceOf: DhcpDecodeError }, name);
});

test('fuzz: random and mutated bytes decode or throw DhcpDecodeError, nothing else', (t) => {
  const seedPacket = encodeDhcp({
    op: BOOTREQUEST, htype: 1, hlen: 6, hops: 0, xid: 7, secs: 0, flags: 0,
    ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
    chaddr: Uint8Array.of(1, 2, 3, 4, 5, 6), sname: '', file: '',
    options: new Map([[53, Uint8Array.of(1)], [55, Uint8Array.of(1, 3, 6, 67)], [60, new TextEncoder().encode('PXEClient:Arch:00000')]]),
  });
  const mutated = fc.array(fc.tuple(fc.nat(seedPacket.length - 1), fc.nat(255)), { maxLength: 20 }).map((muts) => {
    const b = Uint8Array.from(seedPacket);
    for (const [i, v] of muts) b[i] = v;
    return b;
  });
  fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 700 }), mutated, mutated.map((b) => b.subarray(0, 250))), (bytes) => {
    try {
      decodeDhcp(bytes);
    } catch (err) {
      if (!(err instanceof DhcpDecodeError)) throw err;
    }
  }), { numRuns: 3000 });
  t.pass();
});
