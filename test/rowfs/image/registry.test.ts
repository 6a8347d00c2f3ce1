import test from 'ava';
import { createHash } from 'node:crypto';
import { MemoryDhtStore } from '../../../dhcp/vip/memory-dht.js';
import { ManualClock } from '../../vnet/manual-clock.js';
import { seededRandom } from '../../../lib/random.js';
import { ImageRegistry, ImageError, registryKeys, encodeVersionsRecord, decodeVersionsRecord, encodeClaimRecord, encodeServerRecord, encodeSharerRecord, type VersionInfo, type ServerRecord } from '../../../rowfs/image/index.js';

const EPOCH = 1_765_000_000_000;
const APP = 'debian';
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

function world(seed = 1) {
  const clock = new ManualClock(EPOCH);
  const store = new MemoryDhtStore(clock);
  const random = seededRandom(seed);
  const node = (ttls?: { serverMs?: number; sharerMs?: number }, ringAddressOf?: (k: Uint8Array) => Uint8Array) => {
    const key = random.bytes(32);
    const dht = store.dhtFor(key);
    return { key, dht, reg: new ImageRegistry(dht, { self: key, clock, ttls, ringAddressOf }) };
  };
  return { clock, store, node };
}

const digestOf = (s: string) => new Uint8Array(createHash('sha256').update(s).digest());
const info = (version: string, publishedAtMs = EPOCH, tag = ''): VersionInfo => ({ version, digest: digestOf(version + tag), bytes: 1000, files: 3, blockSize: 65536, publishedAtMs });
const server = (version: string, o: Partial<ServerRecord> = {}): ServerRecord => ({ app: APP, version, vip: '10.128.0.7', nfsPort: 2049, mountPort: 20048, manifestPort: 8080, exportPath: '/srv/debian', ring: new Uint8Array(20).fill(1), digest: digestOf(version), ...o });
const hex = (k: Uint8Array) => Buffer.from(k).toString('hex');
const code = async (t: import('ava').ExecutionContext, p: Promise<unknown>) => (await t.throwsAsync(p, { instanceOf: ImageError }))?.code;

test('the first claim owns the app; a second node gets NOT_OWNER naming the owner; the owner refreshes', async (t) => {
  const w = world();
  const a = w.node();
  const b = w.node();
  t.is(await code(t, a.reg.resolveApp(APP)), 'NOT_FOUND');
  await a.reg.claim(APP, [b.key]);
  const err = await t.throwsAsync(b.reg.claim(APP), { instanceOf: ImageError });
  t.is(err?.code, 'NOT_OWNER');
  t.true(err!.message.includes(hex(a.key).slice(0, 16)), err!.message);
  await w.clock.advance(DAY);
  await a.reg.claim(APP); // refresh keeps the named publishers
  const view = await b.reg.resolveApp(APP);
  t.is(hex(view.owner), hex(a.key));
  t.deepEqual(view.publishers.map(hex), [hex(b.key)]);
  t.is(view.latest, undefined);
  t.deepEqual(view.versions, []);
});

test('latest moves with publishVersion(makeLatest); versions come newest first; withdraw moves latest back', async (t) => {
  const w = world();
  const a = w.node();
  await a.reg.claim(APP);
  await a.reg.publishVersion(APP, info('1.9'), { makeLatest: true });
  t.is((await a.reg.resolveApp(APP)).latest, '1.9');
  await w.clock.advance(1000);
  await a.reg.publishVersion(APP, info('1.10'), { makeLatest: true });
  await a.reg.publishVersion(APP, info('1.11-rc'), { makeLatest: false });
  let view = await a.reg.resolveApp(APP);
  t.is(view.latest, '1.10');
  t.deepEqual(view.versions.map((v) => v.version), ['1.11-rc', '1.10', '1.9']);
  t.is(view.ignored, 0);
  await a.reg.withdrawVersion(APP, '1.10');
  view = await a.reg.resolveApp(APP);
  t.is(view.latest, '1.11-rc', 'the newest remaining');
  t.is(await code(t, a.reg.withdrawVersion(APP, '1.10')), 'NOT_FOUND');
  await a.reg.withdrawVersion(APP, '1.11-rc');
  await a.reg.withdrawVersion(APP, '1.9');
  view = await a.reg.resolveApp(APP);
  t.deepEqual([view.latest, view.versions.length], [undefined, 0]);
  t.false(w.store.snapshot().some((s) => s.key === `image/versions/${APP}`), 'the empty record is removed, not left empty');
});

test("a non-owner's versions record claiming latest v3 is ignored and counted; so are malformed values", async (t) => {
  const w = world();
  const owner = w.node();
  const intruder = w.node();
  await owner.reg.claim(APP);
  await owner.reg.publishVersion(APP, info('2'), { makeLatest: true });
  t.is(await code(t, intruder.reg.publishVersion(APP, info('3'), { makeLatest: true })), 'NOT_OWNER');
  // The intruder writes the DHT directly, as a modified client would.
  await intruder.dht.put(registryKeys.versions(APP), encodeVersionsRecord({ app: APP, latest: '3', versions: [info('3')], updatedAtMs: EPOCH * 2 }), DAY);
  const third = w.node();
  await third.dht.put(registryKeys.versions(APP), new Uint8Array([1, 2, 3, 4]), DAY);
  const view = await third.reg.resolveApp(APP);
  t.is(view.latest, '2');
  t.deepEqual(view.versions.map((v) => v.version), ['2']);
  t.is(view.ignored, 2);
});

test("a named publisher's version is accepted and can become latest; it cannot take another manifest under an existing version", async (t) => {
  const w = world();
  const owner = w.node();
  const pub = w.node();
  await owner.reg.claim(APP, [pub.key]);
  await owner.reg.publishVersion(APP, info('1'), { makeLatest: true });
  await w.clock.advance(1000);
  await pub.reg.publishVersion(APP, info('2'), { makeLatest: true });
  const view = await owner.reg.resolveApp(APP);
  t.is(view.latest, '2');
  t.deepEqual(view.versions.map((v) => [v.version, hex(v.publisher)]), [['2', hex(pub.key)], ['1', hex(owner.key)]]);
  t.is(await code(t, pub.reg.publishVersion(APP, info('1', EPOCH, 'other bytes'), { makeLatest: false })), 'NOT_OWNER');
  // The same manifest may be listed by both; the owner's listing is the one shown.
  await pub.reg.publishVersion(APP, info('1'), { makeLatest: false });
  t.is(hex((await owner.reg.resolveApp(APP)).versions.find((v) => v.version === '1')!.publisher), hex(owner.key));
  // The owner chooses again later: its choice wins.
  await w.clock.advance(1000);
  await owner.reg.publishVersion(APP, info('1'), { makeLatest: true });
  t.is((await pub.reg.resolveApp(APP)).latest, '1');
});

test('a contested claim needs a known owner; junk beside a claim is ignored', async (t) => {
  const w = world();
  const a = w.node();
  const rogue = w.node();
  await a.reg.claim(APP);
  await rogue.dht.put(registryKeys.claim(APP), new Uint8Array([9, 9, 9, 9]), DAY);
  t.is((await rogue.reg.resolveApp(APP)).ignored, 1);
  await rogue.dht.put(registryKeys.claim(APP), encodeClaimRecord({ app: APP, publishers: [] }), DAY);
  t.is(await code(t, rogue.reg.resolveApp(APP)), 'CONTESTED');
  const view = await rogue.reg.resolveApp(APP, { knownOwner: a.key });
  t.is(hex(view.owner), hex(a.key));
  t.is(view.ignored, 1);
  // A claim value naming another app under this app's key does not count.
  const other = w.node();
  await other.dht.put(registryKeys.claim('other'), encodeClaimRecord({ app: 'other', publishers: [] }), DAY);
  await rogue.dht.remove(registryKeys.claim(APP));
  await rogue.dht.put(registryKeys.claim(APP), encodeClaimRecord({ app: 'other', publishers: [] }), DAY);
  t.is(hex((await rogue.reg.resolveApp(APP)).owner), hex(a.key));
});

test('servers: only records naming the version digest and the key they sit under; gone after their TTL', async (t) => {
  const w = world();
  const ttls = { serverMs: 30_000 };
  const s1 = w.node(ttls);
  const s2 = w.node(ttls);
  const liar = w.node(ttls);
  const misfiled = w.node(ttls);
  await s1.reg.addServer(server('1'));
  await w.clock.advance(20_000);
  await s2.reg.addServer(server('1', { vip: '10.128.0.8' }));
  await liar.reg.addServer(server('1', { digest: digestOf('tampered') }));
  await misfiled.dht.put(registryKeys.servers(APP, '1'), encodeServerRecord(server('2')), 30_000);
  let r = await s1.reg.servers(APP, '1', digestOf('1'));
  t.deepEqual(r.servers.map((s) => s.vip).sort(), ['10.128.0.7', '10.128.0.8']);
  t.deepEqual(r.servers.map((s) => hex(s.owner)).sort(), [hex(s1.key), hex(s2.key)].sort());
  t.is(r.ignored, 2);
  await w.clock.advance(10_001); // s1's record is 30 s old: gone
  r = await s1.reg.servers(APP, '1', digestOf('1'));
  t.deepEqual(r.servers.map((s) => s.vip), ['10.128.0.8']);
  await s2.reg.addServer(server('1', { vip: '10.128.0.8' })); // a refresh
  await w.clock.advance(29_000);
  t.is((await s1.reg.servers(APP, '1', digestOf('1'))).servers.length, 1);
  await s2.reg.removeServer(APP, '1');
  t.is((await s1.reg.servers(APP, '1', digestOf('1'))).servers.length, 0);
});

test("server and sharer records written for another process of the node live for that process's TTL, not the registry's", async (t) => {
  const w = world();
  const ringOf = (k: Uint8Array) => k.subarray(0, 20);
  const n = w.node({ serverMs: 6_000, sharerMs: 6_000 }, ringOf);
  t.deepEqual({ server: n.reg.ttls.serverMs, sharer: n.reg.ttls.sharerMs }, { server: 6_000, sharer: 6_000 });
  await n.reg.addServer(server('1', { ring: ringOf(n.key) }), 60_000);
  await n.reg.addSharer({ app: APP, version: '1', ring: ringOf(n.key), sinceMs: EPOCH }, 60_000);
  await w.clock.advance(59_000);
  t.is((await n.reg.servers(APP, '1', digestOf('1'))).servers.length, 1, 'past the registry TTL');
  t.is(await n.reg.sharers(APP, '1'), 1);
  await w.clock.advance(1_001);
  t.is((await n.reg.servers(APP, '1', digestOf('1'))).servers.length, 0, 'gone after the TTL it was written with');
  t.is(await n.reg.sharers(APP, '1'), 0);
  await n.reg.addServer(server('1', { ring: ringOf(n.key) }));
  await w.clock.advance(5_000);
  t.is((await n.reg.servers(APP, '1', digestOf('1'))).servers.length, 1);
  await w.clock.advance(1_001);
  t.is((await n.reg.servers(APP, '1', digestOf('1'))).servers.length, 0, "without one, the registry's own TTL");
});

test('sharers: one per node, expire after their TTL, removed on stop; a record naming another ring address is ignored', async (t) => {
  const w = world();
  const ringOf = (k: Uint8Array) => k.subarray(0, 20);
  const c1 = w.node({ sharerMs: 60_000 }, ringOf);
  const c2 = w.node({ sharerMs: 60_000 }, ringOf);
  const forger = w.node({ sharerMs: 60_000 }, ringOf);
  await c1.reg.addSharer({ app: APP, version: '1', ring: ringOf(c1.key), sinceMs: EPOCH });
  await c1.reg.addSharer({ app: APP, version: '1', ring: ringOf(c1.key), sinceMs: EPOCH }); // refresh, still one
  await c2.reg.addSharer({ app: APP, version: '1', ring: ringOf(c2.key), sinceMs: EPOCH });
  await forger.reg.addSharer({ app: APP, version: '1', ring: ringOf(c1.key), sinceMs: EPOCH });
  await forger.dht.put(registryKeys.sharers(APP, '1'), encodeSharerRecord({ app: APP, version: '2', ring: ringOf(forger.key), sinceMs: EPOCH }), 60_000);
  t.is(await c1.reg.sharers(APP, '1'), 2);
  t.is((await c1.reg.sharerRecords(APP, '1')).ignored, 1);
  await c2.reg.removeSharer(APP, '1');
  t.is(await c1.reg.sharers(APP, '1'), 1);
  await w.clock.advance(60_000);
  t.is(await c1.reg.sharers(APP, '1'), 0);
});

async function fiveVersions(w: ReturnType<typeof world>) {
  const a = w.node();
  await a.reg.claim(APP);
  // Published ten days ago (the claim and records themselves are fresh, as a refreshing publisher keeps them).
  for (const v of ['1', '2', '3', '4', '5']) await a.reg.publishVersion(APP, info(v, EPOCH - 10 * DAY), { makeLatest: v === '4' });
  return a;
}

test('gc withdraws old unshared versions, never the latest, one newer than it, or one with sharers', async (t) => {
  const w = world();
  const a = await fiveVersions(w);
  const client = w.node();
  await client.reg.addSharer({ app: APP, version: '2', ring: new Uint8Array(20), sinceMs: EPOCH });
  const plan = await a.reg.gc(APP, { keep: 0, minAgeMs: DAY, dryRun: true });
  t.deepEqual(plan.map((s) => [s.version, s.action, s.sharers]), [['5', 'keep', 0], ['4', 'keep', 0], ['3', 'withdraw', 0], ['2', 'keep', 1], ['1', 'withdraw', 0]]);
  t.regex(plan[0]!.reason, /newer than the latest/);
  t.regex(plan[1]!.reason, /latest/);
  t.regex(plan[3]!.reason, /1 sharer/);
  t.deepEqual((await a.reg.resolveApp(APP)).versions.length, 5, 'a dry run changes nothing');
  await a.reg.gc(APP, { keep: 0, minAgeMs: DAY, dryRun: false });
  const view = await a.reg.resolveApp(APP);
  t.deepEqual(view.versions.map((v) => v.version), ['5', '4', '2']);
  t.is(view.latest, '4');
  // Once the sharer's record expires, 2 goes too.
  await w.clock.advance(120_000);
  await a.reg.gc(APP, { keep: 0, minAgeMs: DAY, dryRun: false });
  t.deepEqual((await a.reg.resolveApp(APP)).versions.map((v) => v.version), ['5', '4']);
});

test('gc --keep keeps the N newest; minAge keeps recent publications; only our own versions go', async (t) => {
  const w = world();
  const a = await fiveVersions(w);
  t.deepEqual((await a.reg.gcPlan(APP, { keep: 3, minAgeMs: 0 })).map((s) => s.action), ['keep', 'keep', 'keep', 'withdraw', 'withdraw']);
  t.regex((await a.reg.gcPlan(APP, { keep: 3, minAgeMs: 0 }))[2]!.reason, /among the 3 newest/);
  const young = await a.reg.gcPlan(APP, { keep: 0, minAgeMs: 11 * DAY });
  t.deepEqual(young.map((s) => s.action), ['keep', 'keep', 'keep', 'keep', 'keep']);
  t.regex(young[4]!.reason, /published 10 days ago/);
  const stranger = w.node();
  const theirs = await stranger.reg.gc(APP, { keep: 0, minAgeMs: 0, dryRun: false });
  t.deepEqual(theirs.map((s) => s.action), ['keep', 'keep', 'keep', 'keep', 'keep']);
  t.regex(theirs[4]!.reason, /only that key can withdraw it/);
  t.is((await a.reg.resolveApp(APP)).versions.length, 5);
});

test('withdrawVersion with ifUnshared refuses (IN_USE) while a sharer is live', async (t) => {
  const w = world();
  const a = await fiveVersions(w);
  const client = w.node();
  await client.reg.addSharer({ app: APP, version: '1', ring: new Uint8Array(20), sinceMs: EPOCH });
  t.is(await code(t, a.reg.withdrawVersion(APP, '1', { ifUnshared: true })), 'IN_USE');
  await client.reg.removeSharer(APP, '1');
  await a.reg.withdrawVersion(APP, '1', { ifUnshared: true });
  t.is((await a.reg.resolveApp(APP)).versions.length, 4);
});

test('bad names and out-of-range versions are refused before anything is written', async (t) => {
  const w = world();
  const a = w.node();
  await a.reg.claim(APP);
  const before = w.store.operations;
  t.is(await code(t, a.reg.claim('Bad Name')), 'BAD_NAME');
  t.is(await code(t, a.reg.publishVersion(APP, info('../x'), { makeLatest: true })), 'BAD_NAME');
  t.is(await code(t, a.reg.resolveApp('')), 'BAD_NAME');
  t.is(w.store.operations, before);
  await t.throwsAsync(a.reg.publishVersion(APP, { ...info('1'), blockSize: 1000 }, { makeLatest: true }), { instanceOf: RangeError });
  t.false(w.store.snapshot().some((s) => s.key.startsWith('image/versions/')));
});

test('gc keeps a version that gains a sharer between its plan and the withdrawal', async (t) => {
  const w = world();
  const a = await fiveVersions(w);
  const client = w.node();
  let versionReads = 0;
  const racing = {
    ...a.dht,
    get: async (key: Uint8Array) => {
      // The second read of the versions key is gc's withdrawal of 3, right after its plan said "withdraw".
      if (Buffer.from(key).toString() === `image/versions/${APP}` && ++versionReads === 2) {
        await client.reg.addSharer({ app: APP, version: '3', ring: new Uint8Array(20), sinceMs: EPOCH });
      }
      return a.dht.get(key);
    },
  };
  const reg = new ImageRegistry(racing, { self: a.key, clock: w.clock });
  const done = await reg.gc(APP, { keep: 0, minAgeMs: 0, dryRun: false });
  t.deepEqual(done.map((s) => [s.version, s.action, s.sharers]), [['5', 'keep', 0], ['4', 'keep', 0], ['3', 'keep', 1], ['2', 'withdraw', 0], ['1', 'withdraw', 0]]);
  t.regex(done[2]!.reason, /has 1 sharer/);
  t.deepEqual((await a.reg.resolveApp(APP)).versions.map((v) => v.version), ['5', '4', '3']);
});

test('wall time comes from the injected clock: publishedAtMs and updatedAtMs follow it', async (t) => {
  const w = world();
  const key = new Uint8Array(32).fill(7);
  const reg = new ImageRegistry(w.store.dhtFor(key), { self: key, clock: w.clock });
  t.is(reg.wallNow(), EPOCH + w.clock.now());
  const t0 = reg.wallNow();
  await w.clock.advance(5000);
  t.is(reg.wallNow() - t0, 5000);
  await reg.claim(APP);
  const rec = await reg.publishVersion(APP, info('1'), { makeLatest: true });
  t.is(rec.updatedAtMs, reg.wallNow());
});

test('refreshVersions keeps our record alive past its TTL without changing the choice of latest', async (t) => {
  const w = world();
  const a = w.node();
  const reg = new ImageRegistry(a.dht, { self: a.key, clock: w.clock, ttls: { claimMs: 10_000, versionsMs: 10_000 } });
  t.false(await reg.refreshVersions(APP));
  await reg.claim(APP);
  const first = await reg.publishVersion(APP, info('1'), { makeLatest: true });
  for (let i = 0; i < 3; i++) {
    await w.clock.advance(8000);
    await reg.claim(APP);
    t.true(await reg.refreshVersions(APP));
  }
  const view = await reg.resolveApp(APP);
  t.is(view.latest, '1');
  const stored = decodeVersionsRecord((await a.dht.get(registryKeys.versions(APP)))[0]!.value).value;
  t.is(stored.updatedAtMs, first.updatedAtMs);
  t.deepEqual(w.store.snapshot().filter((s) => s.key.startsWith('image/')).length, 2);
  await w.clock.advance(10_000);
  t.is(await code(t, reg.resolveApp(APP)), 'NOT_FOUND', 'without refreshes both expire');
});

test('trace choice: a publisher trace first; else the smallest SHA-256(key, digest): recordedAtMs cannot win it', async (t) => {
  const w = world();
  const ringOf = (k: Uint8Array) => k.subarray(0, 20);
  const owner = w.node(undefined, ringOf);
  await owner.reg.claim(APP);
  const digest = digestOf('1');
  const nodes = [w.node(undefined, ringOf), w.node(undefined, ringOf), w.node(undefined, ringOf)];
  const traceOf = (n: (typeof nodes)[number], recordedAtMs: number) => ({ app: APP, version: '1', ring: ringOf(n.key), digest, recordedAtMs, runs: [{ entry: 1, first: 0, count: 1 }] });
  const rank = (k: Uint8Array) => createHash('sha256').update(k).update(digest).digest('hex');
  const want = [...nodes].sort((a, b) => (rank(a.key) < rank(b.key) ? -1 : 1))[0]!;
  for (const n of nodes) await n.reg.putTrace(traceOf(n, n === want ? EPOCH : 0)); // the others claim the earliest time
  const got = await owner.reg.trace(APP, '1', digest, [owner.key]);
  t.deepEqual(got && { owner: hex(got.owner), trusted: got.trusted }, { owner: hex(want.key), trusted: false });
  await owner.reg.putTrace(traceOf(owner, EPOCH + 5));
  const byOwner = await nodes[0]!.reg.trace(APP, '1', digest, [owner.key]);
  t.deepEqual(byOwner && { owner: hex(byOwner.owner), trusted: byOwner.trusted }, { owner: hex(owner.key), trusted: true });
});
