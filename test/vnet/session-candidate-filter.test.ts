// A WebRTC session of a node with a virtual network never offers nor accepts an ICE candidate on
// the virtual subnet (it would tunnel the link through its own TUN): local candidates are not
// signalled, remote ones not added, and candidate lines in SDPs are removed both ways. Unit test
// with a recording stand-in for libdatachannel's PeerConnection.
import test from 'ava';
import type { PeerConnection } from 'node-datachannel';
import { PeerSession } from '../../overlay/link/webrtc/session.js';
import { decodeSignal, SignalType, type SignalMessage } from '../../overlay/link/webrtc/signal-codec.js';
import { candidateOnSubnet } from '../../src/vnet/ice-filter.js';
import { Subnet } from '../../dhcp/vip/subnet.js';
import { ManualClock } from './manual-clock.js';

const ON = 'candidate:1 1 UDP 2122252543 10.128.4.7 40000 typ host';
const OFF = 'candidate:2 1 UDP 2122252543 192.168.1.20 40001 typ host';
const SDP = ['v=0', 'o=- 1 1 IN IP4 0.0.0.0', 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', `a=${ON}`, `a=${OFF}`, 'a=mid:0'].join('\r\n');

class RecordingPc {
  remoteDescriptions: string[] = [];
  remoteCandidates: string[] = [];
  localDescription?: (sdp: string, type: string) => void;
  localCandidate?: (candidate: string, mid: string) => void;
  onLocalDescription(cb: (sdp: string, type: string) => void) {
    this.localDescription = cb;
  }
  onLocalCandidate(cb: (candidate: string, mid: string) => void) {
    this.localCandidate = cb;
  }
  onStateChange() {}
  onDataChannel() {}
  setRemoteDescription(sdp: string) {
    this.remoteDescriptions.push(sdp);
  }
  addRemoteCandidate(candidate: string) {
    this.remoteCandidates.push(candidate);
  }
  close() {}
}

function session(dropCandidate?: (c: string) => boolean) {
  const pc = new RecordingPc();
  const sent: SignalMessage[] = [];
  const s = new PeerSession({
    role: 'answerer',
    session: new Uint8Array(8),
    expectedRemote: 1n,
    createPeerConnection: () => pc as unknown as PeerConnection,
    network: 'n',
    networkKey: new Uint8Array(32),
    signer: {} as never,
    nonce: new Uint8Array(32),
    clock: new ManualClock(),
    timeoutMs: 10_000,
    linkId: 't',
    send: (p) => sent.push(decodeSignal(p)),
    log: () => {},
    onLinkGone: () => {},
    done: () => {},
    ...(dropCandidate ? { dropCandidate } : {}),
  });
  return { pc, sent, s };
}

test('candidates on the virtual subnet are dropped locally and remotely, others pass', (t) => {
  const subnet = Subnet.parse('10.128.0.0/16');
  const { pc, sent, s } = session((c) => candidateOnSubnet(c, subnet));
  s.handleSignal({ type: SignalType.Offer, session: new Uint8Array(8), sdp: SDP });
  t.is(pc.remoteDescriptions.length, 1);
  t.false(pc.remoteDescriptions[0]!.includes('10.128.4.7'), 'remote SDP candidate on the subnet removed');
  t.true(pc.remoteDescriptions[0]!.includes('192.168.1.20'), 'other remote SDP candidate kept');
  s.handleSignal({ type: SignalType.Candidate, session: new Uint8Array(8), candidate: ON, mid: '0' });
  s.handleSignal({ type: SignalType.Candidate, session: new Uint8Array(8), candidate: OFF, mid: '0' });
  t.deepEqual(pc.remoteCandidates, [OFF]);

  pc.localDescription!(SDP, 'answer');
  pc.localCandidate!(`a=${ON}`, '0');
  pc.localCandidate!(OFF, '0');
  const answer = sent.find((m) => m.type === SignalType.Answer) as { sdp: string } | undefined;
  t.truthy(answer);
  t.false(answer!.sdp.includes('10.128.4.7'), 'local SDP candidate on the subnet not sent');
  t.true(answer!.sdp.includes('192.168.1.20'));
  const candidates = sent.filter((m) => m.type === SignalType.Candidate).map((m) => (m as { candidate: string }).candidate);
  t.deepEqual(candidates, [OFF]);
  s.abort('test over');
});

test('without a filter every candidate passes', (t) => {
  const { pc, s } = session();
  s.handleSignal({ type: SignalType.Offer, session: new Uint8Array(8), sdp: SDP });
  s.handleSignal({ type: SignalType.Candidate, session: new Uint8Array(8), candidate: ON, mid: '0' });
  t.is(pc.remoteDescriptions[0], SDP);
  t.deepEqual(pc.remoteCandidates, [ON]);
  s.abort('test over');
});
