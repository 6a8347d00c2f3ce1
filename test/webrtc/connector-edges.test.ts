// Connector edge cases on loopback: bounded dials, close, busy rejection, garbage during the handshake.
import test from 'ava';
import nodeDataChannel from 'node-datachannel';
import { LinkDialError } from '../../overlay/link/webrtc/errors.js';
import { RefuseReason } from '../../overlay/handshake/messages.js';
import { decodeSignal, encodeSignal, SignalType } from '../../overlay/link/webrtc/signal-codec.js';
import { makeConnector, retryTransportFailure } from './loopback.js';

test.serial('a dial nobody answers fails after its timeout; close() aborts pending dials', async (t) => {
  const a = makeConnector({ dialTimeoutMs: 800 });
  t.teardown(() => a.connector.closeAll());
  const t0 = Date.now();
  const err = await t.throwsAsync(a.connector.dial(123n, () => {}));
  t.true(err instanceof LinkDialError);
  t.is((err as LinkDialError).code, 'timeout');
  t.true(Date.now() - t0 < 5000);
  t.is(a.connector.counters.dial_timeouts, 1);

  const b = makeConnector({ dialTimeoutMs: 60_000 });
  const pending = b.connector.dial(456n, () => {});
  b.connector.close();
  const closed = await t.throwsAsync(pending);
  t.is((closed as LinkDialError).code, 'closed');
  const after = await t.throwsAsync(b.connector.dial(789n, () => {}));
  t.is((after as LinkDialError).code, 'closed');
});

test.serial('an answerer over its pending-session limit rejects the offer', async (t) => {
  const a = makeConnector({ maxPendingIncoming: 0 });
  const b = makeConnector();
  t.teardown(() => {
    a.connector.closeAll();
    b.connector.closeAll();
  });
  const err = await t.throwsAsync(
    b.connector.dial(a.identity.address, (p) => a.connector.onSignal(b.identity.address, p, (back) => b.connector.onSignal(a.identity.address, back, () => {}))),
  );
  t.is((err as LinkDialError).code, 'rejected');
  t.regex((err as Error).message, /busy/);
  t.is(a.connector.counters.incoming_rejected_busy, 1);
});

test.serial('garbage instead of a HELLO on the control channel is refused as a protocol error', async (t) => {
  const { a, err } = await retryTransportFailure(async () => {
    const a = makeConnector();
    t.teardown(() => a.connector.closeAll());
    // A raw node-datachannel peer that answers the offer and then talks nonsense.
    const pc = new nodeDataChannel.PeerConnection('rogue', { iceServers: [], bindAddress: '127.0.0.1' });
    const channels: nodeDataChannel.DataChannel[] = [];
    t.teardown(() => {
      for (const c of channels) c.close();
      pc.close();
    });
    let session: Uint8Array | undefined;
    let toDialer: (p: Uint8Array) => void = () => {};
    pc.onLocalDescription((sdp, type) => {
      if (type === 'answer' && session) toDialer(encodeSignal({ type: SignalType.Answer, session, sdp }));
    });
    pc.onLocalCandidate((candidate, mid) => session && toDialer(encodeSignal({ type: SignalType.Candidate, session, candidate, mid })));
    pc.onDataChannel((dc) => {
      channels.push(dc);
      if (dc.getLabel() === 'control') dc.sendMessageBinary(Buffer.from('this is not a handshake'));
    });
    const rogueAddress = 999n;
    toDialer = (p) => a.connector.onSignal(rogueAddress, p, () => {});
    const err = await a.connector
      .dial(rogueAddress, (p) => {
        const m = decodeSignal(p);
        session = m.session;
        if (m.type === SignalType.Offer) pc.setRemoteDescription(m.sdp, 'offer');
        else if (m.type === SignalType.Candidate) pc.addRemoteCandidate(m.candidate, m.mid);
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    if (err instanceof LinkDialError && err.code === 'failed' && !err.refuse) throw err;
    return { a, err };
  });
  t.true(err instanceof LinkDialError, String(err));
  t.is((err as LinkDialError).refuse?.reason, RefuseReason.ProtocolError, `${String(err)}\n${a.lines.join('\n')}`);
  t.regex((err as Error).message, /malformed handshake frame/);
  t.is(a.connector.counters.refused_protocol, 1);
  t.is(a.connector.openLinks().length, 0);
});
