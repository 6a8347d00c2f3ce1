// Real overlay nodes (OverlayDaemon + virtual network, one process per namespace) behind iptables
// NAT routers, with zero configuration (no --ice: the bootstrap node's built-in STUN server is all
// there is): the full NAT matrix pings over virtual IPs, every pair that can go direct does (as with
// coturn's STUN before), the others through relay edges; killing the relaying node (by PID) heals the
// path. Namespaces and processes are the test's own and removed in teardown.
import test from 'ava';
import { createHarness, expectsDirect, matrixNodes, type Harness } from '../../simulations/netns/harness.js';
import { OverlayMatrix, pathVia } from '../../simulations/netns/overlay-matrix.js';
import type { Proc } from '../../simulations/harness/proc.js';

async function pingUntil(h: Harness, i: number, vip: string, maxTries: number): Promise<boolean> {
  for (let k = 0; k < maxTries; k++) {
    if (await h.topo.exec(i, 'ping', ['-c', '1', '-W', '0.5', vip]).then(() => true, () => false)) return true;
  }
  return false;
}

test.serial('zero-configuration NAT matrix of real overlay nodes: every pair pings over vIPs; direct unless a side is symmetric, a relay edge otherwise', async (t) => {
  let h: Harness | undefined;
  let om: OverlayMatrix | undefined;
  t.teardown(async () => {
    await om?.stop();
    await h?.destroy();
  });
  h = await createHarness(matrixNodes(), 'r');
  om = new OverlayMatrix(h);
  const rows = await om.run();
  t.log('pair                connected path      via            first ping  detail');
  for (const r of rows) t.log(`${`${r.natA}-${r.natB}`.padEnd(20)}${String(r.connected).padEnd(10)}${String(r.path).padEnd(10)}${String(r.via).padEnd(15)}${(r.onlineS?.toFixed(1) ?? '-').padEnd(12)}${r.detail ?? r.error}`);
  t.is(rows.length, 6);
  for (const r of rows) {
    const name = `${r.natA}-${r.natB}`;
    t.true(r.connected, `${name}: ${r.error}`);
    if (expectsDirect(r)) t.is(r.path, 'direct', `${name} should be direct (${r.detail})`);
    else t.true(r.path === 'direct' || r.path === 'relayed', `${name} has a link, direct or relayed (${r.path}: ${r.detail})`);
    // No TURN server exists: a relayed pair goes through a relay edge.
    if (r.natA === 'symmetric' && r.natB === 'symmetric') t.is(r.via, 'overlay-relay', `${name}: ${r.detail}`);
    // Both behind EIM NATs: direct only with a server-reflexive candidate, i.e. through the built-in STUN.
    if (r.natA === 'eim' && r.natB === 'eim') t.regex(r.detail ?? '', /srflx/, `${name}: ${r.detail}`);
  }
});

test.serial('without a TURN server, a symmetric pair connects through a relay edge via an overlay neighbour', async (t) => {
  let h: Harness | undefined;
  let om: OverlayMatrix | undefined;
  t.teardown(async () => {
    await om?.stop();
    await h?.destroy();
  });
  h = await createHarness(['symmetric', 'symmetric'], 's');
  om = new OverlayMatrix(h);
  const r = await om.pair(0, 1);
  t.log(JSON.stringify(r));
  t.true(r.connected, r.error);
  t.is(r.path, 'relayed', r.detail);
  t.is(r.via, 'overlay-relay', r.detail);
  t.regex(r.detail ?? '', /^relayed via [0-9a-f]{12}: /);
  // The virtual network's packets take the relay edge's data channel (not a route over the overlay).
  t.regex(r.dataPath ?? '', /^relayed: relay link, relayed: relayed via /);
});

test.serial('killing the relaying node heals the path: ping over vIPs recovers through another common neighbour', async (t) => {
  let h: Harness | undefined;
  let om: OverlayMatrix | undefined;
  const procs: Proc[] = [];
  t.teardown(async () => {
    await Promise.all(procs.map((p) => p.kill(5000)));
    await om?.stop();
    await h?.destroy();
  });
  // Node 0 is a public host (a second possible relay besides the bootstrap); 1 and 2 are behind symmetric NATs.
  h = await createHarness(['none', 'symmetric', 'symmetric'], 'k');
  om = new OverlayMatrix(h);
  await om.start();
  await h.topo.flushConntrack();
  const start = (i: number) => {
    const n = om!.node(i);
    procs.push(n.proc);
    return n;
  };
  const m2 = start(0);
  await m2.proc.waitFor(/VNET up/, 60_000);
  const a = start(1);
  const b = start(2);
  const vipB = (await b.proc.waitFor(/VNET up (\S+)/, 60_000))[1]!;
  await a.proc.waitFor(/VNET up/, 60_000);
  const ring = async (p: Proc) => (await p.waitFor(/overlay: node ([0-9a-f]{40})/, 5_000))[1]!;
  const [ringB, ringM2, ringBoot] = [await ring(b.proc), await ring(m2.proc), await ring(om.bootstrapProc!)];
  t.true(await pingUntil(h, 1, vipB, 60), 'first ping');
  const first = await om.linkTo(1, a.state, ringB, 60_000);
  t.truthy(first, 'a link to the peer');
  t.is(pathVia(first!.path, first!.detail), 'overlay-relay', first!.detail);
  const viaBoot = first!.detail.startsWith(`relayed via ${ringBoot.slice(0, 12)}`);
  const viaM2 = first!.detail.startsWith(`relayed via ${ringM2.slice(0, 12)}`);
  t.true(viaBoot || viaM2, first!.detail);
  const [victim, survivor] = viaBoot ? [om.bootstrapProc!, ringM2] : [m2.proc, ringBoot];
  // SIGKILL: no goodbye, the others find out by keepalive.
  process.kill(victim.pid, 'SIGKILL');
  const killedAt = performance.now();
  t.true(await pingUntil(h, 1, vipB, 120), 'ping recovers after the relaying node died');
  t.log(`ping answered again ${((performance.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
  const healed = await waitFor(async () => {
    const l = await om!.linkTo(1, a.state, ringB, 0);
    return l?.detail.startsWith(`relayed via ${survivor.slice(0, 12)}`) ? l : undefined;
  }, 60_000);
  t.truthy(healed, 'the relay edge was rebuilt through the surviving neighbour');
  t.log(`healed: ${healed?.detail} (${((performance.now() - killedAt) / 1000).toFixed(1)} s after the kill)`);
  const r = await h.topo.exec(1, 'ping', ['-c', '5', '-i', '0.2', '-W', '2', vipB]);
  t.regex(r.stdout, /5 received/);
});

async function waitFor<T>(probe: () => Promise<T | undefined>, maxMs: number): Promise<T | undefined> {
  const until = performance.now() + maxMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined || performance.now() > until) return v;
    await new Promise((r) => setTimeout(r, 1000));
  }
}
