// One WebRTC data channel between two harness processes, signalled through the relay. Reports the
// selected ICE candidate pair, from which the path kind follows: any 'relay' candidate = TURN.
import nodeDataChannel, { type DataChannel, type PeerConnection } from 'node-datachannel';
import type { RelayClient } from './relay-client.js';
import type { Subnet } from '../../dhcp/vip/subnet.js';
import { candidateOnSubnet, filterSdpCandidates } from '../../src/vnet/ice-filter.js';
import { CodedError } from '../../lib/coded-error.js';

export type PathKind = 'direct' | 'relayed';

/** Where offers, answers and candidates go (e.g. the harness relay to one peer). */
export interface SignalChannel {
  send(data: unknown): void;
  onSignal(handler: (data: unknown) => void): void;
}

/** A signal channel to `peer` through the relay (it takes over the relay's message handler). */
export function relaySignal(relay: RelayClient, peer: string): SignalChannel {
  return { send: (d) => relay.send(peer, d), onSignal: (h) => relay.onMessage((from, d) => from === peer && h(d)) };
}

export interface DcSessionOptions {
  signal: SignalChannel;
  role: 'offer' | 'answer';
  iceServers: string[];
  policy: 'all' | 'relay';
  timeoutMs: number;
  /** Data channel semantics: the IP data path uses unordered, no retransmissions. */
  unreliable?: boolean;
  /** SCTP max message size in bytes to advertise (default: the library's). */
  maxMessageSize?: number;
  /** Candidates on this subnet (the virtual network) are neither sent nor accepted. */
  excludeSubnet?: Subnet;
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
  /** Remote candidates libdatachannel refused (ignored). */
  rejectedCandidates: number;
}

export class DcSessionError extends CodedError<'failed'> {}

let logInit = false;

export function openDcSession(o: DcSessionOptions): Promise<DcSession> {
  if (!logInit) {
    nodeDataChannel.initLogger('Error', () => undefined);
    // Experiment hook for bench tuning: SCTP buffer sizes in bytes.
    const buf = Number(process.env.VNET_SCTP_BUFFER_BYTES ?? 0);
    if (buf > 0) nodeDataChannel.setSctpSettings({ recvBufferSize: buf, sendBufferSize: buf });
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
      reject(new DcSessionError('failed', why));
    };
    const opened = (dc: DataChannel) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const pair = pc.getSelectedCandidatePair();
      const localType = pair?.local.type ?? 'unknown';
      const remoteType = pair?.remote.type ?? 'unknown';
      const path: PathKind = localType === 'relay' || remoteType === 'relay' ? 'relayed' : 'direct';
      resolve({ pc, dc, connectMs: performance.now() - started, localType, remoteType, path, detail: `${localType}<->${remoteType}`, rejectedCandidates });
    };
    const ex = o.excludeSubnet;
    pc.onLocalDescription((sdp, type) => o.signal.send({ sdp: ex ? filterSdpCandidates(sdp, ex) : sdp, type }));
    pc.onLocalCandidate((candidate, mid) => {
      if (!ex || !candidateOnSubnet(candidate, ex)) o.signal.send({ candidate, mid });
    });
    pc.onStateChange((s) => {
      if (s === 'failed' || s === 'closed') fail(`peer connection ${s}`);
    });
    let haveRemote = false;
    let rejectedCandidates = 0;
    const early: Array<[string, string]> = [];
    o.signal.onSignal((data) => {
      if (done) return;
      const m = data as { sdp?: string; type?: string; candidate?: string; mid?: string };
      try {
        if (m.sdp && m.type) {
          pc.setRemoteDescription(ex ? filterSdpCandidates(m.sdp, ex) : m.sdp, m.type as 'offer' | 'answer');
          haveRemote = true;
          for (const [c, mid] of early.splice(0)) pc.addRemoteCandidate(c, mid);
        } else if (m.candidate && !(ex && candidateOnSubnet(m.candidate, ex))) {
          // libdatachannel may emit a candidate before its description: hold it until the description is set.
          if (!haveRemote) early.push([m.candidate, m.mid ?? '0']);
          else {
            try {
              pc.addRemoteCandidate(m.candidate, m.mid ?? '0');
            } catch {
              // One unusable candidate must not end the session; ICE goes on with the others.
              rejectedCandidates++;
            }
          }
        }
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
