// A link forced through a TURN relay (coturn on loopback) reports itself as relayed, and why.
// Everything stays on 127.0.0.0/8.
import test, { type ExecutionContext } from 'ava';
import { startProc } from '../../simulations/harness/proc.js';
import { makeConnector, tap } from './loopback.js';
import type { Link } from '../../overlay/link/link.js';

const TURN_PORT = 34780 + (process.pid % 200);

/** coturn on 127.0.0.1:`port` (relay ports min..max), stopped at the test's end; its ICE server URL list. */
async function startLoopbackTurn(t: ExecutionContext, port: number, minPort: number, maxPort: number): Promise<string[]> {
  const turn = startProc('turnserver', [
    '-n', '--listening-ip=127.0.0.1', `--listening-port=${port}`, '--relay-ip=127.0.0.1',
    `--min-port=${minPort}`, `--max-port=${maxPort}`, '--lt-cred-mech', '--user=u:p', '--realm=r', '--fingerprint',
    '--no-tls', '--no-dtls', '--no-cli', '--allow-loopback-peers', '--log-file=stdout', '--simple-log',
  ]);
  t.teardown(() => turn.kill());
  await turn.waitFor(/Total General servers|IPv4. TCP listener opened|listener opened on/, 10_000);
  return [`turn:u:p@127.0.0.1:${port}`];
}

test.serial('relay-only ICE through coturn gives a working link that info() calls relayed', async (t) => {
  const ice = await startLoopbackTurn(t, TURN_PORT, 49400, 49500);
  // Distinct loopback addresses: TURN permissions are per IP (RFC 8656 section 9), so with everyone on
  // 127.0.0.1 a peer's host socket could reach our allocation and show up as a direct prflx pair.
  const a = makeConnector({ iceServers: ice, iceTransportPolicy: 'relay', bindAddress: '127.0.0.2' });
  const b = makeConnector({ iceServers: ice, iceTransportPolicy: 'relay', bindAddress: '127.0.0.3' });
  t.teardown(() => {
    a.connector.closeAll();
    b.connector.closeAll();
  });
  const incoming = new Promise<Link>((resolve) => a.connector.onIncoming(resolve));
  const bl = await b.connector.dial(a.identity.address, (p) => a.connector.onSignal(b.identity.address, p, (back) => b.connector.onSignal(a.identity.address, back, () => {})));
  const al = await incoming;
  const info = bl.info();
  t.is(info.path, 'relayed', info.detail);
  t.regex(info.detail, /relay<->relay .*TURN relay on both sides/);
  const at = tap(al);
  tap(bl);
  t.true(bl.sendControl(Uint8Array.of(1, 2, 3)));
  await at.until(() => at.control.length === 1, 'frame through the relay');
  t.deepEqual([...at.control[0]!], [1, 2, 3]);
});

test.serial('a dial whose direct ICE attempt fails is retried once TURN-only, and the link says so', async (t) => {
  const ice = await startLoopbackTurn(t, TURN_PORT + 1, 49501, 49600);
  // A network where nothing direct gets through at first: every candidate is dropped on both sides
  // until the dialer gives up on its direct attempt. The TURN-only attempt that follows then works
  // through coturn, as behind two symmetric NATs.
  let directPhase = true;
  const lines: string[] = [];
  const a = makeConnector({ iceServers: ice, bindAddress: '127.0.0.2', dropCandidate: () => directPhase });
  const b = makeConnector({
    iceServers: ice,
    bindAddress: '127.0.0.3',
    dialTimeoutMs: 8_000,
    dropCandidate: () => directPhase,
    log: (line) => {
      lines.push(line);
      if (line.includes('retrying through TURN only')) directPhase = false;
    },
  });
  t.teardown(() => {
    a.connector.closeAll();
    b.connector.closeAll();
  });
  const incoming = new Promise<Link>((resolve) => a.connector.onIncoming(resolve));
  const bl = await b.connector.dial(a.identity.address, (p) => a.connector.onSignal(b.identity.address, p, (back) => b.connector.onSignal(a.identity.address, back, () => {})));
  const al = await incoming;
  t.false(directPhase, 'the direct attempt failed first');
  t.is(b.connector.counters.turn_fallbacks, 1);
  t.is(b.connector.counters.turn_fallbacks_ok, 1);
  t.is(b.connector.counters.dials_ok, 1);
  const info = bl.info();
  t.is(info.path, 'relayed', info.detail);
  t.regex(info.detail, /relay<->relay .*\[TURN fallback: the direct attempt failed \(/);
  const at = tap(al);
  tap(bl);
  t.true(bl.sendControl(Uint8Array.of(4, 5)));
  await at.until(() => at.control.length === 1, 'frame through the TURN fallback');
  t.deepEqual([...at.control[0]!], [4, 5]);
});
