// The HTTP endpoint of `overlay up --metrics ADDR:PORT`: GET /metrics answers the node's figures in
// the Prometheus text format. Bounded: a few connections at once, short header/request/idle
// timeouts, no request body read; anything but GET or HEAD /metrics gets a short 404/405.
import { createServer, type Server } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { CodedError } from '../../lib/coded-error.js';
import { encodePrometheusText, PROMETHEUS_CONTENT_TYPE, type MetricFamily } from './prometheus-text.js';

/** Connections served at once (a Prometheus server or two, and a person with curl); more are refused. */
export const METRICS_MAX_CONNECTIONS = 8;
/** Bound on receiving a request's headers, and on the whole request. */
export const METRICS_REQUEST_TIMEOUT_MS = 5_000;
/** An idle kept-alive connection is closed after this. */
export const METRICS_KEEPALIVE_MS = 5_000;
export const METRICS_PATH = '/metrics';
/** Default bind address when only a port is given: metrics stay on this machine unless asked. */
export const METRICS_DEFAULT_HOST = '127.0.0.1';

export class MetricsServer {
  private constructor(
    private readonly server: Server,
    readonly host: string,
    readonly port: number,
  ) {}

  /** Listens on host:port (0: any free port); `collect` is called once per scrape. */
  static async listen(host: string, port: number, collect: () => MetricFamily[]): Promise<MetricsServer> {
    const server = createServer({ headersTimeout: METRICS_REQUEST_TIMEOUT_MS, requestTimeout: METRICS_REQUEST_TIMEOUT_MS, keepAliveTimeout: METRICS_KEEPALIVE_MS, connectionsCheckingInterval: 1_000 }, (req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (path !== METRICS_PATH) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: the metrics are at ${METRICS_PATH}\n`);
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' }).end('method not allowed\n');
        return;
      }
      let body: string;
      try {
        body = encodePrometheusText(collect());
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
        return;
      }
      res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    server.maxConnections = METRICS_MAX_CONNECTIONS;
    // A connection that sends nothing at all is closed too (headersTimeout starts with a request).
    server.timeout = METRICS_REQUEST_TIMEOUT_MS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new MetricsServer(server, host, (server.address() as AddressInfo).port);
  }

  get url(): string {
    return `http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}${METRICS_PATH}`;
  }

  /** Stops listening and closes every connection. Idempotent. */
  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export class MetricsAddressError extends CodedError<'bad-address'> {}

/** Parses --metrics: PORT (on 127.0.0.1), ADDR:PORT or [IPV6]:PORT, ADDR an IP address of this machine. */
export function parseMetricsAddress(spec: string): { host: string; port: number } {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[0-9.]+):)?(\d{1,5})$/.exec(spec);
  if (!m) throw new MetricsAddressError('bad-address', `bad --metrics '${spec}' (want PORT, ADDR:PORT or [IPV6]:PORT)`);
  const port = Number(m[2]);
  if (port > 65535) throw new MetricsAddressError('bad-address', `bad --metrics port ${port} (0-65535)`);
  const host = m[1] ? m[1].replace(/^\[|\]$/g, '') : METRICS_DEFAULT_HOST;
  if (!isIP(host)) throw new MetricsAddressError('bad-address', `bad --metrics address '${host}' (want an IP address)`);
  return { host, port };
}
