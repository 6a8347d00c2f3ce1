// The virtual network on real overlay nodes (OverlayDaemon + virtualNetworkService) in the harness:
// a public founder and a member behind an EIM NAT reach each other by virtual IP; a member that
// leaves removes its TUN and frees its address (a newcomer that prefers it gets it).
import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHarness, harnessScript, type Harness } from '../../simulations/netns/harness.js';

test.serial('overlay nodes get distinct vIPs, ping across a NAT, and a leaving node frees its address', async (t) => {
  let h: Harness | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'overlay-vnet-test-'));
  t.teardown(async () => {
    await h?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  writeFileSync(join(dir, 'secret'), randomBytes(32));
  h = await createHarness(['none', 'eim', 'eim'], 'o');
  const start = (i: number, state: string, extra: string[]) =>
    h!.topo.spawn(i, process.execPath, [harnessScript('overlay-vnet-node'), join(dir, state), 'testnet', join(dir, 'secret'), '10.128.0.0/16', '1400', h!.topo.node(i).lanIp, ...extra]);
  const boot = ['--bootstrap', `ws://${h.topo.node(0).lanIp}:7000`];
  const a = start(0, 'a', ['--listen', '7000']);
  const vipA = (await a.waitFor(/VNET up (\S+)/, 60_000))[1]!;
  const b = start(1, 'b', boot);
  const vipB = (await b.waitFor(/VNET up (\S+)/, 60_000))[1]!;
  t.not(vipA, vipB);
  const r = await h.topo.exec(1, 'ping', ['-c', '5', '-i', '0.2', '-W', '2', vipA]);
  t.regex(r.stdout, /5 received/);
  // b leaves: TUN gone, lease released.
  await b.kill(10_000);
  t.regex(b.output(), /LEFT/);
  await t.throwsAsync(h.topo.exec(1, 'ip', ['link', 'show', 'ovl0']));
  // A newcomer that remembers b's address (STATE/vip) gets it: it was freed, not left to expire.
  mkdirSync(join(dir, 'c'), { recursive: true });
  writeFileSync(join(dir, 'c', 'vip'), `${vipB}\n`);
  const c = start(2, 'c', boot);
  const vipC = (await c.waitFor(/VNET up (\S+)/, 60_000))[1]!;
  t.is(vipC, vipB);
  // a still has b's owner cached for that address: the first packets are dropped as spoofed while a
  // re-checks the DHT (rate-limited to once a second), then traffic flows.
  let answered = false;
  for (let i = 0; i < 20 && !answered; i++) answered = await h.topo.exec(2, 'ping', ['-c', '1', '-W', '0.5', vipA]).then(() => true, () => false);
  t.true(answered);
  const r2 = await h.topo.exec(2, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', vipA]);
  t.regex(r2.stdout, /3 received/);
});
