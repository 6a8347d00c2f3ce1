// TFTP read requests that are never acknowledged (issue 11, item 5): each from its own socket and
// source address (127.0.0.2 and up), asking for the longest timeout RFC 2349 allows, so a server
// without reclaiming would hold its slot for minutes. Shared by test/hostile/tftp-slot-exhaustion
// and `npm run bench:hostile`.
import { createSocket, type Socket } from 'node:dgram';
import { encodeTftp } from '../../dhcp/tftp/tftp-packet.js';

/** The `n`-th attacker source address: 127.0.0.2, 127.0.0.3, ... */
export function attackerAddress(n: number): string {
  return `127.0.${(n + 2) >> 8}.${(n + 2) & 255}`;
}

/** Binds a socket on `address`, sends an RRQ for `filename` to 127.0.0.1:`port` with timeout=255; the caller closes it. */
export async function silentReader(port: number, address: string, filename: string, onReply?: (msg: Buffer) => void): Promise<Socket> {
  const s = createSocket('udp4');
  if (onReply) s.on('message', onReply);
  await new Promise<void>((r) => s.bind(0, address, r));
  s.send(encodeTftp({ op: 'RRQ', filename, mode: 'octet', options: new Map([['timeout', '255'], ['tsize', '0'], ['blksize', '1468']]) }), port, '127.0.0.1');
  return s;
}
