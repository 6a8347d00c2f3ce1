// The connection table and greedy routing against slow obvious references, with a seeded generator.
import test from 'ava';
import type { Link } from '../../overlay/link/link.js';
import { seededRandom } from '../../lib/random.js';
import { closerTo, cwDist, ringDist, RING_SIZE } from '../../overlay/ring/ring.js';
import { ConnectionTable, type TableEntry } from '../../overlay/routing-table/connection-table.js';
import { nextHop } from '../../overlay/routing-table/next-hop.js';
import type { Random } from '../../lib/clock.js';

function randomAddress(r: Random): bigint {
  return BigInt('0x' + Buffer.from(r.bytes(20)).toString('hex'));
}

function entry(address: bigint): TableEntry {
  return { address, link: {} as Link, dialedByUs: true, far: false, shortcut: false, bootstrap: false, transit: true, remoteWants: true, announcedWant: true, addedAt: 0, lastHeard: 0, lastUsed: 0 };
}

function tableWith(self: bigint, addrs: bigint[], near = 3): ConnectionTable {
  const t = new ConnectionTable(self, near);
  for (const a of addrs) t.add(entry(a));
  return t;
}

/** Reference: scan everything. */
function slowClosest(addrs: bigint[], key: bigint, exclude?: bigint): bigint | undefined {
  let best: bigint | undefined;
  for (const a of addrs) if (a !== exclude && (best === undefined || closerTo(key, a, best))) best = a;
  return best;
}

test('closest and closestN agree with a linear scan', (t) => {
  const r = seededRandom(1);
  for (let round = 0; round < 200; round++) {
    const self = randomAddress(r);
    const addrs = [...new Set(Array.from({ length: 1 + r.int(40) }, () => randomAddress(r)))].filter((a) => a !== self);
    const table = tableWith(self, addrs);
    for (let q = 0; q < 20; q++) {
      const key = q % 5 === 0 ? addrs[r.int(addrs.length)]! : randomAddress(r);
      const exclude = q % 3 === 0 ? addrs[r.int(addrs.length)] : undefined;
      t.is(table.closest(key, exclude), slowClosest(addrs, key, exclude));
      const n = 1 + r.int(6);
      const ref = [...addrs].sort((a, b) => (closerTo(key, a, b) ? -1 : 1)).slice(0, n);
      t.deepEqual(table.closestN(key, n), ref);
    }
  }
});

test('closest never picks a peer that is not transit, and picks it again once it is', (t) => {
  const r = seededRandom(3);
  for (let round = 0; round < 200; round++) {
    const self = randomAddress(r);
    const addrs = [...new Set(Array.from({ length: 1 + r.int(40) }, () => randomAddress(r)))].filter((a) => a !== self);
    const table = tableWith(self, addrs);
    const opaque = addrs.filter(() => r.int(3) === 0);
    for (const a of opaque) table.setTransit(a, false);
    const transit = addrs.filter((a) => !opaque.includes(a));
    for (let q = 0; q < 20; q++) {
      const key = q % 4 === 0 ? addrs[r.int(addrs.length)]! : randomAddress(r);
      const exclude = q % 3 === 0 ? addrs[r.int(addrs.length)] : undefined;
      t.is(table.closest(key, exclude), slowClosest(transit, key, exclude));
    }
    for (const a of opaque) table.setTransit(a, true);
    const key = randomAddress(r);
    t.is(table.closest(key), slowClosest(addrs, key));
  }
});

test('insideGaps counts unlinked candidates between us and our nearest neighbour on either side', (t) => {
  const self = 1000n;
  const table = tableWith(self, [900n, 800n, 700n, 1100n, 1200n, 1300n]);
  t.is(table.insideGaps([950n, 960n, 1050n, 850n, 1150n, 1000n, 900n]), 3); // 950, 960, 1050; not self nor linked
  t.is(table.insideGaps([]), 0);
  t.is(tableWith(self, []).insideGaps([950n]), 0);
});

test('successors and predecessors are the nearest linked addresses each way', (t) => {
  const r = seededRandom(2);
  for (let round = 0; round < 100; round++) {
    const self = randomAddress(r);
    const addrs = [...new Set(Array.from({ length: 1 + r.int(30) }, () => randomAddress(r)))].filter((a) => a !== self);
    const table = tableWith(self, addrs, 3);
    const bySucc = [...addrs].sort((a, b) => (cwDist(self, a) < cwDist(self, b) ? -1 : 1));
    const byPred = [...addrs].sort((a, b) => (cwDist(a, self) < cwDist(b, self) ? -1 : 1));
    t.deepEqual(table.successors(), bySucc.slice(0, 3));
    t.deepEqual(table.predecessors(), byPred.slice(0, 3));
    t.deepEqual(table.nearSet(), new Set([...bySucc.slice(0, 3), ...byPred.slice(0, 3)]));
  }
});

test('near candidates: only those that beat the current near set (or fill an empty side)', (t) => {
  const self = 1000n;
  const table = tableWith(self, [1010n, 1020n, 1030n, 990n, 980n, 970n, 5000n], 3);
  t.deepEqual(table.nearCandidates([1005n, 1040n, 995n, 5n], []), [1005n, 995n]);
  t.deepEqual(table.nearCandidates([1005n], [1001n, 1002n, 1003n]), []);
  t.deepEqual(table.nearCandidates([1010n, self], []), []);
  const lonely = tableWith(self, [], 2);
  t.deepEqual(lonely.nearCandidates([RING_SIZE - 1n, 5n, 77n], []), [RING_SIZE - 1n, 5n, 77n]);
  t.true(table.wouldBeNear(1001n));
  t.false(table.wouldBeNear(2000n));
});

test('adding a duplicate or self is refused, removal keeps the order', (t) => {
  const table = tableWith(50n, [10n, 90n]);
  t.throws(() => table.add(entry(10n)));
  t.throws(() => table.add(entry(50n)));
  table.remove(10n);
  t.deepEqual(table.addresses(), [90n]);
  t.is(table.remove(10n), undefined);
});

/**
 * A static overlay of n nodes: every table holds the true 3 successors and predecessors plus
 * Symphony-like random far links. Greedy routing from every source must end at the reference
 * answer, without revisiting a node, within the hop limit.
 */
test('greedy routing reaches the closest node (nearest) and the exact node, without loops', (t) => {
  const r = seededRandom(3);
  const n = 300;
  const addrs = [...new Set(Array.from({ length: n }, () => randomAddress(r)))].sort((a, b) => (a < b ? -1 : 1));
  const tables = new Map<bigint, ConnectionTable>();
  addrs.forEach((a, i) => {
    const links = new Set<bigint>();
    for (let k = 1; k <= 3; k++) {
      links.add(addrs[(i + k) % addrs.length]!);
      links.add(addrs[(i - k + addrs.length) % addrs.length]!);
    }
    for (let f = 0; f < 8; f++) links.add(addrs[Math.floor(addrs.length * Math.exp(Math.log(1 / addrs.length) * r.float())) % addrs.length]!);
    links.delete(a);
    tables.set(a, tableWith(a, [...links]));
  });
  // Links are bidirectional.
  for (const [a, table] of tables) for (const b of table.addresses()) if (!tables.get(b)!.has(a)) tables.get(b)!.add(entry(a));

  let totalHops = 0;
  for (let q = 0; q < 2000; q++) {
    const src = addrs[r.int(addrs.length)]!;
    const exact = q % 2 === 0;
    const target = exact ? addrs[r.int(addrs.length)]! : randomAddress(r);
    let at = src;
    const seen = new Set([at]);
    let hops = 0;
    for (;;) {
      const d = nextHop(tables.get(at)!, target, exact);
      if (d.kind === 'deliver') break;
      if (d.kind === 'drop') return t.fail(`dropped ${d.reason}`);
      at = d.next;
      hops++;
      if (seen.has(at)) return t.fail('loop');
      seen.add(at);
      if (hops > 64) return t.fail('hop limit');
    }
    totalHops += hops;
    t.is(at, exact ? target : slowClosest(addrs, target)!);
  }
  t.true(totalHops / 2000 < 8, `mean hops ${totalHops / 2000}`);
});

test('next hop: exact dead end, direct delivery, source exclusion', (t) => {
  const table = tableWith(100n, [200n, 300n]);
  t.deepEqual(nextHop(table, 100n, true), { kind: 'deliver' });
  t.deepEqual(nextHop(table, 300n, true), { kind: 'forward', next: 300n });
  t.deepEqual(nextHop(table, 120n, true), { kind: 'drop', reason: 'dead-end' });
  t.deepEqual(nextHop(table, 120n, false), { kind: 'deliver' });
  // The source itself looking for its own place leaves through its best neighbour.
  t.deepEqual(nextHop(table, 100n, false, 100n), { kind: 'forward', next: 200n });
  // Elsewhere the excluded source is never chosen.
  t.deepEqual(nextHop(tableWith(250n, [100n, 400n]), 120n, false, 100n), { kind: 'deliver' });
  t.deepEqual(nextHop(new ConnectionTable(1n, 2), 5n, true), { kind: 'drop', reason: 'no-route' });
  t.true(ringDist(120n, 100n) < ringDist(120n, 200n));
});
