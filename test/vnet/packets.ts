// Builds IPv4 test packets (UDP or ICMP echo) with valid header checksums.
import { internetChecksum } from '../../src/forwarder/ipv4.js';
import { ipv4ToInt } from '../../lib/ipv4.js';

export function ipv4Packet(src: string, dst: string, payload: Uint8Array, protocol = 17): Uint8Array {
  const p = new Uint8Array(20 + payload.length);
  p[0] = 0x45;
  p[2] = p.length >>> 8;
  p[3] = p.length & 255;
  p[8] = 64;
  p[9] = protocol;
  new DataView(p.buffer).setUint32(12, ipv4ToInt(src));
  new DataView(p.buffer).setUint32(16, ipv4ToInt(dst));
  const c = internetChecksum(p, 0, 20);
  p[10] = c >>> 8;
  p[11] = c & 255;
  p.set(payload, 20);
  return p;
}

export function echoRequest(src: string, dst: string, dataBytes = 16): Uint8Array {
  const icmp = new Uint8Array(8 + dataBytes);
  icmp[0] = 8;
  icmp[4] = 0x12;
  icmp[6] = 0;
  icmp[7] = 1;
  for (let i = 0; i < dataBytes; i++) icmp[8 + i] = i;
  const c = internetChecksum(icmp);
  icmp[2] = c >>> 8;
  icmp[3] = c & 255;
  return ipv4Packet(src, dst, icmp, 1);
}
