// ICMPv6 Router Advertisement codec (RFC 4861 section 4.2). The checksum field is left zero: on a
// raw ICMPv6 socket the kernel fills it in (RFC 3542 section 3.1), and it covers a pseudo-header
// we do not see here.
import { CodedError } from '../../lib/coded-error.js';
import { encodeToBytes, messageCodec, type BinaryCodec } from '../../lib/codec.js';

export class RouterAdvertisementError extends CodedError<'MALFORMED'> {}

export const ICMPV6_ROUTER_SOLICITATION = 133;
export const ICMPV6_ROUTER_ADVERTISEMENT = 134;
const OPT_SOURCE_LINK_LAYER = 1;
const OPT_PREFIX_INFORMATION = 3;
const OPT_MTU = 5;
const RA_HEADER_BYTES = 16;

export interface PrefixInformation {
  /** e.g. "fd00:1::" */
  prefix: string;
  prefixLength: number;
  onLink: boolean;
  autonomous: boolean;
  validLifetimeS: number;
  preferredLifetimeS: number;
}

export interface RouterAdvertisement {
  curHopLimit: number;
  /** M flag: addresses via DHCPv6. We leave it off: iPXE would then start DHCPv6. */
  managed: boolean;
  /** O flag: other configuration via DHCPv6. */
  other: boolean;
  /** 0 = not a default router (RFC 4861 4.2). */
  routerLifetimeS: number;
  reachableTimeMs: number;
  retransTimerMs: number;
  sourceLinkLayer?: Uint8Array;
  mtu?: number;
  prefixes: PrefixInformation[];
}

function ipv6Bytes(address: string): Uint8Array {
  const [head, tail, extra] = address.split('::');
  if (extra !== undefined) throw new RouterAdvertisementError('MALFORMED', `bad IPv6 address '${address}'`);
  const parse = (s: string | undefined) => (s ? s.split(':') : []);
  const h = parse(head);
  const t = parse(tail);
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) throw new RouterAdvertisementError('MALFORMED', `bad IPv6 address '${address}'`);
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new RouterAdvertisementError('MALFORMED', `bad IPv6 address '${address}'`);
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 255;
  });
  return out;
}

function ipv6String(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':');
}

const sourceLinkLayerBytes = (ra: RouterAdvertisement) => (ra.sourceLinkLayer ? Math.ceil((2 + ra.sourceLinkLayer.length) / 8) * 8 : 0);

function raLength(ra: RouterAdvertisement): number {
  return RA_HEADER_BYTES + sourceLinkLayerBytes(ra) + (ra.mtu !== undefined ? 8 : 0) + 32 * ra.prefixes.length;
}

/** Writes an RA into `out` (zeroed, exactly raLength bytes). */
function writeRouterAdvertisement(ra: RouterAdvertisement, out: Uint8Array): void {
  const sll = ra.sourceLinkLayer;
  const sllBytes = sourceLinkLayerBytes(ra);
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out[0] = ICMPV6_ROUTER_ADVERTISEMENT;
  out[4] = ra.curHopLimit;
  out[5] = (ra.managed ? 0x80 : 0) | (ra.other ? 0x40 : 0);
  v.setUint16(6, ra.routerLifetimeS);
  v.setUint32(8, ra.reachableTimeMs);
  v.setUint32(12, ra.retransTimerMs);
  let i = RA_HEADER_BYTES;
  if (sll) {
    out[i] = OPT_SOURCE_LINK_LAYER;
    out[i + 1] = sllBytes / 8;
    out.set(sll, i + 2);
    i += sllBytes;
  }
  if (ra.mtu !== undefined) {
    out[i] = OPT_MTU;
    out[i + 1] = 1;
    v.setUint32(i + 4, ra.mtu);
    i += 8;
  }
  for (const p of ra.prefixes) {
    out[i] = OPT_PREFIX_INFORMATION;
    out[i + 1] = 4;
    out[i + 2] = p.prefixLength;
    out[i + 3] = (p.onLink ? 0x80 : 0) | (p.autonomous ? 0x40 : 0);
    v.setUint32(i + 4, p.validLifetimeS);
    v.setUint32(i + 8, p.preferredLifetimeS);
    out.set(ipv6Bytes(p.prefix), i + 16);
    i += 32;
  }
}

/** An RA fills its ICMPv6 message: decodeAt uses every byte from the offset on. */
export const routerAdvertisementCodec: BinaryCodec<RouterAdvertisement> = messageCodec({
  encodingLength: raLength,
  write: writeRouterAdvertisement,
  read: decodeRouterAdvertisement,
});

export function encodeRouterAdvertisement(ra: RouterAdvertisement): Uint8Array {
  return encodeToBytes(routerAdvertisementCodec, ra);
}

export function decodeRouterAdvertisement(bytes: Uint8Array): RouterAdvertisement {
  if (bytes.length < RA_HEADER_BYTES) throw new RouterAdvertisementError('MALFORMED', 'too short for a router advertisement');
  if (bytes[0] !== ICMPV6_ROUTER_ADVERTISEMENT || bytes[1] !== 0) throw new RouterAdvertisementError('MALFORMED', 'not a router advertisement');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ra: RouterAdvertisement = {
    curHopLimit: bytes[4]!,
    managed: (bytes[5]! & 0x80) !== 0,
    other: (bytes[5]! & 0x40) !== 0,
    routerLifetimeS: v.getUint16(6),
    reachableTimeMs: v.getUint32(8),
    retransTimerMs: v.getUint32(12),
    prefixes: [],
  };
  let i = RA_HEADER_BYTES;
  while (i < bytes.length) {
    if (i + 2 > bytes.length) throw new RouterAdvertisementError('MALFORMED', 'truncated option');
    const type = bytes[i]!;
    const len = bytes[i + 1]! * 8;
    // RFC 4861 4.6: a zero-length option is invalid and the packet must be dropped.
    if (len === 0 || i + len > bytes.length) throw new RouterAdvertisementError('MALFORMED', `bad option length at ${i}`);
    if (type === OPT_SOURCE_LINK_LAYER) {
      let end = i + len;
      while (end > i + 2 && bytes[end - 1] === 0 && end - (i + 2) > 6) end--;
      ra.sourceLinkLayer = bytes.slice(i + 2, end);
    } else if (type === OPT_MTU) {
      if (len !== 8) throw new RouterAdvertisementError('MALFORMED', 'bad MTU option');
      ra.mtu = v.getUint32(i + 4);
    } else if (type === OPT_PREFIX_INFORMATION) {
      if (len !== 32) throw new RouterAdvertisementError('MALFORMED', 'bad prefix information option');
      ra.prefixes.push({
        prefixLength: bytes[i + 2]!,
        onLink: (bytes[i + 3]! & 0x80) !== 0,
        autonomous: (bytes[i + 3]! & 0x40) !== 0,
        validLifetimeS: v.getUint32(i + 4),
        preferredLifetimeS: v.getUint32(i + 8),
        prefix: ipv6String(bytes.subarray(i + 16, i + 32)),
      });
    }
    i += len;
  }
  return ra;
}
