// The topology's wide-area delay (NetnsTopology.setDelay: iptables NFQUEUE + wan-delay.c in the
// router's namespace), measured with ping across a NAT router between a node behind it and a public
// host: the round trip grows by twice the one-way delay, goes back when the delay is removed, TCP
// still flows through it, and the helper dies with the topology.
import test from 'ava';
import { NetnsTopology } from '../../simulations/netns/topology.js';
import { pidAlive } from '../../simulations/harness/proc.js';

const BEHIND_NAT = 0;
const PUBLIC = 1;

interface Rtt { min: number; avg: number; max: number }

/** 20 pings 100 ms apart from the node behind the NAT to the public host. */
async function ping(topo: NetnsTopology): Promise<Rtt> {
  const { stdout } = await topo.exec(BEHIND_NAT, 'ping', ['-n', '-q', '-c', '20', '-i', '0.1', '-W', '2', topo.node(PUBLIC).lanIp], 30_000);
  const m = /rtt min\/avg\/max\/mdev = ([\d.]+)\/([\d.]+)\/([\d.]+)\//.exec(stdout);
  if (!m) throw new Error(`no RTT in ping output:\n${stdout}`);
  if (!/ 20 received/.test(stdout)) throw new Error(`ping lost packets:\n${stdout}`);
  return { min: Number(m[1]), avg: Number(m[2]), max: Number(m[3]) };
}


test('a NAT router with a one-way delay adds twice that to the round trip, both ways, and can be changed or removed', async (t) => {
  t.timeout(120_000);
  const topo = await NetnsTopology.create({ nodes: ['eim', 'none'], tag: 'wd', delayMs: { [BEHIND_NAT]: 10 } });
  try {
    t.is(topo.delayOf(BEHIND_NAT)?.ms, 10);
    const d10 = await ping(topo);
    t.log(`one-way 10 ms: ping RTT min/avg/max ${d10.min}/${d10.avg}/${d10.max} ms`);
    t.true(d10.min >= 20, `RTT ${d10.min} ms >= 2 x 10 ms`);
    t.true(d10.avg < 20 + 8, `RTT ${d10.avg} ms close to 20 ms`);

    // The paper's 23 ms round trip (Table 1): 11.5 ms each way.
    await topo.setDelay(BEHIND_NAT, 11.5);
    const d23 = await ping(topo);
    t.log(`one-way 11.5 ms: ping RTT min/avg/max ${d23.min}/${d23.avg}/${d23.max} ms`);
    t.true(d23.min >= 23 && d23.avg < 23 + 8, JSON.stringify(d23));

    // TCP through the delayed router (iperf3 server on the public host, 2 s).
    const server = topo.spawn(PUBLIC, 'iperf3', ['-s', '-1', '--forceflush', '-B', topo.node(PUBLIC).lanIp]);
    await server.waitFor(/Server listening/, 10_000);
    const { stdout } = await topo.exec(BEHIND_NAT, 'iperf3', ['-c', topo.node(PUBLIC).lanIp, '-t', '2', '-J'], 30_000);
    const mbps = JSON.parse(stdout).end.sum_received.bits_per_second / 1e6;
    t.log(`iperf3 TCP through the 23 ms RTT router: ${mbps.toFixed(0)} Mbit/s`);
    t.true(mbps > 10, `${mbps} Mbit/s`);
    await server.kill(2000);

    const helper = topo.delayOf(BEHIND_NAT)!.pid;
    await topo.setDelay(BEHIND_NAT, 0);
    t.false(pidAlive(helper), 'the replaced helper was stopped');
    t.is(topo.delayOf(BEHIND_NAT), undefined);
    const d0 = await ping(topo);
    t.log(`no delay: ping RTT min/avg/max ${d0.min}/${d0.avg}/${d0.max} ms`);
    t.true(d0.avg < 5, JSON.stringify(d0));

    await topo.setDelay(BEHIND_NAT, 5);
    const last = topo.delayOf(BEHIND_NAT)!.pid;
    t.true((await ping(topo)).min >= 10);
    await topo.destroy();
    t.false(pidAlive(last), 'destroy killed the helper by PID');
    await t.throwsAsync(() => topo.setDelay(BEHIND_NAT, -1), { instanceOf: RangeError });
  } finally {
    await topo.destroy();
  }
});
