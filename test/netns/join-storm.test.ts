// Twenty real overlay nodes join one network at the same moment and claim virtual IPs through the DHT
// in a subnet with room for only 30 hosts, so claims collide: every node must end up with its own
// address, and each address must answer ping from the founder. "End up": a storm can slip a double
// past the lease's 1 s probation (seen once in CI under load); the lease's read-backs after use
// (5 s, 20 s) then make one side give its address up and claim another, so the addresses are read
// from each node's status once those have run.
// Flat LAN: one hub namespace with a bridge, one namespace per node (its TUN lives there).
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { harnessScript } from '../../simulations/netns/harness.js';
import { Netns, vethPair } from '../../simulations/harness/netns.js';
import { startProc, type Proc } from '../../simulations/harness/proc.js';
import { fileURLToPath } from 'node:url';

const cliScript = fileURLToPath(new URL('../../../bin/overlay.js', import.meta.url));

const JOINERS = 20;
const SUBNET = '10.77.0.0/27'; // 30 host addresses for 21 nodes
const lanIp = (i: number) => `10.210.0.${10 + i}`;

test.serial(`${JOINERS} nodes joining at once in a /27 all get distinct virtual IPs that answer`, async (t) => {
  const namespaces: Netns[] = [];
  const procs: Proc[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'join-storm-'));
  t.teardown(async () => {
    await Promise.all(procs.map((p) => p.kill(5_000)));
    for (const ns of namespaces) await ns.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  writeFileSync(join(dir, 'secret'), randomBytes(32));

  const hub = await Netns.create('storm-hub');
  namespaces.push(hub);
  await hub.exec('ip', ['link', 'add', 'br0', 'type', 'bridge']);
  await hub.exec('ip', ['link', 'set', 'br0', 'up']);
  const nodes: Netns[] = [];
  for (let i = 0; i <= JOINERS; i++) {
    const ns = await Netns.create(`storm${i}`);
    namespaces.push(ns);
    nodes.push(ns);
    const hubSide = `js${process.pid % 10000}h${i}`;
    await vethPair({ ns: hub, ifname: hubSide }, { ns, ifname: `lan${i}`, cidr: `${lanIp(i)}/24` });
    await hub.exec('ip', ['link', 'set', hubSide, 'master', 'br0']);
  }

  const start = (i: number, extra: string[]) => {
    const [cmd, args] = nodes[i]!.wrap(process.execPath, [harnessScript('overlay-vnet-node'), join(dir, `s${i}`), 'storm', join(dir, 'secret'), SUBNET, '1400', lanIp(i), ...extra]);
    const p = startProc(cmd, args);
    procs.push(p);
    return p;
  };
  const vipOf = async (p: Proc) => (await p.waitFor(/VNET up (\S+)/, 120_000))[1]!;

  const founder = start(0, ['--listen', '7000']);
  const founderVip = await vipOf(founder);
  const joiners = Array.from({ length: JOINERS }, (_, k) => start(k + 1, ['--bootstrap', `ws://${lanIp(0)}:7000`]));
  const firstVips = [founderVip, ...(await Promise.all(joiners.map(vipOf)))];
  const upAt = Date.now();

  // Past the read-backs after use (20 s), every node reports the address it holds now.
  const current = async (i: number): Promise<string | undefined> => {
    const r = await nodes[i]!.exec(process.execPath, [cliScript, 'status', '--json', '--state', join(dir, `s${i}`)]).catch(() => undefined);
    try {
      const vnet = r && (JSON.parse(r.stdout) as { services?: { vnet?: { state?: string; vip?: string } } }).services?.vnet;
      return vnet && vnet.state === 'up' ? vnet.vip : undefined;
    } catch {
      return undefined; // not answering yet: asked again below
    }
  };
  await new Promise((r) => setTimeout(r, Math.max(0, upAt + 25_000 - Date.now())));
  let vips: Array<string | undefined> = [];
  for (let round = 0; round < 12; round++) {
    vips = await Promise.all(nodes.map((_, i) => current(i)));
    if (vips.every((v) => v !== undefined)) break;
    await new Promise((r) => setTimeout(r, 5_000)); // a node that gave its address up is re-claiming
  }
  const moved = vips.filter((v, i) => v !== firstVips[i]).length;
  t.log(`first claims: ${new Set(firstVips).size} distinct of ${JOINERS + 1}; ${moved} node(s) moved to another address after the read-backs`);
  t.is(new Set(vips).size, JOINERS + 1, `addresses: ${vips.join(' ')} (first: ${firstVips.join(' ')})`);
  for (const v of vips) t.true(/^10\.77\.0\.([1-9]|[12]\d|30)$/.test(v ?? ''), `${v} is a host address of ${SUBNET}`);

  // Each address is held by a live node that answers (a duplicate would leave one of them dark).
  const unanswered: string[] = [];
  for (const v of vips.slice(1) as string[]) {
    let ok = false;
    for (let attempt = 0; attempt < 10 && !ok; attempt++) ok = await nodes[0]!.exec('ping', ['-c', '1', '-W', '1', v]).then(() => true, () => false);
    if (!ok) unanswered.push(v);
  }
  t.deepEqual(unanswered, []);
});
