// A real multi-node network made of Linux network namespaces, for NAT-matrix tests and benchmarks.
//
//   public ns ("the internet", 10.200.0.1 on bridge br0, forwarding; coturn and the relay run here)
//     |  br0 (10.200.0.0/24)
//     +-- router i (wan 10.200.0.<10+i>) --- lan 10.201.<i>.1/24 --- node i (eth0 10.201.<i>.2, default via .1)
//
// Router kinds (RFC 4787 names):
//   'none'      routes the node's LAN publicly (the public ns has a route to it): a public host.
//   'eim'       MASQUERADE: endpoint-independent mapping, port preserving; unsolicited inbound dropped.
//   'symmetric' MASQUERADE --random-fully: a new port per destination (address/port-dependent
//               mapping); unsolicited inbound dropped.
// A router may add a wide-area delay (`delayMs` or `setDelay`): every packet it forwards, either
// way, is held by the wan-delay helper (iptables NFQUEUE + wan-delay.c; tc netem does not exist here).
// Every namespace name carries a per-topology prefix, so parallel topologies never collide.
// `destroy` kills the processes started through the topology (by PID) and deletes the namespaces.
import { startProc, run, type Proc } from '../harness/proc.js';
import { wanDelayBinary } from './wan-delay.js';

export type NatKind = 'none' | 'eim' | 'symmetric';
export const NAT_KINDS: readonly NatKind[] = ['none', 'eim', 'symmetric'];

export interface TopologyNode {
  index: number;
  nat: NatKind;
  /** The node's namespace. */
  ns: string;
  /** The router's namespace. */
  routerNs: string;
  /** The node's own address (private behind a NAT). */
  lanIp: string;
  /** The router's public address. */
  wanIp: string;
}

export interface TopologyOptions {
  /** One entry per node. */
  nodes: readonly NatKind[];
  /** Short tag in namespace names (letters/digits). */
  tag?: string;
  /** One-way delay in ms (each direction) added by the router of node index -> ms (see `setDelay`). */
  delayMs?: Readonly<Record<number, number>>;
}

export const PUBLIC_IP = '10.200.0.1';

let topologyCounter = 0;

export class NetnsTopology {
  readonly publicNs: string;
  readonly nodes: TopologyNode[] = [];
  private readonly namespaces: string[] = [];
  private readonly procs: Proc[] = [];
  /** Router index -> its wan-delay helper and the NFQUEUE number its rule feeds. */
  private readonly delays = new Map<number, { proc: Proc; queue: number; ms: number }>();
  private nextQueue = 0;
  private destroyed = false;

  private constructor(readonly prefix: string) {
    this.publicNs = `${prefix}pub`;
  }

  /** Builds the namespaces, links, routes and NAT rules. On failure, removes what it made and rethrows. */
  static async create(options: TopologyOptions): Promise<NetnsTopology> {
    const prefix = `nx${process.pid % 100000}${options.tag ?? ''}${topologyCounter++}-`;
    const topo = new NetnsTopology(prefix);
    try {
      await topo.build(options.nodes);
      for (const [i, ms] of Object.entries(options.delayMs ?? {})) await topo.setDelay(Number(i), ms);
    } catch (err) {
      await topo.destroy();
      throw err;
    }
    return topo;
  }

  private async addNs(name: string): Promise<void> {
    await run('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    await this.nsRun(name, 'ip', ['link', 'set', 'lo', 'up']);
  }

  private nsRun(ns: string, cmd: string, args: string[], timeoutMs = 30_000) {
    return run('ip', ['netns', 'exec', ns, cmd, ...args], timeoutMs);
  }

  private async build(kinds: readonly NatKind[]): Promise<void> {
    const pub = this.publicNs;
    await this.addNs(pub);
    await this.nsRun(pub, 'ip', ['link', 'add', 'br0', 'type', 'bridge']);
    await this.nsRun(pub, 'ip', ['addr', 'add', `${PUBLIC_IP}/24`, 'dev', 'br0']);
    await this.nsRun(pub, 'ip', ['link', 'set', 'br0', 'up']);
    await this.nsRun(pub, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    for (let i = 0; i < kinds.length; i++) {
      const nat = kinds[i]!;
      const routerNs = `${this.prefix}r${i}`;
      const ns = `${this.prefix}n${i}`;
      const wanIp = `10.200.0.${10 + i}`;
      const lanIp = `10.201.${i}.2`;
      await this.addNs(routerNs);
      await this.addNs(ns);
      // router wan <-> public bridge port; router lan <-> node eth0 (created straight in their namespaces)
      await run('ip', ['link', 'add', 'wan', 'netns', routerNs, 'type', 'veth', 'peer', 'name', `p${i}`, 'netns', pub]);
      await this.nsRun(pub, 'ip', ['link', 'set', `p${i}`, 'master', 'br0', 'up']);
      await run('ip', ['link', 'add', 'lan', 'netns', routerNs, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      const r = (args: string[]) => this.nsRun(routerNs, 'ip', args);
      await r(['addr', 'add', `${wanIp}/24`, 'dev', 'wan']);
      await r(['link', 'set', 'wan', 'up']);
      await r(['addr', 'add', `10.201.${i}.1/24`, 'dev', 'lan']);
      await r(['link', 'set', 'lan', 'up']);
      await r(['route', 'add', 'default', 'via', PUBLIC_IP]);
      await this.nsRun(routerNs, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      await this.nsRun(ns, 'ip', ['addr', 'add', `${lanIp}/24`, 'dev', 'eth0']);
      await this.nsRun(ns, 'ip', ['link', 'set', 'eth0', 'up']);
      await this.nsRun(ns, 'ip', ['route', 'add', 'default', 'via', `10.201.${i}.1`]);
      if (nat === 'none') {
        // A public host: the "internet" and the other routers reach its LAN through its router.
        await this.nsRun(pub, 'ip', ['route', 'add', `10.201.${i}.0/24`, 'via', wanIp]);
      } else {
        const ipt = (args: string[]) => this.nsRun(routerNs, 'iptables', args);
        await ipt(['-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan', '-j', 'MASQUERADE', ...(nat === 'symmetric' ? ['--random-fully'] : [])]);
        // Unsolicited inbound must be dropped, or hole punching meets stale conntrack state.
        for (const chain of ['INPUT', 'FORWARD']) await ipt(['-A', chain, '-i', 'wan', '-m', 'conntrack', '--ctstate', 'NEW,INVALID', '-j', 'DROP']);
      }
      this.nodes.push({ index: i, nat, ns, routerNs, lanIp, wanIp });
    }
    // Other routers learn the public hosts' LANs too (they reach them via the bridge, not the public ns).
    for (const n of this.nodes) {
      if (n.nat !== 'none') continue;
      for (const other of this.nodes) if (other !== n) await this.nsRun(other.routerNs, 'ip', ['route', 'add', `10.201.${n.index}.0/24`, 'via', n.wanIp]);
    }
  }

  /** Runs a command in node i's namespace to completion. */
  exec(i: number, cmd: string, args: string[], timeoutMs = 30_000) {
    return this.nsRun(this.node(i).ns, cmd, args, timeoutMs);
  }

  /** Runs a command in the public namespace to completion. */
  execPublic(cmd: string, args: string[], timeoutMs = 30_000) {
    return this.nsRun(this.publicNs, cmd, args, timeoutMs);
  }

  /** Starts a long-running process in node i's namespace; killed by `destroy` if still running. */
  spawn(i: number, cmd: string, args: string[], env?: NodeJS.ProcessEnv): Proc {
    return this.spawnIn(this.node(i).ns, cmd, args, env);
  }

  /** Starts a long-running process in the public namespace. */
  spawnPublic(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Proc {
    return this.spawnIn(this.publicNs, cmd, args, env);
  }

  spawnIn(ns: string, cmd: string, args: string[], env?: NodeJS.ProcessEnv): Proc {
    if (this.destroyed) throw new Error('topology destroyed');
    const p = startProc('ip', ['netns', 'exec', ns, cmd, ...args], env ? { env: { ...process.env, ...env } } : {});
    this.procs.push(p);
    return p;
  }

  /**
   * Makes router i hold every packet it forwards (LAN to WAN and back) for `oneWayMs` before passing
   * it on, so a round trip through it takes 2 x oneWayMs longer; 0 removes the delay. A change swaps
   * the iptables rule to a new helper first, then stops the old one, which lets what it held go.
   */
  async setDelay(i: number, oneWayMs: number): Promise<void> {
    if (!(oneWayMs >= 0 && oneWayMs <= 10_000)) throw new RangeError(`delay ${oneWayMs} ms out of 0..10000`);
    const routerNs = this.node(i).routerNs;
    const rule = (op: '-A' | '-D', queue: number) => this.nsRun(routerNs, 'iptables', [op, 'FORWARD', '-j', 'NFQUEUE', '--queue-num', String(queue)]);
    const old = this.delays.get(i);
    this.delays.delete(i);
    if (oneWayMs > 0) {
      const queue = this.nextQueue++;
      const proc = this.spawnIn(routerNs, await wanDelayBinary(), [String(queue), String(oneWayMs)]);
      await proc.waitFor(/^wan-delay: queue \d+/m, 10_000);
      await rule('-A', queue);
      this.delays.set(i, { proc, queue, ms: oneWayMs });
    }
    if (old) {
      await rule('-D', old.queue);
      await old.proc.kill(2000);
    }
  }

  /** The one-way delay router i adds now and its helper's PID; undefined without one. */
  delayOf(i: number): { ms: number; pid: number } | undefined {
    const d = this.delays.get(i);
    return d && { ms: d.ms, pid: d.proc.pid };
  }

  /** Forgets NAT mappings and connection state on every router (between test cases). */
  async flushConntrack(): Promise<void> {
    for (const n of this.nodes) if (n.nat !== 'none') await this.nsRun(n.routerNs, 'conntrack', ['-F']).catch(() => undefined);
  }

  node(i: number): TopologyNode {
    const n = this.nodes[i];
    if (!n) throw new RangeError(`no node ${i}`);
    return n;
  }

  /** Kills every process started through the topology (by PID), then deletes all namespaces. Idempotent. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await Promise.all(this.procs.map((p) => p.kill(2000)));
    for (const ns of this.namespaces.reverse()) await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  }
}
