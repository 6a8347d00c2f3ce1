// DHCP option codes (RFC 2132, RFC 4578 for PXE, RFC 3004 user class) and typed readers/writers
// for option values. Values travel as raw bytes in DhcpPacket.options; these helpers give them types.
import { intToIpv4, ipv4ToInt } from '../../lib/ipv4.js';

/** Option codes used by this server (RFC 2132 unless noted). */
export const DhcpOption = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS_SERVERS: 6,
  HOST_NAME: 12,
  DOMAIN_NAME: 15,
  ROOT_PATH: 17,
  BROADCAST_ADDRESS: 28,
  VENDOR_SPECIFIC: 43,
  REQUESTED_ADDRESS: 50,
  LEASE_TIME: 51,
  OPTION_OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_REQUEST_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  VENDOR_CLASS_ID: 60,
  CLIENT_ID: 61,
  TFTP_SERVER_NAME: 66,
  BOOTFILE_NAME: 67,
  /** RFC 3004; iPXE sends the bare string "iPXE". */
  USER_CLASS: 77,
  /** RFC 4578: client system architecture (0 = x86 BIOS, 7/9 = x64 UEFI). */
  CLIENT_ARCH: 93,
  /** RFC 4578: client network interface identifier (UNDI version). */
  CLIENT_NDI: 94,
  /** RFC 4578: client machine identifier (UUID/GUID). */
  CLIENT_UUID: 97,
  /** iPXE's encapsulated options (site-specific range, used by iPXE by convention). */
  IPXE_ENCAPSULATED: 175,
  END: 255,
} as const;

/** DHCP message types (option 53, RFC 2132 section 9.6). */
export const DhcpMessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;
export type DhcpMessageType = (typeof DhcpMessageType)[keyof typeof DhcpMessageType];

export const MESSAGE_TYPE_NAMES: Record<number, string> = {
  1: 'DISCOVER', 2: 'OFFER', 3: 'REQUEST', 4: 'DECLINE', 5: 'ACK', 6: 'NAK', 7: 'RELEASE', 8: 'INFORM',
};

/** iPXE sub-option inside option 175: "do not wait for ProxyDHCP offers". */
export const IPXE_NO_PXEDHCP = 176;

export function ipsValue(ips: readonly string[]): Uint8Array {
  const out = new Uint8Array(4 * ips.length);
  const view = new DataView(out.buffer);
  ips.forEach((ip, i) => view.setUint32(4 * i, ipv4ToInt(ip)));
  return out;
}

export function u32Value(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n >>> 0);
  return out;
}

export function stringValue(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'utf8'));
}

/** First IPv4 address of an option value, or undefined when the value is not a multiple of 4 bytes. */
export function readIp(value: Uint8Array | undefined): string | undefined {
  if (!value || value.length < 4 || value.length % 4 !== 0) return undefined;
  return intToIpv4(new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(0));
}

export function readU16(value: Uint8Array | undefined): number | undefined {
  return value && value.length >= 2 ? (value[0]! << 8) | value[1]! : undefined;
}

export function readString(value: Uint8Array | undefined): string | undefined {
  if (!value) return undefined;
  // Some clients NUL-terminate string options; RFC 2132 section 2 says they should not.
  let end = value.length;
  while (end > 0 && value[end - 1] === 0) end--;
  return Buffer.from(value.buffer, value.byteOffset, end).toString('latin1');
}
