import test from 'ava';
import fc from 'fast-check';
import { Subnet, SubnetError, encodeLeaseRecord, decodeLeaseRecord, LeaseRecordError } from '../../../dhcp/vip/index.js';
import { ipv4ToInt } from '../../../lib/ipv4.js';

test('subnets parse, exclude network and broadcast, and reject bad input with SubnetError', (t) => {
  const s = Subnet.parse('10.128.0.0/16');
  t.is(s.hostCount, 65534);
  t.true(s.isHost(ipv4ToInt('10.128.0.1')));
  t.false(s.isHost(ipv4ToInt('10.128.0.0')));
  t.false(s.isHost(ipv4ToInt('10.128.255.255')));
  t.false(s.isHost(ipv4ToInt('10.129.0.1')));
  t.is(s.host(0), ipv4ToInt('10.128.0.1'));
  t.is(s.toString(), '10.128.0.0/16');
  for (const bad of ['10.128.0.1/16', '10.128.0.0', '10.128.0.0/33', '10.128.0.0/31', '10.0.0.0/4', 'x/16', '300.1.1.1/8', '']) t.throws(() => Subnet.parse(bad), { instanceOf: SubnetError }, bad);
});

test('lease records round-trip', (t) => {
  fc.assert(
    fc.property(fc.nat({ max: 0xffffffff }), fc.string({ maxLength: 60 }), (vip, clientId) => {
      const r = decodeLeaseRecord(encodeLeaseRecord({ vip, clientId }));
      return r.vip === vip && r.clientId === clientId;
    }),
  );
  t.throws(() => encodeLeaseRecord({ vip: 1, clientId: 'x'.repeat(256) }), { instanceOf: LeaseRecordError });
});

test('hostile lease records are refused with LeaseRecordError; fuzzing throws nothing else', (t) => {
  const cases = [new Uint8Array(0), new Uint8Array([2, 0, 0, 0, 1, 0]), new Uint8Array([1, 0, 0, 0, 1, 3, 65]), new Uint8Array([1, 0, 0, 0, 1, 2, 0xff, 0xfe]), new Uint8Array([1, 0, 0, 0, 1, 0, 0])];
  for (const c of cases) t.throws(() => decodeLeaseRecord(c), { instanceOf: LeaseRecordError });
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
      try {
        decodeLeaseRecord(b);
      } catch (err) {
        if (!(err instanceof LeaseRecordError)) throw err;
      }
    }),
    { numRuns: 3000 },
  );
});
