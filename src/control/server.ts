// The control socket of a running node: a unix socket (mode 0600) in the state directory. One
// request line per connection; bounded size and time; a bad request gets an error response.
import { createServer, createConnection, type Server, type Socket } from 'node:net';
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { CONTROL_LINE_MAX_BYTES, ControlProtocolError, decodeRequest, encodeResponse, type ControlRequest } from './protocol.js';
import { CodedError } from '../../lib/coded-error.js';

export const CONTROL_REQUEST_TIMEOUT_MS = 60_000;

export class ControlSocketError extends CodedError<'in-use' | 'listen'> {}

export type ControlHandler = (req: ControlRequest) => Promise<unknown>;

/** True if something answers on `path` (a live node), false for a stale file. */
function isLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    const t = setTimeout(() => (s.destroy(), resolve(false)), 1000);
    s.on('connect', () => (clearTimeout(t), s.destroy(), resolve(true)));
    s.on('error', () => (clearTimeout(t), resolve(false)));
  });
}

export class ControlServer {
  private readonly sockets = new Set<Socket>();
  private constructor(
    private readonly server: Server,
    readonly path: string,
  ) {}

  static async listen(path: string, handler: ControlHandler, log: (line: string) => void = () => {}): Promise<ControlServer> {
    if (existsSync(path)) {
      if (await isLive(path)) throw new ControlSocketError('in-use', `a node is already running with control socket ${path}`);
      unlinkSync(path); // left behind by a node that crashed
    }
    const server = createServer();
    const cs = new ControlServer(server, path);
    server.on('connection', (sock) => cs.serve(sock, handler, log));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new ControlSocketError('listen', `cannot listen on ${path}: ${err.message}`)));
      server.listen(path, () => resolve());
    });
    chmodSync(path, 0o600);
    return cs;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      unlinkSync(this.path);
    } catch {
      /* already gone */
    }
  }

  private serve(sock: Socket, handler: ControlHandler, log: (line: string) => void): void {
    this.sockets.add(sock);
    sock.setTimeout(CONTROL_REQUEST_TIMEOUT_MS, () => sock.destroy());
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => {});
    let buf = '';
    let handled = false;
    sock.on('data', (d) => {
      if (handled) return;
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl < 0 && buf.length <= CONTROL_LINE_MAX_BYTES) return;
      handled = true;
      const line = nl < 0 ? buf : buf.slice(0, nl);
      let req: ControlRequest;
      try {
        if (nl < 0) throw new ControlProtocolError('malformed', 'request line too long');
        req = decodeRequest(line);
      } catch (err) {
        sock.end(encodeResponse({ ok: false, error: (err as Error).message }));
        return;
      }
      handler(req).then(
        (result) => sock.end(encodeResponse({ ok: true, result: result ?? null })),
        (err: unknown) => {
          log(`control ${req.op} failed: ${(err as Error).message}`);
          sock.end(encodeResponse({ ok: false, error: `${(err as Error).name}: ${(err as Error).message}` }));
        },
      );
    });
  }
}
