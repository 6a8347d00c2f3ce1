// The node composition in-process: services start after the node founded/joined, in order, show up
// in status, and stop in reverse order on stop(); a failing service start stops the node.
import test from 'ava';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OverlayDaemon, type NodeService } from '../../src/node.js';
import { resolveNodeConfig } from '../../src/config.js';
import { controlRequest } from '../../src/control/client.js';

function recorder(name: string, events: string[], failStart = false): NodeService {
  return {
    name,
    async start(ctx) {
      events.push(`start ${name} joined=${ctx.overlay.address === ctx.identity.address}`);
      if (failStart) throw new Error(`${name} cannot start`);
    },
    async stop() {
      events.push(`stop ${name}`);
    },
    status: () => ({ healthy: true }),
  };
}

test('services start in order after founding, report status, stop in reverse', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'daemon-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const events: string[] = [];
  const said: string[] = [];
  const config = resolveNodeConfig({ network: 'svcnet', stateDir: dir, bindAddress: '127.0.0.1' });
  const d = await OverlayDaemon.start(config, { services: [recorder('a', events), recorder('b', events)], say: (l) => said.push(l) });
  t.teardown(() => d.stop());
  t.deepEqual(events, ['start a joined=true', 'start b joined=true']);
  t.true(said.some((l) => /founded network svcnet/.test(l)));
  t.true(said.some((l) => /generated the network secret/.test(l)));
  const status = (await controlRequest(d.controlSocketPath, { op: 'status' })) as { services: Record<string, unknown>; address: string; joined: boolean };
  t.deepEqual(status.services, { a: { healthy: true }, b: { healthy: true } });
  t.is(status.address, d.identity.addressHex);
  t.true(status.joined);
  await controlRequest(d.controlSocketPath, { op: 'down' });
  await d.stopped;
  t.deepEqual(events.slice(2), ['stop b', 'stop a']);
  t.false(existsSync(d.controlSocketPath), 'control socket removed');
  await d.stop(); // idempotent
  t.is(events.length, 4);
});

test('a service that fails to start stops the node and the started ones', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'daemon-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const events: string[] = [];
  const config = resolveNodeConfig({ network: 'svcnet', stateDir: dir, bindAddress: '127.0.0.1' });
  await t.throwsAsync(OverlayDaemon.start(config, { services: [recorder('a', events), recorder('b', events, true)] }), { message: /b cannot start/ });
  t.deepEqual(events, ['start a joined=true', 'start b joined=true', 'stop a']);
  t.false(existsSync(join(dir, 'control.sock')));
});
