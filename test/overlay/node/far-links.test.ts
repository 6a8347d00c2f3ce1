// Far links: the size estimate from the near set, Symphony positions (harmonic in distance between
// 1/N of the ring and all of it), and a round that releases a surplus far link.
import test from 'ava';
import { seededRandom } from '../../../lib/random.js';
import { RING_SIZE, ringDist } from '../../../overlay/ring/ring.js';
import { ConnectionTable } from '../../../overlay/routing-table/connection-table.js';
import { estimateSize, FarLinks, symphonyPosition } from '../../../overlay/node/far-links.js';
import { entry } from './fakes.js';

/** The table of node 0 of `n` evenly spaced nodes, linked to its 3 neighbours on each side. */
function evenRing(n: number): ConnectionTable {
  const step = RING_SIZE / BigInt(n);
  const table = new ConnectionTable(0n, 3);
  for (const i of [1, 2, 3, n - 1, n - 2, n - 3]) table.add(entry(BigInt(i) * step));
  return table;
}

test('the size estimate matches an evenly spaced ring; a lone pair estimates from its links', (t) => {
  for (const n of [16, 1_000, 1_000_000]) t.true(Math.abs(estimateSize(evenRing(n)) / n - 1) < 0.01, `n = ${n}: ${estimateSize(evenRing(n))}`);
  const pair = new ConnectionTable(0n, 3);
  t.is(estimateSize(pair), 1);
  pair.add(entry(RING_SIZE / 2n));
  t.true(estimateSize(pair) >= 2);
});

test('Symphony distances run log-uniformly from 1/N of the ring to all of it, either way round', (t) => {
  const random = seededRandom(3);
  const n = 1_024;
  const self = RING_SIZE / 3n;
  let below = 0;
  let closer = 0;
  let cw = 0;
  const samples = 4_000;
  for (let i = 0; i < samples; i++) {
    const p = symphonyPosition(self, n, random);
    const d = ringDist(self, p);
    if (d < RING_SIZE / BigInt(n) - 1n) closer++; // only a distance of nearly the whole ring comes round this close
    if (d < RING_SIZE >> 5n) below++; // 2^-5 is the geometric middle of 2^-10 .. 2^0
    if ((p - self + RING_SIZE) % RING_SIZE < RING_SIZE / 2n) cw++;
  }
  t.true(Math.abs(below / samples - 0.5) < 0.05, `half the distances below the log-midpoint: ${below}`);
  t.true(Math.abs(cw / samples - 0.5) < 0.05, `either way round: ${cw}`);
  t.true(closer <= samples * 0.002, `closer than 1/N: ${closer}`);
});

test('a round with more than target + 1 far links releases one and finds none', (t) => {
  const table = evenRing(16);
  for (let i = 0; i < 6; i++) table.add(entry(BigInt(i + 5) * (RING_SIZE / 16n) + 1n, { far: true }));
  let finds = 0;
  const far = new FarLinks({
    self: 0n,
    random: seededRandom(1),
    options: { farLinks: 'auto', maxFarLinks: 24, farFindsPerRound: 3 },
    table,
    stopped: false,
    joined: true,
    count: () => undefined,
    find: () => (finds++, Promise.resolve(undefined)),
    connect: () => undefined,
    farDialsPending: () => 0,
  });
  t.is(far.target(), 4); // log2 16
  far.maintain();
  t.is([...table.all()].filter((e) => e.far).length, 5);
  t.is(finds, 0);
  far.maintain();
  t.is([...table.all()].filter((e) => e.far).length, 5, 'target + 1 is tolerated');
  t.is(finds, 0);
  for (const e of table.all()) e.far = false;
  far.maintain();
  t.is(finds, 3, 'below target: farFindsPerRound FINDs');
});
