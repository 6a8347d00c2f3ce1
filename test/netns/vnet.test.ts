// The real virtual network between two NATed namespaces: TUN addon + DHT lease (the relay's DHT) +
// forwarder, with the routed path through the harness relay and a WebRTC data channel as shortcut.
// ICE has only the overlay's built-in STUN server (run by the harness relay): no coturn.
import test from 'ava';
import { createHarness, harnessScript, type Harness } from '../../simulations/netns/harness.js';

test.serial('ping over virtual IPs behind two NATs: routed first, then a traffic-driven direct shortcut; down removes the TUN', async (t) => {
  let h: Harness | undefined;
  t.teardown(async () => h?.destroy());
  h = await createHarness(['eim', 'eim'], 'v');
  const args = (n: string, p: string, role: string) => [harnessScript('vnet-peer'), h!.relayUrl, n, p, role, 'shortcut', '1400', '10.128.0.0/16', h!.stunUrl];
  const b = h.topo.spawn(1, process.execPath, args('B', 'A', 'answer'));
  const a = h.topo.spawn(0, process.execPath, args('A', 'B', 'offer'));
  const vipB = (await b.waitFor(/VNET up (\S+)/, 20_000))[1]!;
  const vipA = (await a.waitFor(/VNET up (\S+)/, 20_000))[1]!;
  t.not(vipA, vipB);
  t.regex(vipA, /^10\.128\./);
  const addr = await h.topo.exec(0, 'ip', ['-o', '-4', 'addr', 'show', 'ovl0']);
  t.regex(addr.stdout, new RegExp(`${vipA.replace(/\./g, '\\.')}/16`));
  // Slow pings stay under the shortcut threshold: routed through the relay.
  const slow = await h.topo.exec(0, 'ping', ['-c', '5', '-i', '0.2', '-W', '2', vipB]);
  t.regex(slow.stdout, /5 received/);
  t.false(a.output().includes('PATH'));
  // A burst crosses it: the data channel opens, and it is a direct path (both NATs are EIM).
  const burst = await h.topo.exec(0, 'ping', ['-c', '300', '-i', '0.005', '-W', '2', '-q', vipB]);
  const received = Number(/(\d+) received/.exec(burst.stdout)?.[1]);
  t.true(received >= 295, burst.stdout);
  t.regex((await a.waitFor(/PATH (\S+) (\S+)/, 10_000))[0], /PATH direct srflx<->srflx/);
  // ICE must not have picked the virtual subnet (the link would tunnel through itself).
  t.notRegex(a.output() + b.output(), /PATH \S+ .*10\.128\./);
  // After the shortcut, traffic runs over the data channel.
  await h.topo.exec(0, 'ping', ['-c', '50', '-i', '0.01', '-W', '2', '-q', vipB]);
  await a.kill();
  await b.kill();
  const status = JSON.parse(/STATUS (.*)/.exec(a.output())![1]!) as { state: string; counters: Record<string, number>; shortcutRequests: number };
  t.is(status.state, 'stopped');
  t.true(status.counters.txRouted! >= 5);
  t.true(status.counters.txDirect! >= 50);
  t.true(status.counters.rxDirect! >= 50);
  t.true(status.shortcutRequests >= 1);
  // overlay down: the TUN is gone.
  await t.throwsAsync(h.topo.exec(0, 'ip', ['link', 'show', 'ovl0']));
});
