// A virtual network's IPv4 subnet ("10.128.0.0/16"): which addresses nodes may hold. The network
// and broadcast addresses are never handed out.
import { intToIpv4, ipv4ToInt } from '../../lib/ipv4.js';
import { CodedError } from '../../lib/coded-error.js';

export class SubnetError extends CodedError<'INVALID'> {}

/** Smallest subnet with room for leases: /30 has two usable hosts. */
export const MAX_PREFIX_LENGTH = 30;
/** Largest: /8 (16.7 M addresses); wider would only dilute the random search. */
export const MIN_PREFIX_LENGTH = 8;

export class Subnet {
  readonly base: number;
  readonly mask: number;
  /** Usable host addresses (excludes network and broadcast). */
  readonly hostCount: number;

  constructor(
    base: number,
    readonly prefixLength: number,
  ) {
    if (!Number.isInteger(prefixLength) || prefixLength < MIN_PREFIX_LENGTH || prefixLength > MAX_PREFIX_LENGTH)
      throw new SubnetError('INVALID', `prefix length must be ${MIN_PREFIX_LENGTH}..${MAX_PREFIX_LENGTH}, got ${prefixLength}`);
    this.mask = (0xffffffff << (32 - prefixLength)) >>> 0;
    if ((base & this.mask) >>> 0 !== base >>> 0) throw new SubnetError('INVALID', `${intToIpv4(base)}/${prefixLength} has host bits set`);
    this.base = base >>> 0;
    this.hostCount = 2 ** (32 - prefixLength) - 2;
  }

  /** Parses "a.b.c.d/n"; throws SubnetError. */
  static parse(cidr: string): Subnet {
    const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(cidr.trim());
    if (!m) throw new SubnetError('INVALID', `not a CIDR subnet: ${JSON.stringify(cidr)}`);
    let base: number;
    try {
      base = ipv4ToInt(m[1]!);
    } catch {
      throw new SubnetError('INVALID', `not a CIDR subnet: ${JSON.stringify(cidr)}`);
    }
    return new Subnet(base, Number(m[2]));
  }

  /** True for usable host addresses of this subnet. */
  isHost(vip: number): boolean {
    const v = vip >>> 0;
    return (v & this.mask) >>> 0 === this.base && v !== this.base && v !== (this.base | ~this.mask) >>> 0;
  }

  /** The i-th usable host, 0 <= i < hostCount. */
  host(i: number): number {
    return (this.base + 1 + i) >>> 0;
  }

  toString(): string {
    return `${intToIpv4(this.base)}/${this.prefixLength}`;
  }
}
