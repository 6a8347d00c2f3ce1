// The real NAT matrix: namespaces, iptables NAT routers, plain node-datachannel peers; STUN from the
// overlay's built-in server (every pair that can go direct does so through it), TURN from coturn.
import test from 'ava';
import { run } from '../../simulations/harness/proc.js';
import { createHarness, runNatMatrix, matrixNodes, expectsDirect, type Harness } from '../../simulations/netns/harness.js';
import { NetnsTopology } from '../../simulations/netns/topology.js';

test.serial('topology: public hosts are reachable, NATed nodes are not, NATed nodes reach out; destroy removes everything', async (t) => {
  const topo = await NetnsTopology.create({ nodes: ['none', 'eim', 'symmetric'], tag: 't' });
  t.teardown(() => topo.destroy());
  await topo.execPublic('ping', ['-c', '1', '-W', '2', topo.node(0).lanIp]);
  for (const i of [1, 2]) {
    await topo.exec(i, 'ping', ['-c', '1', '-W', '2', '10.200.0.1']);
    await t.throwsAsync(topo.execPublic('ping', ['-c', '1', '-W', '1', topo.node(i).lanIp]));
    // Its router's public address does not answer unsolicited either (INPUT drops NEW).
    await t.throwsAsync(topo.exec(0, 'ping', ['-c', '1', '-W', '1', topo.node(i).wanIp]));
  }
  // The EIM router rewrote the source to its WAN address: the public side sees the router.
  const rules = await run('ip', ['netns', 'exec', topo.node(2).routerNs, 'iptables', '-t', 'nat', '-S', 'POSTROUTING']);
  t.regex(rules.stdout, /MASQUERADE --random-fully/);
  await topo.destroy();
  const left = await run('ip', ['netns', 'list']);
  t.false(left.stdout.includes(topo.prefix));
});

test.serial('NAT matrix with node-datachannel peers: every pair connects; direct unless a side is symmetric', async (t) => {
  // Stages per pair: STUN only (the built-in server), then STUN+TURN (coturn, policy all), then iceTransportPolicy 'relay'.
  let h: Harness | undefined;
  t.teardown(async () => h?.destroy());
  h = await createHarness(matrixNodes(), 'm');
  const rows = await runNatMatrix(h);
  t.log('pair                connected path     candidates        stages tried                     connect ms');
  for (const r of rows)
    t.log(`${`${r.natA}-${r.natB}`.padEnd(20)}${String(r.connected).padEnd(10)}${String(r.path).padEnd(9)}${String(r.detail).padEnd(18)}${r.stages.join(',').padEnd(33)}${r.connectMs ?? '-'}`);
  t.is(rows.length, 6);
  for (const r of rows) {
    t.true(r.connected, `${r.natA}-${r.natB}: ${r.error}`);
    if (expectsDirect(r)) {
      t.is(r.path, 'direct', `${r.natA}-${r.natB} should be direct (${r.detail})`);
      t.deepEqual(r.stages, ['stun'], `${r.natA}-${r.natB} went direct with the built-in STUN server alone`);
    }
    // A relayed path here can only be TURN (no overlay yet): a relay candidate on one side at least.
    if (r.path === 'relayed') t.regex(r.detail ?? '', /relay/);
  }
  // Two symmetric NATs cannot punch holes: that pair must have gone through TURN.
  const symSym = rows.find((r) => r.natA === 'symmetric' && r.natB === 'symmetric')!;
  t.is(symSym.path, 'relayed');
});
