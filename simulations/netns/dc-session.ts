// One WebRTC data channel between two harness processes, signalled through the relay. Reports the
// selected ICE candidate pair, from which the path kind follows: any 'relay' candidate = TURN.
import nodeDataChannel, { type DataChannel, type PeerConnection } from 'node-datachannel';
import type { RelayClient } from './relay-client.js';

export type PathKind = 'direct' | 'relayed';

export interface DcSessionOptions {
  relay: RelayClient;
  peer: string;
  role: 'offer' | 'answer';
  iceServers: string[];
  policy: 'all' | 'relay';
  timeoutMs: number;
  /** Data channel semantics: the IP data path uses unordered, no retransmissions. */
  unreliable?: boolean;
  /** SCTP max message size in bytes to advertise (default: the library's). */
  maxMessageSize?: number;
}

export interface DcSession {
  pc: PeerConnection;
  dc: DataChannel;
  connectMs: number;
  localType: string;
  remoteType: string;
  path: PathKind;
  /** e.g. "srflx<->srflx". */
  detail: string;
}

export class DcSessionError extends Error {
  override readonly name = 'DcSessionError';
}

let logInit = false;

export function openDcSession(o: DcSessionOptions): Promise<DcSession> {
  if (!logInit) {
    nodeDataChannel.initLogger('Error', () => undefined);
    logInit = true;
  }
  const started = performance.now();
  const pc = new nodeDataChannel.PeerConnection(`h-${o.role}`, {
    iceServers: o.iceServers,
    iceTransportPolicy: o.policy,
    ...(o.maxMessageSize ? { maxMessageSize: o.maxMessageSize } : {}),
  });
  return new Promise<DcSession>((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => fail(`no open data channel within ${o.timeoutMs} ms (ice ${pc.iceState()}, pc ${pc.state()})`), o.timeoutMs);
    const fail = (why: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try {
        pc.close();
      } catch {
        /* already closed */
      }
      reject(new DcSessionError(why));
    };
    const opened = (dc: DataChannel) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const pair = pc.getSelectedCandidatePair();
      const localType = pair?.local.type ?? 'unknown';
      const remoteType = pair?.remote.type ?? 'unknown';
      const path: PathKind = localType === 'relay' || remoteType === 'relay' ? 'relayed' : 'direct';
      resolve({ pc, dc, connectMs: performance.now() - started, localType, remoteType, path, detail: `${localType}<->${remoteType}` });
    };
    pc.onLocalDescription((sdp, type) => o.relay.send(o.peer, { sdp, type }));
    pc.onLocalCandidate((candidate, mid) => o.relay.send(o.peer, { candidate, mid }));
    pc.onStateChange((s) => {
      if (s === 'failed' || s === 'closed') fail(`peer connection ${s}`);
    });
    o.relay.onMessage((from, data) => {
      if (from !== o.peer || done) return;
      const m = data as { sdp?: string; type?: string; candidate?: string; mid?: string };
      try {
        if (m.sdp && m.type) pc.setRemoteDescription(m.sdp, m.type as 'offer' | 'answer');
        else if (m.candidate) pc.addRemoteCandidate(m.candidate, m.mid ?? '0');
      } catch (err) {
        fail(`bad signal: ${(err as Error).message}`);
      }
    });
    const init = o.unreliable ? { unordered: true, maxRetransmits: 0 } : {};
    if (o.role === 'offer') {
      const dc = pc.createDataChannel('h', init);
      dc.onOpen(() => opened(dc));
    } else {
      pc.onDataChannel((dc) => (dc.isOpen() ? opened(dc) : dc.onOpen(() => opened(dc))));
    }
  });
}
