// ICE settings of the WebRTC connector: server URLs (validated up front so a typo is a clear config
// error, not a silent gathering failure) and how a selected candidate pair is described.
import type { LinkInfo } from '../link.js';
import { CodedError } from '../../../lib/coded-error.js';

export class IceConfigError extends CodedError<'invalid'> {}

/**
 * Checks one ICE server URL in the form node-datachannel accepts:
 * `stun:HOST[:PORT]`, `turn:USER:PASS@HOST[:PORT][?transport=udp|tcp]`, `turns:...`.
 */
export function validateIceUrl(url: string): string {
  const m = /^(stun|stuns|turn|turns):(?:([^:@\s]+):([^@\s]+)@)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?(\?transport=(udp|tcp))?$/.exec(url);
  if (!m) throw new IceConfigError('invalid', `bad ICE server URL '${url}' (want stun:HOST[:PORT] or turn:USER:PASS@HOST[:PORT])`);
  const [, scheme, user, , , port] = m;
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) throw new IceConfigError('invalid', `bad port in ICE server URL '${url}'`);
  if (scheme!.startsWith('turn') && user === undefined) throw new IceConfigError('invalid', `TURN URL '${url}' needs USER:PASS@`);
  if (scheme!.startsWith('stun') && user !== undefined) throw new IceConfigError('invalid', `STUN URL '${url}' takes no credentials`);
  return url;
}

export interface CandidateEnd {
  type: string; // host | srflx | prflx | relay
  transportType: string;
  address: string;
  port: number;
}

/** Direct or relayed, and why, from the ICE agent's selected pair. */
export function describePath(pair: { local: CandidateEnd; remote: CandidateEnd } | null): Pick<LinkInfo, 'path' | 'detail'> {
  if (!pair) return { path: 'direct', detail: 'no candidate pair selected yet' };
  const l = pair.local.type || 'unknown';
  const r = pair.remote.type || 'unknown';
  const ends = `${l}<->${r} ${pair.local.transportType.toLowerCase()} ${pair.local.address}:${pair.local.port}<->${pair.remote.address}:${pair.remote.port}`;
  if (l === 'relay' || r === 'relay') {
    const which = l === 'relay' && r === 'relay' ? 'both sides' : l === 'relay' ? 'our side' : 'peer side';
    return { path: 'relayed', detail: `${ends} (TURN relay on ${which}: no direct pair connected)` };
  }
  return { path: 'direct', detail: ends };
}
