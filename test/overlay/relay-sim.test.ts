// Relay edges in the simulator: real OverlayNodes on simulated links, with a rule that some pairs
// cannot connect directly (their dials fail like ICE between two symmetric NATs). The pair gets a
// relay edge through a common neighbour, uses it for routed messages and data packets, heals it
// through another neighbour when the middle crashes, and swaps it for a direct link once allowed.
import test from 'ava';
import type { Clock } from '../../lib/clock.js';
import { networkKey } from '../../overlay/handshake/transcript.js';
import { Identity } from '../../overlay/identity.js';
import type { Connector, Link } from '../../overlay/link/link.js';
import type { RingAddress } from '../../overlay/ring/ring.js';
import { OverlayNode } from '../../overlay/node/overlay-node.js';
import type { OverlayOptions } from '../../overlay/node/options.js';
import { seededRandom } from '../../lib/random.js';
import { addressHex } from '../../overlay/ring/ring.js';
import { NodeClock, SimClock } from '../../simulations/sim-clock.js';
import { SimNetwork, type SimHost } from '../../simulations/sim-network.js';

const NETWORK = 'simnet';
const NET_KEY = networkKey(new TextEncoder().encode('relay test secret'), NETWORK);
const APP = 40;

/** Which pairs cannot reach each other directly. */
class NatRule {
  private readonly blocked = new Set<string>();
  private key(a: RingAddress, b: RingAddress): string {
    return a < b ? `${a}/${b}` : `${b}/${a}`;
  }
  block(a: RingAddress, b: RingAddress): void {
    this.blocked.add(this.key(a, b));
  }
  allow(a: RingAddress, b: RingAddress): void {
    this.blocked.delete(this.key(a, b));
  }
  isBlocked(a: RingAddress, b: RingAddress): boolean {
    return this.blocked.has(this.key(a, b));
  }
}

/** The simulated connector, except that dials between blocked pairs fail after `failAfterMs`. */
class NatConnector implements Connector {
  constructor(
    private readonly inner: Connector,
    private readonly self: RingAddress,
    private readonly rule: NatRule,
    private readonly clock: Clock,
    private readonly failAfterMs = 8_000,
  ) {}
  dial(remote: RingAddress, signal: (payload: Uint8Array) => void): Promise<Link> {
    if (!this.rule.isBlocked(this.self, remote)) return this.inner.dial(remote, signal);
    return new Promise((_, reject) => this.clock.setTimeout(() => reject(new Error('ICE failed (test rule: no direct path)')), this.failAfterMs));
  }
  onSignal(from: RingAddress, payload: Uint8Array, reply: (payload: Uint8Array) => void): void {
    if (!this.rule.isBlocked(this.self, from)) this.inner.onSignal(from, payload, reply);
  }
  onIncoming(cb: (link: Link) => void): void {
    this.inner.onIncoming(cb);
  }
  close(): void {
    this.inner.close();
  }
}

interface TNode {
  node: OverlayNode;
  host: SimHost;
  clock: NodeClock;
  got: string[];
  data: Array<{ from: RingAddress; text: string }>;
}

class World {
  readonly clock = new SimClock();
  readonly random: ReturnType<typeof seededRandom>;
  readonly net: SimNetwork;
  readonly rule = new NatRule();
  readonly nodes: TNode[] = [];
  constructor(seed: number, private readonly options: Partial<OverlayOptions> = {}) {
    this.random = seededRandom(seed);
    this.net = new SimNetwork(this.clock, seededRandom(seed ^ 0x5eed), { latencyMs: [[5]], jitterMs: 1 });
  }

  add(bootstrap?: TNode, identitySeed?: number): TNode {
    const identity = Identity.fromSeed(seededRandom(identitySeed ?? this.random.int(2 ** 31)).bytes(32));
    const host = this.net.addHost(identity.address, identity.publicKey, 0);
    const clock = new NodeClock(this.clock);
    const connector = new NatConnector(host.connector, identity.address, this.rule, clock);
    const node = new OverlayNode({ identity, clock, random: seededRandom(this.random.int(2 ** 31)), connector, relay: { network: NETWORK, networkKey: NET_KEY } }, this.options);
    const t: TNode = { node, host, clock, got: [], data: [] };
    node.onMessage(APP, (m) => t.got.push(`${addressHex(m.from).slice(0, 8)}:${new TextDecoder().decode(m.payload)}:${m.hops}`));
    node.onData((from, packet) => t.data.push({ from, text: new TextDecoder().decode(packet) }));
    node.start();
    if (bootstrap) {
      const [ours, theirs] = this.net.linkPair(host, bootstrap.host);
      bootstrap.node.addLink(theirs);
      node.addLink(ours);
    }
    this.nodes.push(t);
    return t;
  }

  async run(ms: number): Promise<void> {
    await this.clock.runUntil(this.clock.now() + ms);
  }

  /** Runs in steps until `cond` holds, at most `maxMs` of virtual time; returns whether it held. */
  async until(cond: () => boolean, maxMs: number, stepMs = 500): Promise<boolean> {
    for (let t = 0; t <= maxMs; t += stepMs) {
      if (cond()) return true;
      await this.run(stepMs);
    }
    return cond();
  }

  crash(t: TNode): void {
    t.clock.halt();
    this.net.crash(t.node.address);
    this.nodes.splice(this.nodes.indexOf(t), 1);
  }

  stop(): void {
    for (const t of this.nodes) void t.node.stop();
  }
}

function linkTo(a: TNode, b: TNode) {
  return a.node.status().links.find((l) => l.remote === addressHex(b.node.address));
}

const enc = (s: string) => new TextEncoder().encode(s);

test('a pair that cannot connect directly gets a relay edge through their common neighbour, for messages and data', async (t) => {
  const w = new World(101);
  t.teardown(() => w.stop());
  const m = w.add();
  await w.run(500);
  const a = w.add(m);
  const b = w.add(m);
  w.rule.block(a.node.address, b.node.address);
  t.true(await w.until(() => linkTo(a, b)?.path === 'relayed' && linkTo(b, a)?.path === 'relayed', 60_000), 'relay edge formed');
  const la = linkTo(a, b)!;
  t.regex(la.detail, new RegExp(`relayed via ${addressHex(m.node.address).slice(0, 12)}`));
  // The relay started alongside the direct dial once that was pending for relayHeadStartMs (4 s),
  // not only after ICE gave up (the rule fails dials after 8 s).
  t.regex(la.detail, /direct dial still pending after 4000 ms/);
  t.true(await w.until(() => a.node.counter('dial_failures') + b.node.counter('dial_failures') >= 1, 20_000), 'the direct dial failed later');
  t.is(linkTo(a, b)?.path, 'relayed');
  t.true(a.node.counter('relay_links_up') + b.node.counter('relay_links_up') >= 2);
  // A routed message takes the relay edge: one overlay hop.
  t.true(a.node.send(b.node.address, APP, enc('over the tunnel')));
  // And the data channel (what the IP forwarder uses) works through it too.
  const direct = a.node.directLink(b.node.address);
  t.truthy(direct);
  t.is(direct!.info().transport, 'relay');
  t.true(direct!.sendData(enc('packet 1')));
  await w.run(1_000);
  t.deepEqual(b.got, [`${addressHex(a.node.address).slice(0, 8)}:over the tunnel:1`]);
  t.deepEqual(b.data, [{ from: a.node.address, text: 'packet 1' }]);
  t.true(m.node.counter('relay_middle_data_forwarded') >= 1);
  t.true(m.node.counter('relay_middle_control_forwarded') >= 1);
  // The middle never delivered the tunnelled payloads to itself.
  t.deepEqual(m.got, []);
  t.deepEqual(m.data, []);
  // Keepalives flow through the tunnel: it survives a quiet minute and more.
  await w.run(120_000);
  t.is(linkTo(a, b)?.path, 'relayed');
});

test('killing the relaying node heals the edge through another common neighbour', async (t) => {
  const w = new World(202);
  t.teardown(() => w.stop());
  const m1 = w.add();
  await w.run(500);
  const m2 = w.add(m1);
  await w.run(2_000);
  const a = w.add(m1);
  const b = w.add(m2);
  w.rule.block(a.node.address, b.node.address);
  t.true(await w.until(() => linkTo(a, b)?.path === 'relayed' && linkTo(a, m1) !== undefined && linkTo(a, m2) !== undefined && linkTo(b, m1) !== undefined && linkTo(b, m2) !== undefined, 60_000));
  const first = linkTo(a, b)!.detail;
  const middle = first.includes(addressHex(m1.node.address).slice(0, 12)) ? m1 : m2;
  const other = middle === m1 ? m2 : m1;
  w.crash(middle);
  const crashedAt = w.clock.now();
  // Traffic keeps flowing meanwhile (the forwarder would route it); the relay is rebuilt via the other node.
  const healed = await w.until(() => linkTo(a, b)?.detail.includes(`relayed via ${addressHex(other.node.address).slice(0, 12)}`) === true, 60_000);
  t.true(healed, `healed (${linkTo(a, b)?.detail})`);
  t.log(`healed ${((w.clock.now() - crashedAt) / 1000).toFixed(1)} s of virtual time after the crash`);
  t.true(a.node.counter('relay_heals') + b.node.counter('relay_heals') >= 1);
  t.true(a.node.send(b.node.address, APP, enc('after healing')));
  await w.run(1_000);
  t.true(b.got.some((g) => g.endsWith(':after healing:1')));
});

test('a relay edge is replaced by a direct link once a direct dial succeeds', async (t) => {
  const w = new World(303, { relayDirectRetryMs: 20_000 });
  t.teardown(() => w.stop());
  const m = w.add();
  await w.run(500);
  const a = w.add(m);
  const b = w.add(m);
  w.rule.block(a.node.address, b.node.address);
  t.true(await w.until(() => linkTo(a, b)?.path === 'relayed', 60_000));
  w.rule.allow(a.node.address, b.node.address);
  t.true(await w.until(() => linkTo(a, b)?.path === 'direct' && linkTo(b, a)?.path === 'direct', 90_000), 'direct link took over');
  t.is(a.node.directLink(b.node.address)!.info().transport, 'sim');
  t.true(a.node.counter('relay_replaced_by_direct') + b.node.counter('relay_replaced_by_direct') >= 1);
  await w.run(15_000);
  // The old tunnel is gone at the middle too.
  t.true(a.node.send(b.node.address, APP, enc('direct now')));
  await w.run(500);
  t.true(b.got.some((g) => g.endsWith(':direct now:1')));
});
