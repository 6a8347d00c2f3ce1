// The latency floor of the data channel itself: two node-datachannel PeerConnections in ONE process
// (no TUN, no forwarder, no second event loop), an unordered no-retransmit channel like the overlay's
// data channel, 84-byte messages echoed back, one every GAP ms (like `ping -i`). bench:vnet runs it in
// a harness namespace (its host candidates stay inside it) and reports the median round trip next to
// the overlay's ping RTT: what the library's own threads cost per round trip on this machine.
// Usage: node dc-rtt-floor.js [GAP_MS=20] [COUNT=50]; prints "DC_RTT_FLOOR_MS <median>".
import nodeDataChannel from 'node-datachannel';

const gapMs = Number(process.argv[2] ?? 20);
const count = Number(process.argv[3] ?? 50);
const a = new nodeDataChannel.PeerConnection('floor-a', { iceServers: [] });
const b = new nodeDataChannel.PeerConnection('floor-b', { iceServers: [] });
a.onLocalDescription((sdp, type) => b.setRemoteDescription(sdp, type));
a.onLocalCandidate((c, mid) => b.addRemoteCandidate(c, mid));
b.onLocalDescription((sdp, type) => a.setRemoteDescription(sdp, type));
b.onLocalCandidate((c, mid) => a.addRemoteCandidate(c, mid));
b.onDataChannel((dc) => dc.onMessage((m) => dc.sendMessageBinary(m as Buffer)));
const dc = a.createDataChannel('floor', { unordered: true, maxRetransmits: 0 });
const giveUp = setTimeout(() => {
  process.stdout.write('DC_RTT_FLOOR_FAILED no channel within 10 s\n');
  process.exit(2);
}, 10_000);
dc.onOpen(async () => {
  clearTimeout(giveUp);
  const message = Buffer.alloc(84);
  const rtts: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    const answered = await new Promise<boolean>((resolve) => {
      const lost = setTimeout(() => resolve(false), 1_000);
      dc.onMessage(() => {
        clearTimeout(lost);
        resolve(true);
      });
      dc.sendMessageBinary(message);
    });
    if (answered) rtts.push(Number(process.hrtime.bigint() - t0) / 1e6);
    await new Promise((r) => setTimeout(r, gapMs));
  }
  rtts.sort((x, y) => x - y);
  process.stdout.write(rtts.length ? `DC_RTT_FLOOR_MS ${rtts[Math.floor(rtts.length / 2)]!.toFixed(3)}\n` : 'DC_RTT_FLOOR_FAILED no answers\n');
  dc.close();
  a.close();
  b.close();
  setTimeout(() => process.exit(0), 100);
});
