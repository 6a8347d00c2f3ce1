// Joining through a bootstrap endpoint: connect, read WELCOME (the endpoint node's address), send
// HELLO, then run an ordinary connector dial whose signalling rides the WebSocket. The socket closes
// as soon as the dial ends; the whole attempt is bounded by `timeoutMs`.
import { WebSocket, type RawData } from 'ws';
import type { Clock } from '../../lib/clock.js';
import type { Connector, Link } from '../link/link.js';
import type { RingAddress } from '../ring/ring.js';
import { BootstrapCodecError, BootstrapType, decodeBootstrap, encodeBootstrap, SIGNAL_PAYLOAD_MAX_BYTES } from './messages.js';
import { BootstrapError, parseBootstrapUrl } from './errors.js';
import { toBytes } from './server.js';

export const DEFAULT_BOOTSTRAP_TIMEOUT_MS = 30_000;

export interface BootstrapDialOptions {
  network: string;
  /** Our own ring address, announced in HELLO (the link handshake proves it later). */
  address: RingAddress;
  connector: Pick<Connector, 'dial' | 'onSignal'>;
  clock: Clock;
  timeoutMs?: number;
  /** Bound on reaching the endpoint (name lookup, TCP connect, WebSocket handshake); default timeoutMs. */
  connectTimeoutMs?: number;
  /**
   * The endpoint answers STUN on UDP `stunUrl` (learned from its WELCOME, at the host we reached it
   * at); called before the dial, so the first link can use it too.
   */
  onStunServer?: (stunUrl: string) => void;
}

/**
 * Makes the first link through the endpoint at `url`. Rejects with BootstrapError for endpoint
 * problems, or with the connector's own error (e.g. LinkDialError 'refused') when the dial fails.
 */
export async function dialViaBootstrap(url: string, o: BootstrapDialOptions): Promise<{ link: Link; endpointAddress: RingAddress }> {
  const parsed = parseBootstrapUrl(url);
  const timeoutMs = o.timeoutMs ?? DEFAULT_BOOTSTRAP_TIMEOUT_MS;
  return new Promise<{ link: Link; endpointAddress: RingAddress }>((resolve, reject) => {
    const ws = new WebSocket(parsed, { handshakeTimeout: o.connectTimeoutMs ?? timeoutMs, maxPayload: 2 + SIGNAL_PAYLOAD_MAX_BYTES });
    let settled = false;
    let server: RingAddress | undefined;
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      timer.cancel();
      ws.removeAllListeners('close');
      ws.on('error', () => {}); // errors after we are done are of no interest
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(1000);
      f();
    };
    const timer = o.clock.setTimeout(
      () => finish(() => reject(new BootstrapError('timeout', `no link through ${url} within ${timeoutMs} ms`))),
      timeoutMs,
    );
    const send = (payload: Uint8Array) => {
      if (ws.readyState === ws.OPEN) ws.send(encodeBootstrap({ type: BootstrapType.Signal, payload }));
    };
    ws.on('error', (err) => finish(() => reject(new BootstrapError('unreachable', `cannot reach bootstrap ${url}: ${err.message}`, { cause: err }))));
    ws.on('close', (code, reason) =>
      finish(() => reject(new BootstrapError('protocol', `bootstrap ${url} closed the connection (${code}${reason.length ? ` ${reason.toString()}` : ''})`))),
    );
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (settled) return;
      let msg;
      try {
        if (!isBinary) throw new BootstrapCodecError('malformed', 'text frame from server');
        msg = decodeBootstrap(toBytes(data));
      } catch (err) {
        if (!(err instanceof BootstrapCodecError)) throw err;
        return finish(() => reject(new BootstrapError('protocol', `bad frame from bootstrap ${url}: ${err.message}`)));
      }
      switch (msg.type) {
        case BootstrapType.Welcome:
          if (server !== undefined) return finish(() => reject(new BootstrapError('protocol', 'second WELCOME')));
          if (msg.network !== o.network) {
            ws.send(encodeBootstrap({ type: BootstrapType.Error, message: `wrong network '${msg.network}'` }));
            return finish(() => reject(new BootstrapError('network-mismatch', `bootstrap ${url} serves network '${msg.network}', not '${o.network}'`)));
          }
          server = msg.address;
          if (msg.stunPort !== undefined) o.onStunServer?.(`stun:${parsed.hostname}:${msg.stunPort}`);
          ws.send(encodeBootstrap({ type: BootstrapType.Hello, network: o.network, address: o.address }));
          o.connector.dial(msg.address, send).then(
            (link) => finish(() => resolve({ link, endpointAddress: msg.address })),
            (err: unknown) => finish(() => reject(err)),
          );
          return;
        case BootstrapType.Signal:
          if (server === undefined) return finish(() => reject(new BootstrapError('protocol', 'SIGNAL before WELCOME')));
          o.connector.onSignal(server, msg.payload, send);
          return;
        case BootstrapType.Error:
          return finish(() => reject(new BootstrapError(/network/.test(msg.message) ? 'network-mismatch' : 'protocol', `bootstrap ${url}: ${msg.message}`)));
        case BootstrapType.Hello:
          return finish(() => reject(new BootstrapError('protocol', 'HELLO is sent by clients')));
      }
    });
  });
}
