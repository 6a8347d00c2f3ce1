// Talking to a running node: find its control socket, send one request, read one response (bounded).
import { createConnection } from 'node:net';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CONTROL_LINE_MAX_BYTES, CONTROL_SOCKET_NAME, decodeResponse, encodeRequest, type ControlRequest } from './protocol.js';
import { CodedError } from '../../lib/coded-error.js';

export const DEFAULT_CONTROL_TIMEOUT_MS = 30_000;

export class ControlClientError extends CodedError<'not-running' | 'failed' | 'protocol' | 'timeout'> {}

/**
 * The control socket to use: `<stateDir>/control.sock`; with only a network name, the default state
 * directory; with neither, the one running node under `stateRoot` (an error if none or several).
 */
export function locateControlSocket(o: { stateDir?: string; network?: string; stateRoot: string }): string {
  if (o.stateDir) return join(o.stateDir, CONTROL_SOCKET_NAME);
  if (o.network) return join(o.stateRoot, o.network, CONTROL_SOCKET_NAME);
  let names: string[] = [];
  try {
    names = readdirSync(o.stateRoot).filter((n) => existsSync(join(o.stateRoot, n, CONTROL_SOCKET_NAME)));
  } catch {
    /* no state root: nothing running */
  }
  if (names.length === 1) return join(o.stateRoot, names[0]!, CONTROL_SOCKET_NAME);
  if (names.length === 0) throw new ControlClientError('not-running', `no running node found under ${o.stateRoot} (give --network NAME or --state DIR)`);
  throw new ControlClientError('not-running', `several networks under ${o.stateRoot} (${names.join(', ')}): give --network NAME`);
}

export function controlRequest(path: string, req: ControlRequest, timeoutMs = DEFAULT_CONTROL_TIMEOUT_MS): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = '';
    let done = false;
    const finish = (f: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      f();
    };
    const timer = setTimeout(() => finish(() => reject(new ControlClientError('timeout', `node did not answer within ${timeoutMs} ms`))), timeoutMs);
    sock.on('connect', () => sock.write(encodeRequest(req)));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      const notRunning = err.code === 'ENOENT' || err.code === 'ECONNREFUSED';
      finish(() =>
        reject(
          notRunning
            ? new ControlClientError('not-running', `node not running (no control socket answers at ${path})`)
            : new ControlClientError('protocol', `control socket ${path}: ${err.message}`),
        ),
      );
    });
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      if (buf.length > CONTROL_LINE_MAX_BYTES * 16) finish(() => reject(new ControlClientError('protocol', 'response too long')));
    });
    sock.on('end', () =>
      finish(() => {
        try {
          const res = decodeResponse(buf.trim());
          if (res.ok) resolve(res.result);
          else reject(new ControlClientError('failed', res.error));
        } catch (err) {
          reject(new ControlClientError('protocol', `garbled response from node: ${(err as Error).message}`));
        }
      }),
    );
  });
}
