// Dotted-quad IPv4 addresses <-> 32-bit unsigned integers: the one parser every layer uses (DHCP
// configuration and packets, virtual-IP leases, the forwarder, the CLI), with the strictest rule.

/** A malformed address or prefix. A RangeError, so encoders that reject one throw the conventional type. */
export class Ipv4Error extends RangeError {
  override name = 'Ipv4Error';
}

const DOTTED_QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses exactly four decimal octets (0-255, no leading zeros, no signs, exponents or blanks); throws Ipv4Error. */
export function ipv4ToInt(ip: string): number {
  const m = DOTTED_QUAD.exec(ip);
  if (!m) throw new Ipv4Error(`not an IPv4 address: '${ip}'`);
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i]!;
    if (part.length > 1 && part.startsWith('0')) throw new Ipv4Error(`leading zero in IPv4 address: '${ip}'`);
    const octet = Number(part);
    if (octet > 255) throw new Ipv4Error(`octet out of range in IPv4 address: '${ip}'`);
    n = n * 256 + octet;
  }
  return n >>> 0;
}

export function intToIpv4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** True if `ip` is a dotted quad that ipv4ToInt accepts. */
export function isIpv4Address(ip: string): boolean {
  try {
    ipv4ToInt(ip);
    return true;
  } catch {
    return false;
  }
}

/** Netmask for a prefix length, e.g. 24 -> 255.255.255.0. */
export function prefixToMask(prefixBits: number): number {
  if (!Number.isInteger(prefixBits) || prefixBits < 0 || prefixBits > 32) throw new Ipv4Error(`bad prefix length ${prefixBits}`);
  return prefixBits === 0 ? 0 : (0xffffffff << (32 - prefixBits)) >>> 0;
}
