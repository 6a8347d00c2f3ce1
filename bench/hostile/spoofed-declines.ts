// Spoofed DHCPDECLINEs (issue 11, item 4): a script for `node --input-type=module -e` that an
// attacker runs inside a namespace on the boot link. It sends `count` DECLINEs, each under its own
// made-up hardware address and client identifier, naming the range's addresses in turn, broadcast
// to the server's port, paced so that none is lost to a full socket buffer.
// Shared by test/hostile/dhcp-spoofed-decline.test.ts and `npm run bench:hostile`.

export interface SpoofedDeclines {
  /** First three octets of the /24, e.g. "10.77.41" (the server is .1). */
  subnet: string;
  /** Last octet of the range's first address, and how many addresses it has. */
  rangeFirst: number;
  rangeAddresses: number;
  count: number;
}

export function spoofedDeclineScript(o: SpoofedDeclines): string {
  return `
import { createSocket } from 'node:dgram';
import { encodeDhcp } from '${new URL('../../dhcp/server/dhcp-packet.js', import.meta.url).href}';
const ip = (s) => Uint8Array.from(s.split('.').map(Number));
const s = createSocket('udp4');
s.bind(0, () => {
  s.setBroadcast(true);
  let i = 0;
  const next = () => {
    if (i >= ${o.count}) return s.close();
    const chaddr = Uint8Array.of(0x02, 0xba, 0xd0, 0, i >> 8, i & 0xff);
    const options = new Map([
      [53, Uint8Array.of(4)],
      [54, ip('${o.subnet}.1')],
      [50, ip('${o.subnet}.' + (${o.rangeFirst} + (i % ${o.rangeAddresses})))],
      [61, Uint8Array.of(1, ...chaddr)],
    ]);
    const packet = { op: 1, htype: 1, hlen: 6, hops: 0, xid: 0x5000 + i, secs: 0, flags: 0, ciaddr: '0.0.0.0',
      yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr, sname: '', file: '', options };
    i++;
    s.send(encodeDhcp(packet), 67, '${o.subnet}.255', () => setTimeout(next, i % 20 ? 0 : 30));
  };
  next();
});`;
}
