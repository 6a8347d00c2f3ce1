import test from 'ava';
import fc from 'fast-check';
import { icmpEchoReply, icmpUnreachable, internetChecksum, isIpv4Packet } from '../../src/forwarder/ipv4.js';
import { intToIpv4, ipv4ToInt } from '../../lib/ipv4.js';
import { echoRequest, ipv4Packet } from './packets.js';

test('dotted quads convert both ways and malformed ones throw RangeError', (t) => {
  t.is(ipv4ToInt('10.128.0.1'), 0x0a800001);
  t.is(intToIpv4(0xffffffff), '255.255.255.255');
  for (const bad of ['10.128.0', '10.128.0.256', 'a.b.c.d', '1.2.3.4.5', '', '01234.1.1.1']) t.throws(() => ipv4ToInt(bad), { instanceOf: RangeError });
  fc.assert(fc.property(fc.nat({ max: 0xffffffff }), (v) => ipv4ToInt(intToIpv4(v)) === v));
});

test('ICMP host unreachable quotes the original header + 8 bytes with valid checksums', (t) => {
  const orig = ipv4Packet('10.128.0.1', '10.128.9.9', new Uint8Array(100).fill(7));
  const r = icmpUnreachable(orig, ipv4ToInt('10.128.0.1'))!;
  t.true(isIpv4Packet(r));
  t.is(internetChecksum(r, 0, 20), 0);
  t.is(internetChecksum(r, 20, r.length), 0);
  t.is(r[20], 3);
  t.is(r[21], 1);
  t.deepEqual([...r.subarray(28)], [...orig.subarray(0, 28)]);
  t.deepEqual([...r.subarray(16, 20)], [10, 128, 0, 1]); // back to the sender
});

test('no ICMP error about an ICMP error (RFC 1122 3.2.2), nor about garbage', (t) => {
  const orig = ipv4Packet('10.128.0.1', '10.128.9.9', new Uint8Array(20));
  const err = icmpUnreachable(orig, 1)!;
  t.is(icmpUnreachable(err, 1), undefined);
  t.is(icmpUnreachable(new Uint8Array(10), 1), undefined);
  t.truthy(icmpUnreachable(echoRequest('10.128.0.1', '10.128.0.2'), 1));
});

test('echo reply swaps addresses and keeps checksums valid', (t) => {
  const req = echoRequest('10.0.0.1', '10.0.0.2', 40);
  const rep = icmpEchoReply(req)!;
  t.is(rep[20], 0);
  t.is(internetChecksum(rep, 0, 20), 0);
  t.is(internetChecksum(rep, 20, rep.length), 0);
  t.deepEqual([...rep.subarray(12, 16)], [10, 0, 0, 2]);
  t.is(icmpEchoReply(rep), undefined);
});

test('fuzz: IPv4 helpers never throw on random bytes', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
      isIpv4Packet(b);
      icmpUnreachable(b, 1);
      icmpEchoReply(b);
    }),
    { numRuns: 3000 },
  );
  t.pass();
});
