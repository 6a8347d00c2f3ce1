// Minimal IPv4 reading and ICMP building for the forwarder: destination lookup, sanity checks, and
// ICMP destination-unreachable replies (RFC 792) for packets nobody owns. Pure functions.

export const IPV4_MIN_HEADER_BYTES = 20;
export const ICMP_PROTOCOL = 1;
export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACHABLE = 3;
export const ICMP_ECHO_REQUEST = 8;
/** RFC 792 code 1: host unreachable. */
export const ICMP_CODE_HOST_UNREACHABLE = 1;

/** True if the bytes start like an IPv4 packet with a plausible header (version 4, IHL >= 5, lengths consistent). */
export function isIpv4Packet(packet: Uint8Array): boolean {
  if (packet.length < IPV4_MIN_HEADER_BYTES || packet[0]! >> 4 !== 4) return false;
  const ihlBytes = (packet[0]! & 0x0f) * 4;
  const total = (packet[2]! << 8) | packet[3]!;
  return ihlBytes >= IPV4_MIN_HEADER_BYTES && total >= ihlBytes && total <= packet.length;
}

export function ipv4Destination(packet: Uint8Array): number {
  return ((packet[16]! << 24) | (packet[17]! << 16) | (packet[18]! << 8) | packet[19]!) >>> 0;
}

export function ipv4Source(packet: Uint8Array): number {
  return ((packet[12]! << 24) | (packet[13]! << 16) | (packet[14]! << 8) | packet[15]!) >>> 0;
}

/** RFC 1071 Internet checksum over bytes [start, end). */
export function internetChecksum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let sum = 0;
  for (let i = start; i + 1 < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if ((end - start) % 2 === 1) sum += bytes[end - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function writeIpv4Header(out: Uint8Array, totalLength: number, protocol: number, src: number, dst: number): void {
  out[0] = 0x45;
  out[1] = 0;
  out[2] = totalLength >>> 8;
  out[3] = totalLength & 255;
  out.fill(0, 4, 8); // id 0, no fragmentation flags
  out[8] = 64; // TTL
  out[9] = protocol;
  out[10] = out[11] = 0;
  for (let i = 0; i < 4; i++) {
    out[12 + i] = (src >>> (24 - 8 * i)) & 255;
    out[16 + i] = (dst >>> (24 - 8 * i)) & 255;
  }
  const c = internetChecksum(out, 0, 20);
  out[10] = c >>> 8;
  out[11] = c & 255;
}

/**
 * ICMP destination unreachable from `routerAddress` back to the sender of `original` (RFC 792:
 * the original IP header plus its first 8 data bytes). Returns undefined when RFC 1122 3.2.2 forbids
 * a reply: the original is itself an ICMP error, or is not a plausible IPv4 packet.
 */
export function icmpUnreachable(original: Uint8Array, routerAddress: number, code = ICMP_CODE_HOST_UNREACHABLE): Uint8Array | undefined {
  if (!isIpv4Packet(original)) return undefined;
  const ihl = (original[0]! & 0x0f) * 4;
  if (original[9] === ICMP_PROTOCOL) {
    const type = original[ihl];
    if (type !== ICMP_ECHO_REQUEST && type !== ICMP_ECHO_REPLY) return undefined;
  }
  const quoted = original.subarray(0, Math.min(original.length, ihl + 8));
  const out = new Uint8Array(20 + 8 + quoted.length);
  writeIpv4Header(out, out.length, ICMP_PROTOCOL, routerAddress, ipv4Source(original));
  out[20] = ICMP_DEST_UNREACHABLE;
  out[21] = code;
  out.set(quoted, 28);
  const c = internetChecksum(out, 20, out.length);
  out[22] = c >>> 8;
  out[23] = c & 255;
  return out;
}

/** An echo reply for an echo request (swapped addresses), or undefined if `packet` is not one. */
export function icmpEchoReply(packet: Uint8Array): Uint8Array | undefined {
  if (!isIpv4Packet(packet) || packet[9] !== ICMP_PROTOCOL) return undefined;
  const ihl = (packet[0]! & 0x0f) * 4;
  const total = (packet[2]! << 8) | packet[3]!;
  if (total < ihl + 8 || packet[ihl] !== ICMP_ECHO_REQUEST) return undefined;
  const out = new Uint8Array(packet.subarray(0, total));
  writeIpv4Header(out.subarray(0, 20), total, ICMP_PROTOCOL, ipv4Destination(packet), ipv4Source(packet));
  if (ihl > 20) out.copyWithin(20, ihl); // drop IP options
  const icmpStart = 20;
  const len = total - (ihl - 20);
  const reply = out.subarray(0, len);
  reply[2] = len >>> 8;
  reply[3] = len & 255;
  reply[10] = reply[11] = 0;
  const hc = internetChecksum(reply, 0, 20);
  reply[10] = hc >>> 8;
  reply[11] = hc & 255;
  reply[icmpStart] = ICMP_ECHO_REPLY;
  reply[icmpStart + 2] = reply[icmpStart + 3] = 0;
  const c = internetChecksum(reply, icmpStart, len);
  reply[icmpStart + 2] = c >>> 8;
  reply[icmpStart + 3] = c & 255;
  return new Uint8Array(reply);
}
