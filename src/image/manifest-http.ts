// Every server of an image version serves the version's manifest over HTTP on its virtual IP
// (GET /manifest/<digest hex>), so a new replica or a mount can fetch it from any server and check
// it against the digest in the signed version record. Bounded: connections, time, and size.
import http from 'node:http';
import { createHash } from 'node:crypto';
import { CodedError } from '../../lib/coded-error.js';

/** Largest manifest fetched (a 2,000,000-entry tree stays below it). */
export const MANIFEST_MAX_BYTES = 256 * 1024 * 1024;
const MAX_CONNECTIONS = 32;
const REQUEST_TIMEOUT_MS = 60_000;

export class ManifestFetchError extends CodedError<'failed'> {}

export interface ManifestServer {
  port: number;
  close(): Promise<void>;
}

/** Serves `bytes` (whose SHA-256 is `digest`) at /manifest/<digest hex> on host:port (0 = any). */
export async function serveManifest(host: string, port: number, bytes: Uint8Array, digest: Uint8Array): Promise<ManifestServer> {
  const path = `/manifest/${Buffer.from(digest).toString('hex')}`;
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== path) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no such manifest\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
    res.end(bytes);
  });
  server.maxConnections = MAX_CONNECTIONS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  const bound = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as { port: number }).port));
  });
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Fetches the manifest with `digest` from host:port and checks it; ManifestFetchError on any failure. */
export function fetchManifest(host: string, port: number, digest: Uint8Array, timeoutMs = 30_000): Promise<Uint8Array> {
  const hexDigest = Buffer.from(digest).toString('hex');
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: `/manifest/${hexDigest}`, timeout: timeoutMs }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new ManifestFetchError('failed', `${host}:${port} answered HTTP ${res.statusCode}`));
        return;
      }
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (!(declared >= 0 && declared <= MANIFEST_MAX_BYTES)) {
        res.destroy();
        reject(new ManifestFetchError('failed', `${host}:${port}: manifest size ${res.headers['content-length']} out of bounds`));
        return;
      }
      const parts: Buffer[] = [];
      let got = 0;
      res.on('data', (d: Buffer) => {
        got += d.length;
        if (got > declared) res.destroy(new ManifestFetchError('failed', 'manifest longer than announced'));
        else parts.push(d);
      });
      res.on('error', (e) => reject(e instanceof ManifestFetchError ? e : new ManifestFetchError('failed', `${host}:${port}: ${e.message}`)));
      res.on('end', () => {
        const bytes = Buffer.concat(parts);
        if (bytes.length !== declared) return reject(new ManifestFetchError('failed', `${host}:${port}: manifest cut short`));
        if (createHash('sha256').update(bytes).digest('hex') !== hexDigest) return reject(new ManifestFetchError('failed', `${host}:${port}: manifest does not match the version's digest`));
        resolve(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
      });
    });
    req.on('timeout', () => req.destroy(new ManifestFetchError('failed', `${host}:${port}: no manifest within ${timeoutMs} ms`)));
    req.on('error', (e) => reject(e instanceof ManifestFetchError ? e : new ManifestFetchError('failed', `${host}:${port}: ${e.message}`)));
  });
}
