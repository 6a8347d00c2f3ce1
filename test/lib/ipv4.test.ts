// The one IPv4 address parser (lib/ipv4.ts), used by DHCP configuration and packets, vIP leases, the
// forwarder and the CLI: the strictest rule of the three copies it replaced, pinned here.
import test from 'ava';
import { intToIpv4, ipv4ToInt, Ipv4Error, isIpv4Address, prefixToMask } from '../../lib/ipv4.js';
import { encodeDhcp, DhcpDecodeError, BOOTREQUEST, type DhcpPacket } from '../../dhcp/server/dhcp-packet.js';
import { encodeTftp, TftpDecodeError } from '../../dhcp/tftp/tftp-packet.js';

test('accepts exactly four decimal octets 0-255 and round-trips them', (t) => {
  for (const ip of ['0.0.0.0', '10.128.0.1', '255.255.255.255', '192.168.1.10']) t.is(intToIpv4(ipv4ToInt(ip)), ip);
  t.is(ipv4ToInt('10.0.0.1'), 0x0a000001);
});

test('rejects leading zeros, exponents, blanks, signs, hex and wrong counts with Ipv4Error (a RangeError)', (t) => {
  const bad = ['010.0.0.1', '10.0.0.01', '1e0.0.0.1', '', ' 10.0.0.1', '10.0.0.1 ', '+1.2.3.4', '0x1.2.3.4', '1.2.3', '1.2.3.4.5', '1.2.3.256', '1..2.3', '١.2.3.4'];
  for (const ip of bad) {
    const err = t.throws(() => ipv4ToInt(ip), { instanceOf: Ipv4Error }, ip);
    t.true(err instanceof RangeError, ip);
    t.false(isIpv4Address(ip), ip);
  }
});

test('prefix lengths: 0..32 only', (t) => {
  t.is(prefixToMask(24), 0xffffff00);
  t.is(prefixToMask(0), 0);
  t.is(prefixToMask(32), 0xffffffff);
  for (const p of [-1, 33, 1.5, NaN]) t.throws(() => prefixToMask(p), { instanceOf: Ipv4Error });
});

test('encoders throw RangeError for what they cannot encode, never the decode error', (t) => {
  const packet: DhcpPacket = {
    op: BOOTREQUEST, htype: 1, hlen: 6, hops: 0, xid: 1, secs: 0, flags: 0,
    ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
    chaddr: new Uint8Array(6), sname: '', file: '', options: new Map(),
  };
  t.notThrows(() => encodeDhcp(packet));
  for (const ip of ['1e0.0.0.1', '', '010.0.0.1']) {
    const err = t.throws(() => encodeDhcp({ ...packet, yiaddr: ip }));
    t.true(err instanceof RangeError && !(err instanceof DhcpDecodeError), ip);
  }
  const err = t.throws(() => encodeTftp({ op: 'RRQ', filename: '', mode: 'octet', options: new Map() }));
  t.true(err instanceof RangeError && !(err instanceof TftpDecodeError));
});
