// Pure parts of the node's edges: the control protocol codec and config validation.
import test from 'ava';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync, statSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeRequest, encodeRequest, decodeResponse, encodeResponse, ControlProtocolError } from '../../src/control/protocol.js';
import { resolveNodeConfig, saveGeneratedSecret, ConfigError, loadSecret, defaultStateDir } from '../../src/config.js';
import { ControlServer, ControlSocketError } from '../../src/control/server.js';
import { controlRequest, ControlClientError, locateControlSocket } from '../../src/control/client.js';

test('control requests round-trip and bad ones are ControlProtocolErrors', (t) => {
  const reqs = [
    { op: 'status' },
    { op: 'down' },
    { op: 'dht-put', key: 'k', value: 'v', ttlS: 60 },
    { op: 'dht-get', key: 'k' },
    { op: 'ping', address: 'a'.repeat(40), count: 3 },
    { op: 'ping', vip: '10.128.0.7', count: 1 },
    { op: 'names', addresses: ['b'.repeat(40)] as string[] },
    { op: 'vip-owner', vip: '10.128.0.9' },
  ] as const;
  for (const r of reqs) t.deepEqual(decodeRequest(encodeRequest(r)), r);
  const bad = ['', 'null', '[]', '{}', '{"op":"nope"}', '{"op":"dht-put","key":"k","value":"v","ttlS":0}', '{"op":"dht-get","key":""}', '{"op":"ping","address":"XYZ","count":1}', '{"op":"ping","vip":"10.0.0.256","count":1}', '{"op":"names","addresses":["XYZ"]}', '{"op":"vip-owner"}', '{"op":"vip-owner","vip":"host.example"}', '{"op":"names","addresses":"' + 'a'.repeat(40) + '"}', '{"op":"ping","vip":"10.0.0.1","address":"' + 'a'.repeat(40) + '","count":1}', '{"op":"ping","address":"' + 'a'.repeat(40) + '","count":1000}', '{"op":"dht-get","key":' + JSON.stringify('k'.repeat(9000)) + '}'];
  for (const line of bad) t.throws(() => decodeRequest(line), { instanceOf: ControlProtocolError }, line);
  t.deepEqual(decodeResponse(encodeResponse({ ok: true, result: { a: 1n } })), { ok: true, result: { a: '0000000000000000000000000000000000000001' } });
  t.throws(() => decodeResponse('{"ok":false}'), { instanceOf: ControlProtocolError });
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.json()), (line) => {
      try {
        decodeRequest(line);
        return true;
      } catch (err) {
        return err instanceof ControlProtocolError;
      }
    }),
    { numRuns: 2000, seed: 3 },
  );
});

test('config: secrets, defaults and validation', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // A founder without a secret gets one generated, mode 0600, reused next time.
  const founder = resolveNodeConfig({ network: 'net', stateDir: join(dir, 'a') });
  t.true(founder.secretGenerated);
  t.false(existsSync(join(dir, 'a')), 'resolving the config writes nothing');
  saveGeneratedSecret(founder);
  t.is(statSync(founder.secretSource).mode & 0o777, 0o600);
  t.is(readFileSync(founder.secretSource, 'utf8').trim().length, 64);
  const again = resolveNodeConfig({ network: 'net', stateDir: join(dir, 'a') });
  t.false(again.secretGenerated);
  t.deepEqual(again.secret, founder.secret);
  t.is(defaultStateDir('net'), '/var/lib/overlay/net');
  // Trailing newline ignored.
  writeFileSync(join(dir, 's'), '0123456789abcdef\n');
  t.deepEqual(loadSecret(join(dir, 's')), new TextEncoder().encode('0123456789abcdef'));
  const c = resolveNodeConfig({ network: 'net', stateDir: join(dir, 'b'), secretFile: join(dir, 's'), bootstrap: ['ws://127.0.0.1:1'], listenPort: 0, portRange: '40000-40100', relayOnly: true });
  t.deepEqual(c.portRange, { begin: 40000, end: 40100 });
  t.is(c.iceTransportPolicy, 'relay');
  t.deepEqual(c.listen, { host: '0.0.0.0', port: 0 });
  const bad: Array<[Parameters<typeof resolveNodeConfig>[0], RegExp]> = [
    [{}, /--network NAME is required/],
    [{ network: '-x' }, /bad network name/],
    [{ network: 'n', stateDir: join(dir, 'c'), bootstrap: ['ws://h:1'] }, /needs its secret/],
    [{ network: 'n', stateDir: join(dir, 'c'), secretFile: join(dir, 's'), portRange: '9-1' }, /bad --port-range/],
    [{ network: 'n', stateDir: join(dir, 'c'), secretFile: join(dir, 's'), listenHost: '127.0.0.1' }, /--listen-host needs --listen/],
    [{ network: 'n', stateDir: join(dir, 'c'), secretFile: join(dir, 's'), bindAddress: 'localhost!' }, /bad --bind-address/],
    [{ network: 'n', stateDir: join(dir, 'c'), secretFile: join(dir, 's'), ice: ['stun:'] }, /bad ICE server URL/],
  ];
  for (const [input, message] of bad) t.throws(() => resolveNodeConfig(input), { instanceOf: ConfigError, message }, JSON.stringify(input));
});

test('control socket: one request per connection, errors as responses, one node per state dir', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ctl-'));
  const path = join(dir, 'control.sock');
  const server = await ControlServer.listen(path, async (req) => {
    if (req.op === 'dht-get') throw new Error(`no ${req.key}`);
    return { echo: req.op };
  });
  t.teardown(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  t.is(statSync(path).mode & 0o777, 0o600);
  t.deepEqual(await controlRequest(path, { op: 'status' }), { echo: 'status' });
  const failed = await t.throwsAsync(controlRequest(path, { op: 'dht-get', key: 'x' }));
  t.is((failed as ControlClientError).code, 'failed');
  t.regex((failed as Error).message, /no x/);
  await t.throwsAsync(ControlServer.listen(path, async () => null), { instanceOf: ControlSocketError, message: /already running/ });
  const missing = await t.throwsAsync(controlRequest(join(dir, 'nope.sock'), { op: 'status' }));
  t.is((missing as ControlClientError).code, 'not-running');
  t.is(locateControlSocket({ stateDir: dir, stateRoot: '/nonexistent' }), path);
  t.throws(() => locateControlSocket({ stateRoot: join(dir, 'empty') }), { instanceOf: ControlClientError, message: /no running node/ });
  t.is(locateControlSocket({ stateRoot: join(dir, '..'), network: 'x' }), join(dir, '..', 'x', 'control.sock'));
});
