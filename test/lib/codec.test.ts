// The one codec shape (lib/codec.ts) on the codecs that follow it: encode into a caller's buffer at an
// offset (what is around it untouched), decode at an offset with the bytes used, and the whole-buffer
// encoders equal to encodeInto at offset 0.
import test from 'ava';
import type { BinaryCodec } from '../../lib/codec.js';
import { dhcpCodec, encodeDhcp, BOOTREQUEST, type DhcpPacket } from '../../dhcp/server/dhcp-packet.js';
import { tftpCodec, encodeTftp, type TftpPacket } from '../../dhcp/tftp/tftp-packet.js';
import { leaseRecordCodec, encodeLeaseRecord } from '../../dhcp/vip/lease-record.js';
import { routerAdvertisementCodec, encodeRouterAdvertisement, type RouterAdvertisement } from '../../dhcp/ra/router-advertisement.js';
import { vnetFrameCodec, encodeFrame, FrameKind, type Frame } from '../../src/forwarder/frame.js';
import { relayCodec, encodeRelay, RELAY_OP_DATA, RELAY_OP_CLOSE } from '../../overlay/relay/relay-header.js';
import { handshakeCodec, encodeHandshake, HandshakeType, RefuseReason, HANDSHAKE_KEY_BYTES, HANDSHAKE_NONCE_BYTES } from '../../overlay/handshake/messages.js';
import { bootstrapCodec, encodeBootstrap, BootstrapType } from '../../overlay/bootstrap/messages.js';
import { signalCodec, encodeSignal, SignalType } from '../../overlay/link/webrtc/signal-codec.js';
import { stunCodec, encodeStunMessage, StunClass } from '../../overlay/stun/stun-codec.js';
import { linkFrameCodec, encodeLinkFrame, FRAME_ROUTED, FRAME_PING, FRAME_NEIGHBORS, type LinkFrame } from '../../overlay/wire/link-frame.js';

function roundTripAtOffset<T>(t: import('ava').ExecutionContext, name: string, codec: BinaryCodec<T>, value: T, whole: (v: T) => Uint8Array): void {
  const length = codec.encodingLength(value);
  const out = new Uint8Array(7 + length).fill(0xee); // dirty buffer: encodeInto must write every byte it owns
  t.is(codec.encodeInto(value, out, 7), length, name);
  t.deepEqual(out.subarray(0, 7), new Uint8Array(7).fill(0xee), `${name}: bytes before the offset untouched`);
  t.deepEqual(out.subarray(7), whole(value), `${name}: same bytes as the whole-buffer encoder`);
  const decoded = codec.decodeAt(out, 7);
  t.is(decoded.bytesUsed, length, name);
  t.deepEqual(codec.encodingLength(decoded.value), length, name);
  t.deepEqual(whole(decoded.value), whole(value), `${name}: decode(encode(v)) encodes the same`);
  t.throws(() => codec.encodeInto(value, new Uint8Array(length - 1), 0), { instanceOf: RangeError }, `${name}: too small a buffer`);
}

test('dhcp, tftp, lease record, RA, vnet frame, overlay link frame, handshake, bootstrap, signalling, STUN and relay codecs encode at an offset and decode from it', (t) => {
  const dhcp: DhcpPacket = {
    op: BOOTREQUEST, htype: 1, hlen: 6, hops: 0, xid: 0x1234, secs: 3, flags: 0x8000,
    ciaddr: '0.0.0.0', yiaddr: '10.0.0.9', siaddr: '10.0.0.1', giaddr: '0.0.0.0',
    chaddr: Uint8Array.of(2, 0, 0, 0, 0, 1), sname: 'boot', file: 'pxelinux.0', options: new Map([[53, Uint8Array.of(1)], [12, new Uint8Array(300).fill(65)]]),
  };
  roundTripAtOffset(t, 'dhcp', dhcpCodec, dhcp, encodeDhcp);
  const tftp: TftpPacket[] = [
    { op: 'RRQ', filename: 'boot/vmlinuz', mode: 'octet', options: new Map([['blksize', '1428']]) },
    { op: 'DATA', block: 70000, data: Uint8Array.of(1, 2, 3) },
    { op: 'ACK', block: 9 },
    { op: 'ERROR', code: 1, message: 'not found' },
    { op: 'OACK', options: new Map([['tsize', '123']]) },
  ];
  for (const p of tftp) roundTripAtOffset(t, `tftp ${p.op}`, tftpCodec, p, encodeTftp);
  roundTripAtOffset(t, 'lease', leaseRecordCodec, { vip: 0x0a800007, clientId: 'node-é' }, encodeLeaseRecord);
  const ra: RouterAdvertisement = {
    curHopLimit: 64, managed: false, other: false, routerLifetimeS: 0, reachableTimeMs: 0, retransTimerMs: 0,
    sourceLinkLayer: Uint8Array.of(2, 0, 0, 0, 0, 1), mtu: 1400,
    prefixes: [{ prefix: 'fd00:0:0:1::', prefixLength: 64, onLink: true, autonomous: true, validLifetimeS: 3600, preferredLifetimeS: 1800 }],
  };
  roundTripAtOffset(t, 'ra', routerAdvertisementCodec, ra, encodeRouterAdvertisement);
  const frame: Frame = { kind: FrameKind.Ipv4Bundle, sourceVip: 1, destVip: 2, packets: [Uint8Array.of(0x45, 0, 0, 20), Uint8Array.of(9)] };
  roundTripAtOffset(t, 'vnet frame', vnetFrameCodec, frame, (f) => encodeFrame(f));
  const linkFrames: LinkFrame[] = [
    { type: FRAME_ROUTED, exact: true, notSrc: false, hops: 2, hopLimit: 64, app: 16, src: 5n, dest: (1n << 159n) + 7n, via: 9n, payload: Uint8Array.of(1, 2, 3) },
    { type: FRAME_PING, nonce: 0xdeadbeef },
    { type: FRAME_NEIGHBORS, wantReply: true, answer: false, addresses: [1n, 2n, 3n] },
  ];
  for (const f of linkFrames) roundTripAtOffset(t, `link frame ${f.type}`, linkFrameCodec, f, encodeLinkFrame);
  roundTripAtOffset(t, 'handshake hello', handshakeCodec, { type: HandshakeType.Hello, publicKey: new Uint8Array(HANDSHAKE_KEY_BYTES).fill(3), nonce: new Uint8Array(HANDSHAKE_NONCE_BYTES).fill(4) }, encodeHandshake);
  roundTripAtOffset(t, 'handshake refuse', handshakeCodec, { type: HandshakeType.Refuse, reason: RefuseReason.BadSecret, text: 'wrong secret' }, encodeHandshake);
  roundTripAtOffset(t, 'bootstrap welcome', bootstrapCodec, { type: BootstrapType.Welcome, network: 'lab', address: (1n << 150n) + 3n, stunPort: 3478 }, encodeBootstrap);
  roundTripAtOffset(t, 'bootstrap error', bootstrapCodec, { type: BootstrapType.Error, message: 'é'.repeat(600) }, encodeBootstrap);
  roundTripAtOffset(t, 'signal candidate', signalCodec, { type: SignalType.Candidate, session: new Uint8Array(8).fill(1), mid: '0', candidate: 'candidate:1 1 UDP 2122 10.0.0.1 5000 typ host' }, encodeSignal);
  roundTripAtOffset(t, 'stun binding request', stunCodec, { method: 1, cls: StunClass.Request, transactionId: new Uint8Array(12).fill(9), attributes: [], fingerprint: false }, (m) => encodeStunMessage(m));
  roundTripAtOffset(t, 'relay data', relayCodec, { op: RELAY_OP_DATA, tunnel: 7, peer: 99n, payload: Uint8Array.of(5, 6) }, (m) => encodeRelay(m, m.payload));
  roundTripAtOffset(t, 'relay close', relayCodec, { op: RELAY_OP_CLOSE, tunnel: 0xffffffff, peer: 1n, payload: Uint8Array.of(1) }, (m) => encodeRelay(m, m.payload));
});
