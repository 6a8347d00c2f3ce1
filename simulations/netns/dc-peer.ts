// NAT-matrix probe, one per node namespace: opens a data channel to its peer through the relay,
// exchanges echo messages to measure RTT, prints one line "RESULT {json}" and exits.
// Usage: node dc-peer.js RELAY_URL NAME PEER offer|answer all|relay TIMEOUT_MS ICE_SERVER...
import { randomBytes } from 'node:crypto';
import { RelayClient } from './relay-client.js';
import { openDcSession, relaySignal } from './dc-session.js';

const [url, name, peer, role, policy, timeout, ...iceServers] = process.argv.slice(2);
const ECHOES = 10;

async function main() {
  const relay = await RelayClient.connect(url!, name!, randomBytes(32));
  if (role === 'offer') await relay.waitFor(peer!);
  let result: Record<string, unknown>;
  try {
    const s = await openDcSession({ signal: relaySignal(relay, peer!), role: role as 'offer' | 'answer', iceServers, policy: policy as 'all' | 'relay', timeoutMs: Number(timeout) });
    const rtts: number[] = [];
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('echo timeout')), 5000);
      let sentAt = 0;
      s.dc.onMessage((msg) => {
        const text = String(msg);
        if (role === 'answer') {
          s.dc.sendMessage(text);
          if (text === `echo ${ECHOES - 1}`) setTimeout(resolve, 200);
          return;
        }
        rtts.push(performance.now() - sentAt);
        if (rtts.length === ECHOES) {
          clearTimeout(t);
          return resolve();
        }
        sentAt = performance.now();
        s.dc.sendMessage(`echo ${rtts.length}`);
      });
      if (role === 'offer') {
        sentAt = performance.now();
        s.dc.sendMessage('echo 0');
      }
    });
    rtts.sort((a, b) => a - b);
    result = { connected: true, path: s.path, detail: s.detail, connectMs: Math.round(s.connectMs), rttMs: rtts.length ? rtts[Math.floor(rtts.length / 2)] : undefined };
    s.dc.close();
    s.pc.close();
  } catch (err) {
    result = { connected: false, error: (err as Error).message };
  }
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  relay.close();
  setTimeout(() => process.exit(0), 100);
}
void main().catch((err) => {
  process.stdout.write(`RESULT ${JSON.stringify({ connected: false, error: String(err) })}\n`);
  process.exit(0);
});
