import test from 'ava';
import { WebSocket } from 'ws';
import { dialViaBootstrap } from '../../overlay/bootstrap/client.js';
import { BootstrapError } from '../../overlay/bootstrap/errors.js';
import { BootstrapType, decodeBootstrap, encodeBootstrap } from '../../overlay/bootstrap/messages.js';
import { LinkDialError } from '../../overlay/link/webrtc/errors.js';
import { encodeSignal, SignalType } from '../../overlay/link/webrtc/signal-codec.js';
import { RefuseReason } from '../../overlay/handshake/messages.js';
import { systemClock } from '../../lib/clock.js';
import type { Link } from '../../overlay/link/link.js';
import { makeConnector, makeEndpoint, tap, NETWORK, retryTransportFailure } from './loopback.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function nextIncoming(c: ReturnType<typeof makeConnector>['connector'], timeoutMs = 10_000): Promise<Link> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no incoming link')), timeoutMs);
    c.onIncoming((l) => {
      clearTimeout(t);
      resolve(l);
    });
  });
}

test.serial('two connectors link up through the bootstrap endpoint, exchange frames, close cleanly', async (t) => {
  const a = makeConnector();
  const b = makeConnector();
  const endpoint = await makeEndpoint(a);
  t.teardown(async () => {
    a.connector.closeAll();
    b.connector.closeAll();
    await endpoint.close();
  });
  const incoming = nextIncoming(a.connector);
  // A transport failure (libdatachannel's loopback flake, see retryTransportFailure; a CI run saw
  // ICE fail on both sides) is redialled, as `overlay up` does; anything else fails the test.
  const { link: bl, endpointAddress } = await retryTransportFailure(() =>
    dialViaBootstrap(endpoint.url, { network: NETWORK, address: b.identity.address, connector: b.connector, clock: systemClock }),
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}\nendpoint node:\n${a.lines.join('\n')}\njoiner:\n${b.lines.join('\n')}`);
  });
  const al = await incoming;
  t.is(endpointAddress, a.identity.address);
  t.is(bl.remote, a.identity.address, 'dialler sees the endpoint node, authenticated');
  t.deepEqual(bl.remoteKey, a.identity.publicKey);
  t.is(al.remote, b.identity.address, 'endpoint node sees the joiner, authenticated');
  t.deepEqual(al.remoteKey, b.identity.publicKey);

  // Frames sent before setHandlers are queued, not lost.
  t.true(bl.sendControl(enc('early')));
  const at = tap(al);
  const bt = tap(bl);
  await at.until(() => at.control.length === 1, 'early control frame');
  t.is(dec(at.control[0]!), 'early');

  for (let i = 0; i < 20; i++) t.true(al.sendControl(enc(`c${i}`)));
  await bt.until(() => bt.control.length === 20, 'ordered control frames');
  t.deepEqual(bt.control.map(dec), Array.from({ length: 20 }, (_, i) => `c${i}`), 'control channel is ordered and reliable');

  t.true(bl.sendData(new Uint8Array(1200).fill(7)));
  await at.until(() => at.data.length >= 1, 'data packet');
  t.is(at.data[0]!.length, 1200);

  const info = bl.info();
  t.is(info.transport, 'webrtc');
  t.is(info.path, 'direct');
  t.regex(info.detail, /^host<->(host|prflx) udp 127\.0\.0\.1:\d+<->127\.0\.0\.1:\d+$/);
  t.is(a.connector.counters.incoming_ok, 1);
  t.is(b.connector.counters.dials_ok, 1);

  bl.close('test done');
  t.true(bl.closed);
  t.false(bl.sendControl(enc('after close')));
  await at.until(() => at.closeCount === 1, 'peer sees the close');
  t.true(al.closed);
  t.is(bt.closeCount, 1);
  t.is(bt.closeReason, 'test done');
  bl.close('again'); // idempotent
  t.is(bt.closeCount, 1);
  await at.until(() => a.connector.openLinks().length === 0 && b.connector.openLinks().length === 0, 'connectors forget closed links');
});

test.serial('a peer with the wrong network secret gets no link, on either side', async (t) => {
  const a = makeConnector();
  const intruder = makeConnector({ secret: enc('a different secret entirely!!') });
  const endpoint = await makeEndpoint(a);
  t.teardown(async () => {
    a.connector.closeAll();
    intruder.connector.closeAll();
    await endpoint.close();
  });
  let incoming = 0;
  a.connector.onIncoming(() => incoming++);
  // A transport failure (libdatachannel's loopback DTLS flake, see retryTransportFailure) is
  // retried; a refusal is the answer under test.
  const err = await retryTransportFailure(async () => {
    const e = await dialViaBootstrap(endpoint.url, { network: NETWORK, address: intruder.identity.address, connector: intruder.connector, clock: systemClock }).then(
      () => undefined,
      (x: unknown) => x,
    );
    if (e instanceof LinkDialError && e.code === 'failed' && !e.refuse) throw e;
    return e;
  });
  t.true(err instanceof LinkDialError, String(err));
  const e = err as LinkDialError;
  t.is(e.code, 'refused');
  t.regex(e.message, /network secret mismatch|BadSecret/);
  // The member counts its refusal (bounded wait: its AUTH check runs when the intruder's AUTH lands).
  const deadline = Date.now() + 5000;
  while (a.connector.counters.refused_bad_secret + a.connector.counters.refused_by_peer === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.true(a.connector.counters.refused_bad_secret >= 1, JSON.stringify(a.connector.counters));
  t.is(a.connector.counters.incoming_ok, 0);
  t.is(incoming, 0);
  t.is(a.connector.openLinks().length, 0);
  t.true(a.lines.some((l) => /network secret mismatch/.test(l)), a.lines.join('\n'));
});

test.serial('a dial to an address whose key does not match is refused', async (t) => {
  const { b, err } = await retryTransportFailure(async () => {
    const a = makeConnector();
    const b = makeConnector();
    t.teardown(() => {
      a.connector.closeAll();
      b.connector.closeAll();
    });
    // b dials "some other address" but a answers: a's key does not hash to it.
    const wrong = a.identity.address ^ 1n;
    const err = await b.connector
      .dial(wrong, (payload) => a.connector.onSignal(b.identity.address, payload, (back) => b.connector.onSignal(wrong, back, () => {})))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    if (err instanceof LinkDialError && err.code === 'failed' && !err.refuse) throw err;
    return { b, err };
  });
  t.true(err instanceof LinkDialError, String(err));
  t.is((err as LinkDialError).refuse?.reason, RefuseReason.AddressMismatch, `${String(err)} ${JSON.stringify(b.connector.counters)}`);
  t.is(b.connector.counters.refused_address_mismatch, 1, JSON.stringify(b.connector.counters));
});

test.serial('bootstrap endpoint answers malformed input with an error and a close, and keeps serving', async (t) => {
  const a = makeConnector();
  const endpoint = await makeEndpoint(a);
  t.teardown(async () => {
    a.connector.closeAll();
    await endpoint.close();
  });
  async function exchange(frames: Array<Uint8Array | string>): Promise<{ messages: string[]; code: number }> {
    const ws = new WebSocket(endpoint.url);
    const messages: string[] = [];
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => (ws.terminate(), reject(new Error('endpoint did not close'))), 5000);
      ws.on('message', (data, isBinary) => {
        const m = decodeBootstrap(new Uint8Array(data as Buffer));
        t.true(isBinary);
        messages.push(m.type === BootstrapType.Error ? `error: ${m.message}` : BootstrapType[m.type]);
        if (m.type === BootstrapType.Welcome) for (const f of frames) ws.send(f);
      });
      ws.on('close', (code) => {
        clearTimeout(timer);
        resolve({ messages, code });
      });
      ws.on('error', () => {});
    });
  }
  const garbage = await exchange([Uint8Array.of(1, 99, 0, 0)]);
  t.is(garbage.code, 1008);
  t.deepEqual(garbage.messages[0], 'Welcome');
  t.regex(garbage.messages[1]!, /^error: bad frame: unknown bootstrap message type 99/);

  const text = await exchange(['hello']);
  t.regex(text.messages[1]!, /binary frames only/);

  const early = await exchange([encodeBootstrap({ type: BootstrapType.Signal, payload: Uint8Array.of(1, 2, 3) })]);
  t.regex(early.messages[1]!, /SIGNAL before HELLO/);

  const wrongNet = await exchange([encodeBootstrap({ type: BootstrapType.Hello, network: 'othernet', address: 5n })]);
  t.regex(wrongNet.messages[1]!, /serves network 'testnet', not 'othernet'/);

  // A malformed signalling payload after a good HELLO is dropped and counted by the connector.
  const hello = encodeBootstrap({ type: BootstrapType.Hello, network: NETWORK, address: 5n });
  const ws = new WebSocket(endpoint.url);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), 5000);
    ws.on('message', () => {
      ws.send(hello);
      ws.send(encodeBootstrap({ type: BootstrapType.Signal, payload: Uint8Array.of(1, 1, 0) }));
      clearTimeout(timer);
      resolve();
    });
  });
  const deadline = Date.now() + 5000;
  while (a.connector.counters.signals_malformed === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.is(a.connector.counters.signals_malformed, 1);
  // A well-formed OFFER whose SDP is nonsense, and nonsense candidates: the session fails, nothing crashes.
  const session = Uint8Array.of(9, 9, 9, 9, 9, 9, 9, 9);
  ws.send(encodeBootstrap({ type: BootstrapType.Signal, payload: encodeSignal({ type: SignalType.Offer, session, sdp: 'v=0\r\nthis is not sdp' }) }));
  ws.send(encodeBootstrap({ type: BootstrapType.Signal, payload: encodeSignal({ type: SignalType.Candidate, session, mid: '0', candidate: 'a=candidate:garbage' }) }));
  const deadline2 = Date.now() + 5000;
  while (a.connector.counters.incoming_failed === 0 && Date.now() < deadline2) await new Promise((r) => setTimeout(r, 20));
  t.is(a.connector.counters.incoming_failed, 1);
  t.true(a.lines.some((l) => /bad Offer from peer/.test(l)), a.lines.join('\n'));
  ws.close();
  t.is(endpoint.counters.bad_frames, 1);
  t.is(endpoint.counters.network_mismatch, 1);

  // A client of another network is told so by the client-side check too.
  const err = await t.throwsAsync(dialViaBootstrap(endpoint.url, { network: 'othernet', address: 7n, connector: a.connector, clock: systemClock }));
  t.true(err instanceof BootstrapError);
  t.is((err as BootstrapError).code, 'network-mismatch');
  const bad = await t.throwsAsync(dialViaBootstrap('http://x', { network: NETWORK, address: 7n, connector: a.connector, clock: systemClock }));
  t.is((bad as BootstrapError).code, 'bad-url');
  const unreachable = await t.throwsAsync(dialViaBootstrap('ws://127.0.0.1:1', { network: NETWORK, address: 7n, connector: a.connector, clock: systemClock }));
  t.is((unreachable as BootstrapError).code, 'unreachable');
});
