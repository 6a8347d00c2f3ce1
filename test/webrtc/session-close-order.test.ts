// A peer that refuses us and closes at once (a wrong-secret joiner whose process exits on the
// refusal) must still be counted as what it was: its AUTH reached us before the close, so we refuse
// it for the bad secret (issue 11). node-datachannel runs each kind of callback from its own queue,
// the PeerConnection's state queue and an earlier channel's close queue before the control
// channel's messages, closing a channel discards the messages not yet delivered, and a send on a
// channel the peer closed throws (our REFUSE to the peer's AUTH). The stand-ins below do all three;
// the peer is a real LinkHandshake (with the wrong network key, or with the right one: no link either).
import test from 'ava';
import type { PeerConnection } from 'node-datachannel';
import { PeerSession, CONTROL_LABEL, DATA_LABEL, REFUSE_FLUSH_MS } from '../../overlay/link/webrtc/session.js';
import { LinkDialError } from '../../overlay/link/webrtc/errors.js';
import { LinkHandshake } from '../../overlay/handshake/handshake.js';
import { RefuseReason } from '../../overlay/handshake/messages.js';
import { fingerprintFromSdp, networkKey } from '../../overlay/handshake/transcript.js';
import { Identity } from '../../overlay/identity.js';
import { ManualClock } from '../vnet/manual-clock.js';

const sdpWith = (fp: string) => ['v=0', 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', `a=fingerprint:sha-256 ${fp}`].join('\r\n');
const OUR_SDP = sdpWith(Array(32).fill('AA').join(':'));
const PEER_SDP = sdpWith(Array(32).fill('BB').join(':'));
const NETWORK = 'n';

class StandInChannel {
  readonly sent: Uint8Array[] = [];
  closed = false;
  private message?: (m: Buffer) => void;
  closedCallback?: () => void;
  constructor(private readonly label: string) {}
  getLabel() {
    return this.label;
  }
  isOpen() {
    return true;
  }
  onOpen() {}
  onMessage(cb: (m: Buffer) => void) {
    this.message = cb;
  }
  onClosed(cb: () => void) {
    this.closedCallback = cb;
  }
  /** Set when the peer has closed: as node-datachannel, a send then throws. */
  closedByPeer = false;
  sendMessageBinary(b: Uint8Array) {
    if (this.closed || this.closedByPeer) throw new Error('DataChannel is closed');
    this.sent.push(new Uint8Array(b));
  }
  /** As node-datachannel: after close(), messages not yet delivered are discarded. */
  close() {
    this.closed = true;
  }
  deliver(frame: Uint8Array) {
    if (!this.closed) this.message?.(Buffer.from(frame));
  }
}

class StandInPc {
  state?: (s: string) => void;
  channel?: (dc: StandInChannel) => void;
  onLocalDescription() {}
  onLocalCandidate() {}
  onStateChange(cb: (s: string) => void) {
    this.state = cb;
  }
  onDataChannel(cb: (dc: StandInChannel) => void) {
    this.channel = cb;
  }
  localDescription() {
    return { sdp: OUR_SDP, type: 'answer' };
  }
  remoteDescription() {
    return { sdp: PEER_SDP, type: 'offer' };
  }
  close() {}
}

const SECRET = new TextEncoder().encode('the network secret, 32 bytes....');
const WRONG_SECRET = new TextEncoder().encode('not the secret at all, 32 bytes.');

/** A member's incoming session with a peer holding `peerSecret`, up to the peer's verdict on our AUTH. */
function peerSession(peerSecret: Uint8Array) {
  const clock = new ManualClock();
  const pc = new StandInPc();
  const member = Identity.generate();
  const intruder = Identity.generate();
  let result: { error?: LinkDialError; linked?: boolean } | undefined;
  new PeerSession({
    role: 'answerer',
    session: new Uint8Array(8),
    expectedRemote: intruder.address,
    createPeerConnection: () => pc as unknown as PeerConnection,
    network: NETWORK,
    networkKey: networkKey(SECRET, NETWORK),
    signer: member,
    nonce: new Uint8Array(32).fill(1),
    clock,
    timeoutMs: 10_000,
    linkId: 't',
    send: () => {},
    log: () => {},
    onLinkGone: () => {},
    done: (r) => (result = 'link' in r ? { linked: true } : { error: r.error }),
  });
  const data = new StandInChannel(DATA_LABEL);
  const control = new StandInChannel(CONTROL_LABEL);
  pc.channel!(data);
  pc.channel!(control);
  const peer = new LinkHandshake({
    role: 'offerer',
    network: NETWORK,
    networkKey: networkKey(peerSecret, NETWORK),
    signer: intruder,
    localFingerprint: fingerprintFromSdp(PEER_SDP),
    remoteFingerprint: fingerprintFromSdp(OUR_SDP),
    nonce: new Uint8Array(32).fill(2),
  });
  // HELLOs cross; our AUTH reaches the peer, which refuses it. The peer's AUTH and REFUSE are on
  // their way to us when its process exits.
  const [ourHello] = control.sent;
  const peerAuth = peer.receive(ourHello!).send;
  control.deliver(peer.start());
  const ourAuth = control.sent[1]!;
  const verdict = peer.receive(ourAuth).send; // REFUSE, or CONFIRM with the right secret
  return { clock, pc, data, control, inFlight: [...peerAuth, ...verdict], result: () => result };
}

const closeFirst: Array<[string, (s: ReturnType<typeof peerSession>) => void]> = [
  ['the peer connection closes', (s) => s.pc.state!('closed')],
  ['the peer connection fails', (s) => s.pc.state!('failed')],
  ['the data channel closes', (s) => s.data.closedCallback!()],
];

for (const [what, close] of closeFirst) {
  test(`${what} before the peer's AUTH is handled: still refused for the bad secret`, async (t) => {
    const s = peerSession(WRONG_SECRET);
    s.control.closedByPeer = s.data.closedByPeer = true;
    close(s);
    for (const f of s.inFlight) s.control.deliver(f);
    s.control.closedCallback!();
    await s.clock.advance(1);
    const r = s.result();
    t.truthy(r?.error, `session ended: ${JSON.stringify(r)}`);
    t.is(r!.error!.code, 'refused', r!.error!.message);
    t.deepEqual(r!.error!.refuse, { reason: RefuseReason.BadSecret, byPeer: false });
    await s.clock.advance(REFUSE_FLUSH_MS);
    t.true(s.control.closed && s.data.closed, 'our channels are closed in the end');
  });
}

test('a close with nothing in flight still ends the session, as a plain failure, one timer turn later', async (t) => {
  const s = peerSession(WRONG_SECRET);
  s.pc.state!('closed');
  s.control.closedCallback!();
  t.is(s.result(), undefined, 'frames queued behind the close get their turn first');
  await s.clock.advance(1);
  t.is(s.result()?.error?.code, 'failed');
  t.true(s.control.closed && s.data.closed);
});

test('a peer that accepts us and then closes gives no link: the close wins over its CONFIRM', async (t) => {
  const s = peerSession(SECRET);
  s.pc.state!('closed');
  for (const f of s.inFlight) s.control.deliver(f);
  await s.clock.advance(1);
  t.is(s.result()?.linked, undefined, 'no link on a closed transport');
  t.is(s.result()?.error?.code, 'failed');
});
