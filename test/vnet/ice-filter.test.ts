import test from 'ava';
import { candidateAddress, candidateOnSubnet, filterSdpCandidates } from '../../src/vnet/ice-filter.js';
import { Subnet } from '../../dhcp/vip/subnet.js';

const subnet = Subnet.parse('10.128.0.0/16');

test('candidates on the virtual subnet are recognised, others are not', (t) => {
  t.is(candidateAddress('a=candidate:1 1 UDP 2122317823 10.128.4.5 40000 typ host'), '10.128.4.5');
  t.true(candidateOnSubnet('candidate:1 1 UDP 2122317823 10.128.4.5 40000 typ host', subnet));
  t.false(candidateOnSubnet('candidate:2 1 UDP 1686109951 10.200.0.11 40000 typ srflx raddr 0.0.0.0 rport 0', subnet));
  t.false(candidateOnSubnet('candidate:3 1 UDP 2122317823 fe80::1 40000 typ host', subnet));
  t.false(candidateOnSubnet('garbage', subnet));
});

test('SDP candidate lines on the subnet are removed, the rest kept', (t) => {
  const sdp = ['v=0', 'a=candidate:1 1 UDP 2122317823 10.128.4.5 40000 typ host', 'a=candidate:2 1 UDP 2122317823 10.201.0.2 40000 typ host', 'a=end-of-candidates'].join('\r\n');
  const out = filterSdpCandidates(sdp, subnet);
  t.false(out.includes('10.128.4.5'));
  t.true(out.includes('10.201.0.2'));
  t.true(out.includes('a=end-of-candidates'));
});
