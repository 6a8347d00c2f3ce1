// RelayService on its own: three services wired by hand (A - M - B, where A and B are not linked).
// The tunnel handshake proves both keys and membership; a middle node cannot pass itself off as
// either end; a stranger without the network secret gets nothing; the middle bounds its load.
import test from 'ava';
import { networkKey } from '../../overlay/handshake/transcript.js';
import { Identity } from '../../overlay/identity.js';
import type { RingAddress } from '../../overlay/ring/ring.js';
import { seededRandom } from '../../lib/random.js';
import { encodeRelay, RELAY_OP_CONTROL, RELAY_OP_INVITE, decodeRelay, RELAY_OP_CLOSE, RelayCloseReason } from '../../overlay/relay/relay-header.js';
import { RelayLink } from '../../overlay/relay/relay-link.js';
import { RelayService, type RelayOptions } from '../../overlay/relay/relay-service.js';
import { LinkHandshake } from '../../overlay/handshake/handshake.js';
import { TunnelCipher, TunnelKeyPair } from '../../overlay/relay/tunnel-crypto.js';
import { RELAY_OP_DATA } from '../../overlay/relay/relay-header.js';
import { ManualClock } from '../vnet/manual-clock.js';

const NET = 'n1';
const KEY = networkKey(new TextEncoder().encode('secret'), NET);

interface Peer {
  id: Identity;
  svc: RelayService;
  incoming: RelayLink[];
  counters: Record<string, number>;
  /** Raw relay bytes this peer received (for the tests that play a node by hand). */
  raw: Array<{ from: RingAddress; bytes: Uint8Array; data: boolean }>;
}

class Wires {
  readonly clock = new ManualClock();
  readonly peers = new Map<RingAddress, Peer>();
  /** Undirected links between peers. */
  readonly links = new Set<string>();
  private queue: Array<() => void> = [];

  add(seed: number, o: { key?: Uint8Array; options?: Partial<RelayOptions> } = {}): Peer {
    const id = Identity.fromSeed(seededRandom(seed).bytes(32));
    const counters: Record<string, number> = {};
    const p: Peer = { id, incoming: [], counters, raw: [], svc: undefined as unknown as RelayService };
    const send = (data: boolean) => (peer: RingAddress, bytes: Uint8Array) => {
      if (!this.linked(id.address, peer)) return false;
      const copy = new Uint8Array(bytes);
      this.queue.push(() => {
        const q = this.peers.get(peer)!;
        q.raw.push({ from: id.address, bytes: copy, data });
        if (data) q.svc.onData(id.address, copy);
        else q.svc.onControl(id.address, copy);
      });
      return true;
    };
    p.svc = new RelayService(
      {
        self: id.address,
        signer: id,
        network: NET,
        networkKey: o.key ?? KEY,
        clock: this.clock,
        random: seededRandom(seed + 1000),
        directNeighbours: () => [...this.peers.keys()].filter((a) => this.linked(id.address, a)).map((address) => ({ address, rttMs: 10 })),
        canCarry: (peer) => this.linked(id.address, peer),
        sendControl: send(false),
        sendData: send(true),
        // Routed messages: delivered straight to the destination (routing is not under test here).
        sendRouted: (dest, payload) => {
          this.queue.push(() => this.peers.get(dest)?.svc.onRouted(id.address, payload, undefined));
          return this.peers.has(dest);
        },
        incoming: (link) => p.incoming.push(link),
        count: (name) => (counters[name] = (counters[name] ?? 0) + 1),
        log: () => undefined,
      },
      o.options,
    );
    this.peers.set(id.address, p);
    return p;
  }

  link(a: Peer, b: Peer): void {
    this.links.add(key(a.id.address, b.id.address));
  }
  unlink(a: Peer, b: Peer): void {
    this.links.delete(key(a.id.address, b.id.address));
  }
  linked(a: RingAddress, b: RingAddress): boolean {
    return this.links.has(key(a, b));
  }

  /** Delivers queued frames until quiet (bounded), with a turn of the promise queue between. */
  async settle(): Promise<void> {
    for (let i = 0; i < 10_000; i++) {
      await Promise.resolve();
      const next = this.queue.shift();
      if (!next) {
        await new Promise((r) => setImmediate(r));
        if (this.queue.length === 0) return;
        continue;
      }
      next();
    }
    throw new Error('wires did not settle');
  }
}

function key(a: RingAddress, b: RingAddress): string {
  return a < b ? `${a}/${b}` : `${b}/${a}`;
}

function collect(link: RelayLink) {
  const got = { control: [] as string[], data: [] as string[], closed: [] as string[] };
  const dec = new TextDecoder();
  link.setHandlers({ control: (f) => got.control.push(dec.decode(f)), data: (p) => got.data.push(dec.decode(p)), close: (r) => got.closed.push(r) });
  return got;
}

const enc = (s: string) => new TextEncoder().encode(s);

test('a tunnel through a common neighbour: both keys proved, frames both ways, close reaches the other end', async (t) => {
  const w = new Wires();
  const a = w.add(1);
  const m = w.add(2);
  const b = w.add(3);
  w.link(a, m);
  w.link(m, b);
  const dialing = a.svc.dial(b.id.address, 'ICE failed');
  await w.settle();
  const la = await dialing;
  t.is(b.incoming.length, 1);
  const lb = b.incoming[0]!;
  t.is(la.remote, b.id.address);
  t.deepEqual(Array.from(la.remoteKey), Array.from(b.id.publicKey));
  t.is(lb.remote, a.id.address);
  t.deepEqual(Array.from(lb.remoteKey), Array.from(a.id.publicKey));
  t.deepEqual(la.info(), { transport: 'relay', path: 'relayed', detail: `relayed via ${m.id.addressHex.slice(0, 12)}: ICE failed` });
  const ga = collect(la);
  const gb = collect(lb);
  t.true(la.sendControl(enc('c1')));
  t.true(la.sendData(enc('d1')));
  t.true(lb.sendControl(enc('c2')));
  await w.settle();
  t.deepEqual(gb.control, ['c1']);
  t.deepEqual(gb.data, ['d1']);
  t.deepEqual(ga.control, ['c2']);
  t.is(m.svc.carrying, 1);
  la.close('done');
  await w.settle();
  t.deepEqual(ga.closed, ['done']);
  t.deepEqual(gb.closed, ['tunnel closed: Closed']);
  t.is(m.svc.carrying, 0);
  t.false(la.sendData(enc('late')));
});

test('the middle losing a link ends the tunnel at the other end; the end losing the middle ends it too', async (t) => {
  const w = new Wires();
  const [a, m, b] = [w.add(11), w.add(12), w.add(13)];
  w.link(a, m);
  w.link(m, b);
  const dialing = a.svc.dial(b.id.address, 'x');
  await w.settle();
  const la = await dialing;
  const ga = collect(la);
  const gb = collect(b.incoming[0]!);
  // M's link to B goes: A hears PeerLost, M forgets the tunnel.
  w.unlink(m, b);
  m.svc.neighbourGone(b.id.address);
  await w.settle();
  t.deepEqual(ga.closed, ['tunnel closed: PeerLost']);
  t.is(m.svc.carrying, 0);
  // B notices its link to M is gone (as the overlay would tell it).
  b.svc.neighbourGone(m.id.address);
  t.deepEqual(gb.closed, [`relay node ${m.id.addressHex.slice(0, 12)} lost`]);
});

test('a middle node cannot pass itself off as another member: the target refuses the handshake', async (t) => {
  const w = new Wires();
  const a = w.add(21); // the member the middle pretends to be
  const m = w.add(22);
  const b = w.add(23);
  w.link(m, b);
  // M invites B "on behalf of A" and answers the handshake with its own key (it has no other).
  const tunnel = 77;
  const send = (frame: Uint8Array) => b.svc.onControl(m.id.address, encodeRelay({ op: RELAY_OP_CONTROL, tunnel, peer: a.id.address }, frame));
  b.svc.onControl(m.id.address, encodeRelay({ op: RELAY_OP_INVITE, tunnel, peer: a.id.address }, new TunnelKeyPair(new Uint8Array(32).fill(3)).publicKey));
  const binding = new TextEncoder().encode(`relay-tunnel via ${m.id.addressHex} id ${tunnel}`);
  const forged = new LinkHandshake({ role: 'offerer', network: NET, networkKey: KEY, signer: m.id, localFingerprint: binding, remoteFingerprint: binding, nonce: new Uint8Array(32).fill(9) });
  send(forged.start());
  await w.settle();
  t.is(b.incoming.length, 0);
  t.is(b.counters.relay_handshakes_refused, 1);
  // B answered with a REFUSE and closed the tunnel towards M.
  const fromB = m.raw.filter((r) => r.from === b.id.address).map((r) => decodeRelay(r.bytes));
  t.true(fromB.some((f) => f.op === RELAY_OP_CLOSE && f.payload[0] === RelayCloseReason.Refused));
});

test('a node without the network secret gets no tunnel', async (t) => {
  const w = new Wires();
  const stranger = w.add(31, { key: networkKey(new TextEncoder().encode('wrong'), NET) });
  const m = w.add(32);
  const b = w.add(33);
  w.link(stranger, m);
  w.link(m, b);
  const dialing = stranger.svc.dial(b.id.address, 'x');
  await w.settle();
  await t.throwsAsync(dialing, { name: 'RelayDialError', message: /handshake failed/ });
  t.is(b.incoming.length, 0);
  t.is(m.svc.carrying, 0);
});

test('the middle bounds its load: tunnels beyond maxTunnels are refused, data beyond the budget dropped', async (t) => {
  const w = new Wires();
  const a = w.add(41);
  const m = w.add(42, { options: { maxTunnels: 1, tunnelBytesPerSecond: 1_000, tunnelBurstBytes: 2_000 } });
  const b = w.add(43);
  const c = w.add(44);
  for (const x of [a, b, c]) w.link(x, m);
  const first = a.svc.dial(b.id.address, 'x');
  await w.settle();
  const la = await first;
  const gb = collect(b.incoming[0]!);
  const second = a.svc.dial(c.id.address, 'x');
  await w.settle();
  await t.throwsAsync(second, { message: /Busy/ });
  t.is(m.counters.relay_middle_refused_busy, 1);
  // 10 packets of 500 bytes at once: the burst (2,000 bytes, less the handshake's share) lets a few through.
  for (let i = 0; i < 10; i++) la.sendData(new Uint8Array(500).fill(65));
  await w.settle();
  t.true(gb.data.length >= 1 && gb.data.length < 10, `${gb.data.length} delivered`);
  t.is(m.counters.relay_middle_data_dropped_budget, 10 - gb.data.length);
  // Budget refills with time.
  await w.clock.advance(3_000);
  la.sendData(new Uint8Array(500).fill(66));
  await w.settle();
  t.is(gb.data.at(-1)!.slice(0, 1), 'B');
});

test('no common neighbour, or no answer: the dial fails with a typed error within its bounds', async (t) => {
  const w = new Wires();
  const a = w.add(51);
  const m = w.add(52);
  const b = w.add(53);
  w.link(a, m); // B has no link to M
  const dialing = a.svc.dial(b.id.address, 'x');
  await w.settle();
  await t.throwsAsync(dialing, { name: 'RelayDialError', message: /no common neighbour/ });
  // A target that never answers: the query times out on the clock.
  const ghost = 123n;
  const silent = a.svc.dial(ghost, 'x');
  await w.settle();
  await w.clock.advance(10_000);
  await t.throwsAsync(silent, { name: 'RelayDialError', message: /did not answer/ });
});

test('the middle can drop tunnelled frames but not forge, alter or replay them', async (t) => {
  const w = new Wires();
  const [a, m, b] = [w.add(61), w.add(62), w.add(63)];
  w.link(a, m);
  w.link(m, b);
  const dialing = a.svc.dial(b.id.address, 'x');
  await w.settle();
  const la = await dialing;
  const lb = b.incoming[0]!;
  const gb = collect(lb);
  collect(la);
  la.sendData(enc('genuine'));
  la.sendControl(enc('genuine control'));
  await w.settle();
  t.deepEqual(gb.data, ['genuine']);
  t.deepEqual(gb.control, ['genuine control']);
  // What M forwarded to B: it saw only sealed bytes.
  const toB = b.raw.filter((r) => r.from === m.id.address);
  const data = toB.find((r) => r.data)!;
  const control = toB.filter((r) => !r.data).at(-1)!;
  t.false(Buffer.from(data.bytes).includes(Buffer.from('genuine')), 'payload is not readable at the middle');
  // M replays both, alters a byte of each, and makes up its own frames "from A".
  const tunnel = la.tunnel;
  const forged = (op: number, body: Uint8Array) => encodeRelay({ op: op as 3, tunnel, peer: a.id.address }, body);
  const altered = (bytes: Uint8Array) => {
    const c = new Uint8Array(bytes);
    c[c.length - 20]! ^= 1;
    return c;
  };
  b.svc.onData(m.id.address, data.bytes);
  b.svc.onControl(m.id.address, control.bytes);
  b.svc.onData(m.id.address, altered(data.bytes));
  b.svc.onControl(m.id.address, altered(control.bytes));
  b.svc.onData(m.id.address, forged(RELAY_OP_DATA, new Uint8Array(40).fill(7)));
  b.svc.onControl(m.id.address, forged(RELAY_OP_CONTROL, new Uint8Array(40).fill(7)));
  t.deepEqual(gb.data, ['genuine']);
  t.deepEqual(gb.control, ['genuine control']);
  t.is(b.counters.relay_frames_rejected, 6);
  // The tunnel still works for A afterwards.
  la.sendData(enc('still fine'));
  await w.settle();
  t.deepEqual(gb.data, ['genuine', 'still fine']);
});

test('tunnel cipher: both ends derive matching keys; replay window for data, strict order for control', (t) => {
  const ka = new TunnelKeyPair(new Uint8Array(32).fill(1));
  const kb = new TunnelKeyPair(new Uint8Array(32).fill(2));
  const sa = ka.agree(kb.publicKey)!;
  const sb = kb.agree(ka.publicKey)!;
  t.deepEqual(Array.from(sa), Array.from(sb));
  t.is(ka.agree(new Uint8Array(32)), undefined, 'an all-zero (low-order) key is refused');
  t.is(ka.agree(new Uint8Array(31)), undefined);
  const transcript = new Uint8Array(32).fill(9);
  const ca = new TunnelCipher(sa, transcript, true);
  const cb = new TunnelCipher(sb, transcript, false);
  const sealed = Array.from({ length: 5 }, (_, i) => ca.seal('data', enc(`p${i}`)));
  // Out of order is fine for data; a repeat is not.
  for (const i of [3, 0, 4, 1]) t.is(new TextDecoder().decode(cb.open('data', sealed[i]!)!), `p${i}`);
  t.is(cb.open('data', sealed[3]!), undefined);
  // A data packet is not accepted as control (different nonce space), nor the other way round.
  t.is(cb.open('control', sealed[2]!), undefined);
  const c0 = ca.seal('control', enc('c0'));
  const c1 = ca.seal('control', enc('c1'));
  t.is(cb.open('data', c0), undefined);
  t.is(new TextDecoder().decode(cb.open('control', c1)!), 'c1');
  t.is(cb.open('control', c0), undefined, 'control frames only move forward');
  // Our own frames do not open with our receive key (one key per direction).
  t.is(ca.open('data', ca.seal('data', enc('x'))), undefined);
  // Far behind the window: refused.
  const old = ca.seal('data', enc('old'));
  for (let i = 0; i < 1100; i++) cb.open('data', ca.seal('data', enc('n')));
  t.is(cb.open('data', old), undefined);
});
