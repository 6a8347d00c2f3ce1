// ICE must never pick a path through the virtual network itself: once the TUN is up, its address is
// a host candidate like any other, and a connectivity check sent to a peer's virtual IP succeeds
// (routed over the overlay), so the link would tunnel through itself. Every WebRTC link of a node
// with a virtual network drops candidates on the virtual subnet, in both directions.
import type { Subnet } from '../../dhcp/vip/subnet.js';
import { ipv4ToInt } from '../../lib/ipv4.js';

/** The connection address of an ICE candidate line ("candidate:..." or "a=candidate:..."), if IPv4. */
export function candidateAddress(candidate: string): string | undefined {
  const fields = candidate.trim().replace(/^a=/, '').split(/\s+/);
  // foundation component transport priority address port typ ...
  const addr = fields[4];
  return addr && /^\d+\.\d+\.\d+\.\d+$/.test(addr) ? addr : undefined;
}

/** True if the candidate's address lies in `subnet` (such candidates must be dropped). */
export function candidateOnSubnet(candidate: string, subnet: Subnet): boolean {
  const addr = candidateAddress(candidate);
  if (!addr) return false;
  try {
    return (ipv4ToInt(addr) & subnet.mask) >>> 0 === subnet.base;
  } catch {
    return false;
  }
}

/** Removes candidate lines on `subnet` from an SDP. */
export function filterSdpCandidates(sdp: string, subnet: Subnet): string {
  return sdp
    .split(/\r?\n/)
    .filter((line) => !(line.startsWith('a=candidate:') && candidateOnSubnet(line, subnet)))
    .join('\r\n');
}
