// `overlay up --metrics` (issue 14 item 7): two real nodes on loopback; the founder's endpoint is
// scraped over HTTP and parsed by the Prometheus project's own Python client parser
// (Debian's python3-prometheus-client, hence /usr/bin/python3), then checked against `overlay status --json` of the same node.
// Also: loopback by default, 404/405 for other paths and methods, and connections beyond the bound refused.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProc, type Proc } from '../../simulations/harness/proc.js';
import { METRICS_MAX_CONNECTIONS } from '../../src/metrics/metrics-server.js';
import { metricName } from '../../src/metrics/prometheus-text.js';
import { BIN, cli } from './cli-process.js';

/** [sample name, labels, value, family type] for every sample, as prometheus_client parses the text. */
type Sample = [string, Record<string, string>, number, string];
const PARSE = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    for s in f.samples:
        out.append([s.name, s.labels, s.value, f.type])
print(json.dumps(out))
`;

/** One HTTP request on its own connection (no keep-alive pool, so the connection bound below counts only the test's own sockets). */
function httpRequest(url: string, method = 'GET'): Promise<{ status: number; contentType: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, contentType: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(method === 'POST' ? 'x' : undefined);
  });
}

function parseWithPrometheusClient(text: string): Promise<Sample[]> {
  return new Promise((resolve, reject) => {
    const p = execFile('/usr/bin/python3', ['-c', PARSE], { timeout: 20_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout) as Sample[])));
    p.stdin!.end(text);
  });
}

test('metrics endpoint: Prometheus text with the counters of status --json, on loopback, bounded', async (t) => {
  t.timeout(120_000);
  const root = mkdtempSync(join(tmpdir(), 'metrics-'));
  const procs: Proc[] = [];
  const sockets: Socket[] = [];
  t.teardown(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(procs.map((p) => p.kill(3000)));
    rmSync(root, { recursive: true, force: true });
  });
  const up = (name: string, extra: string[]) => {
    const p = startProc(process.execPath, [BIN, 'up', '--no-vnet', '--network', 'metricsnet', '--state', join(root, name), '--bind-address', '127.0.0.1', '--dial-timeout', '10', ...extra]);
    procs.push(p);
    return p;
  };
  // --metrics PORT alone binds loopback.
  const founder = up('a', ['--listen', '0', '--listen-host', '127.0.0.1', '--metrics', '0']);
  const url = (await founder.waitFor(/metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/, 20_000))[1]!;
  const port = (await founder.waitFor(/bootstrap endpoint listening on 127\.0\.0\.1:(\d+)/, 20_000))[1]!;
  const member = up('b', ['--bootstrap', `ws://127.0.0.1:${port}`, '--secret', join(root, 'a', 'secret')]);
  await member.waitFor(/joined network metricsnet/, 40_000);
  await founder.waitFor(/founded network metricsnet/, 1_000);

  const status = JSON.parse((await cli(['status', '--json', '--state', join(root, 'a')])).stdout) as {
    address: string;
    links: unknown[];
    counters: Record<string, number>;
    connector: Record<string, number>;
    bootstrap: { counters: Record<string, number> };
  };
  // Scraped after status: a counter never vanishes or shrinks, and one may appear in between
  // (counters are created on first use).
  const res = await httpRequest(url);
  t.is(res.status, 200);
  t.is(res.contentType, 'text/plain; version=0.0.4; charset=utf-8');
  const samples = await parseWithPrometheusClient(res.body);
  const value = (name: string, labels: Record<string, string> = {}) =>
    samples.find(([n, l]) => n === name && Object.entries(labels).every(([k, v]) => l[k] === v))?.[2];
  t.is(value('overlay_node_info', { network: 'metricsnet', address: status.address }), 1);
  t.is(value('overlay_joined'), 1);
  t.is(
    samples.filter(([n]) => n === 'overlay_links').reduce((sum, [, , v]) => sum + v, 0),
    status.links.length,
  );
  // Every counter of status --json is there, typed counter, at least as large as status said.
  const parts: Array<[string, Record<string, number>]> = [['overlay_node', status.counters], ['overlay_connector', status.connector], ['overlay_bootstrap', status.bootstrap.counters]];
  let checked = 0;
  for (const [prefix, counters] of parts) {
    for (const [name, v] of Object.entries(counters)) {
      const sample = samples.find(([n]) => n === `${prefix}_${metricName(name)}_total`);
      t.truthy(sample, `${prefix} ${name}`);
      t.is(sample![3], 'counter');
      t.true(sample![2] >= v, `${name}: scraped ${sample![2]}, status ${v}`);
      checked++;
    }
  }
  t.true(checked >= 20, `${checked} counters`);
  t.true(value('overlay_bootstrap_clients_total')! >= status.bootstrap.counters.clients!);
  t.true(status.bootstrap.counters.clients! >= 1);

  t.is((await httpRequest(url.replace('/metrics', '/'))).status, 404);
  t.is((await httpRequest(url, 'POST')).status, 405);

  // Connections beyond the bound are closed at once; the ones held idle are closed by the request timeout.
  const { port: metricsPort } = new URL(url);
  const closedAt: number[] = [];
  const t0 = Date.now();
  for (let i = 0; i < METRICS_MAX_CONNECTIONS + 4; i++) {
    const s = connect(Number(metricsPort), '127.0.0.1');
    s.on('close', () => closedAt.push(Date.now() - t0));
    s.on('error', () => undefined);
    sockets.push(s);
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 1_000));
  t.is(closedAt.length, 4, `closed at ${closedAt.join(', ')} ms`);
  const deadline = Date.now() + 20_000;
  while (closedAt.length < METRICS_MAX_CONNECTIONS + 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  t.is(closedAt.length, METRICS_MAX_CONNECTIONS + 4, 'idle connections closed by the server');
  t.is((await httpRequest(url)).status, 200, 'scrapes work again');
});

test('bad --metrics values are one line each', async (t) => {
  for (const [spec, message] of [
    ['localhost:9100', /bad --metrics 'localhost:9100'/],
    ['1.2.3:9100', /bad --metrics address '1\.2\.3'/],
    ['127.0.0.1:70000', /bad --metrics port 70000/],
  ] as const) {
    const r = await cli(['up', '--no-vnet', '--network', 'n', '--state', join(tmpdir(), 'never-created-metrics'), '--metrics', spec]);
    t.is(r.code, 2);
    t.regex(r.stderr, message);
  }
});
