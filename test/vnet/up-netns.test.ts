// `overlay up` with its virtual network, for real: two nodes in their own namespaces (joined by a
// veth) each lease a distinct virtual IP, bring up their TUN inside their namespace and ping each
// other over it with the real `ping`; `overlay down` removes the TUN and releases the lease, so a
// new node asking for that address gets it.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Netns, vethPair } from '../../simulations/harness/netns.js';
import { run, startProc, type Proc } from '../../simulations/harness/proc.js';
import { cli } from '../real/cli-process.js';
import { until } from '../../simulations/harness/boot-link.js';

const BIN = fileURLToPath(new URL('../../../bin/overlay.js', import.meta.url));
const SUBNET = '10.131.0.0/24';
const NETWORK = 'vnettest';
const UP_TIMEOUT_MS = 25_000;

test('overlay up: distinct virtual IPs, ping over the TUNs, down removes the TUN and frees the address', async (t) => {
  t.timeout(90_000);
  const root = mkdtempSync(join(tmpdir(), 'up-vnet-'));
  const procs: Proc[] = [];
  const a = await Netns.create('vna');
  const b = await Netns.create('vnb');
  t.teardown(async () => {
    for (const p of procs) await p.kill(2_000);
    await a.destroy();
    await b.destroy();
    rmSync(root, { recursive: true, force: true });
  });
  await vethPair({ ns: a, ifname: `va${process.pid % 100000}`, cidr: '10.77.0.1/24' }, { ns: b, ifname: `vb${process.pid % 100000}`, cidr: '10.77.0.2/24' });
  const secret = join(root, 'secret');
  writeFileSync(secret, 'vnet-test-secret-0123456789\n');

  const up = (ns: Netns, name: string, bindIp: string, extra: string[]) => {
    const [cmd, args] = ns.wrap(process.execPath, [BIN, 'up', '--network', NETWORK, '--state', join(root, name), '--secret', secret, '--bind-address', bindIp, '--subnet', SUBNET, '--dial-timeout', '10', ...extra]);
    const p = startProc(cmd, args);
    procs.push(p);
    return p;
  };
  const vipOf = async (p: Proc) => (await p.waitFor(/virtual IP (\d+\.\d+\.\d+\.\d+) on TUN ovl0/, UP_TIMEOUT_MS))[1]!;

  const founder = up(a, 'a', '10.77.0.1', ['--listen', '0', '--listen-host', '10.77.0.1', '--name', 'alpha']);
  const port = (await founder.waitFor(/bootstrap endpoint listening on 10\.77\.0\.1:(\d+)/, UP_TIMEOUT_MS))[1]!;
  const vipA = await vipOf(founder);
  const member = up(b, 'b', '10.77.0.2', ['--bootstrap', `ws://10.77.0.1:${port}`, '--name', 'beta']);
  const vipB = await vipOf(member);
  t.not(vipA, vipB, 'distinct virtual IPs');
  for (const vip of [vipA, vipB]) t.true(vip.startsWith('10.131.0.'), `${vip} in ${SUBNET}`);

  // The TUN lives in the node's namespace, with its address.
  t.regex((await b.exec('ip', ['-4', 'addr', 'show', 'dev', 'ovl0'])).stdout, new RegExp(`inet ${vipB.replace(/\./g, '\\.')}/24`));

  // Real ping both ways over the virtual network. The first packets wait on DHT look-ups of the
  // peer's lease (bounded tries); after that every packet must get through.
  const pingOnce = (ns: Netns, vip: string) => ns.exec('ping', ['-c', '1', '-W', '2', vip], 5_000).then(() => true, () => false);
  let warm = false;
  for (let i = 0; i < 10 && !warm; i++) warm = await pingOnce(b, vipA);
  t.true(warm, `first ping ${vipA} from the member`);
  const ping = await b.exec('ping', ['-c', '3', '-i', '0.3', '-W', '3', vipA], 20_000);
  t.regex(ping.stdout, /3 packets transmitted, 3 received/);
  const back = await a.exec('ping', ['-c', '2', '-i', '0.3', '-W', '3', vipB], 20_000);
  t.regex(back.stdout, /2 packets transmitted, 2 received/);

  // status shows the virtual network, and each peer by its virtual IP as well as its ring address.
  const addressA = JSON.parse((await run(process.execPath, [BIN, 'status', '--state', join(root, 'a'), '--json'])).stdout).address as string;
  type Status = { names: Record<string, string>; services: { vnet: { vip: string; ifname: string; counters: Record<string, number>; peers: Array<{ address: string; vip?: string; path: string }> } } };
  const statusB = async () => JSON.parse((await run(process.execPath, [BIN, 'status', '--state', join(root, 'b'), '--json'])).stdout) as Status;
  // A peer's short name is looked up in the DHT once it is seen; the pings above can now win that race
  // (the address is usable during its lease probation), so wait for it, bounded, then check everything.
  await until('the founder\'s short name in the member\'s status', 15_000, async () => ((await statusB()).names[addressA] ? true : undefined)).catch(() => undefined);
  const s = await statusB();
  t.is(s.services.vnet.vip, vipB);
  t.is(s.services.vnet.ifname, 'ovl0');
  t.true((s.services.vnet.counters.rxPackets ?? 0) >= 3, JSON.stringify(s.services.vnet.counters));
  t.deepEqual(s.services.vnet.peers.map((p) => [p.address, p.vip, p.path]), [[addressA, vipA, 'direct']]);
  t.deepEqual(s.names, { [addressA]: 'alpha' }, 'the founder by its short name (overlay up --name)');
  const text = (await run(process.execPath, [BIN, 'status', '--state', join(root, 'b')])).stdout;
  const vipARe = vipA.replace(/\./g, '\\.');
  t.regex(text, new RegExp(`vnet +${vipB.replace(/\./g, '\\.')} on TUN ovl0`));
  t.regex(text, /^name +beta$/m, text);
  t.regex(text, new RegExp(`${vipARe} +alpha ${addressA} +direct +\\d+ sends +webrtc link, direct`), text);
  t.regex(text, new RegExp(`${addressA} ${vipARe} +alpha +\\w+ +direct`), text);

  // overlay ping takes a virtual IP as well as a ring address: the node looks up its holder.
  const byVip = await run(process.execPath, [BIN, 'ping', vipA, '--count', '2', '--state', join(root, 'b')], 30_000);
  t.regex(byVip.stdout, new RegExp(`^${vipARe} is node ${addressA}\nseq 1: [\\d.]+ ms, reply took \\d+ hops\nseq 2: `), byVip.stdout);
  const unused = ['10.131.0.254', '10.131.0.253'].find((v) => v !== vipA && v !== vipB)!;
  const nobody = await cli(['ping', unused, '--count', '1', '--state', join(root, 'b')]);
  t.is(nobody.code, 1, nobody.stdout + nobody.stderr);
  t.is(nobody.stderr, `overlay ping: no node holds virtual IP ${unused}\n`);

  // down: TUN gone from the namespace, process exits.
  await run(process.execPath, [BIN, 'down', '--state', join(root, 'b')], 30_000);
  t.is(await member.exited, 0, member.output());
  await t.throwsAsync(b.exec('ip', ['link', 'show', 'dev', 'ovl0']), undefined, 'TUN removed');

  // The released address goes to a new node (fresh identity) that asks for it.
  const newcomer = up(b, 'c', '10.77.0.2', ['--bootstrap', `ws://10.77.0.1:${port}`, '--vip', vipB]);
  t.is(await vipOf(newcomer), vipB, newcomer.output());
  // The founder still holds the old owner in its vIP cache (up to 30 s, VipDirectory cacheTtlMs) and
  // its exact-routed packets to the departed node are dropped silently; the newcomer's first packets
  // arrive from an owner the cache disagrees with, which makes the founder re-check the DHT.
  let reached = false;
  for (let i = 0; i < 15 && !reached; i++) {
    reached = (await pingOnce(b, vipA)) && (await pingOnce(a, vipB));
  }
  t.true(reached, `ping ${vipB} at the newcomer`);
});
