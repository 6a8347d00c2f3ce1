// The state store's change journal: commits read back at once and after a reopen or a SIGKILL,
// checked against a model across batch writes to LMDB; a torn journal tail is dropped, not replayed;
// journal files go once a synced batch holds them.
import test from 'ava';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT_VID, StateStore, type Durability, type StateTx } from '../../../rowfs/state/store.js';
import { readRecords } from '../../../rowfs/state/change-journal.js';

function tmp(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'rowfs-journal-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

type Op =
  | { k: 'node'; vid: number; name: string; shadow: number }
  | { k: 'rmnode'; vid: number }
  | { k: 'name'; parent: number; name: string; vid: number }
  | { k: 'rmname'; parent: number; name: string }
  | { k: 'wo'; parent: number; name: string; on: boolean }
  | { k: 'main'; main: number; vid: number };

const VIDS = [2, 3, 4, 5, 6];
const PARENTS = [ROOT_VID, 2];
const NAMES = ['a', 'b', 'c', 'é', 'Z'];

/** What the store should answer, kept in plain maps. */
class Model {
  nodes = new Map<number, { name: string; shadow: number }>();
  names = new Map<string, number>();
  whiteouts = new Set<string>();
  main = new Map<number, number>();

  apply(op: Op): void {
    switch (op.k) {
      case 'node':
        this.nodes.set(op.vid, { name: op.name, shadow: op.shadow });
        break;
      case 'rmnode':
        this.nodes.delete(op.vid);
        break;
      case 'name':
        this.names.set(`${op.parent}/${op.name}`, op.vid);
        break;
      case 'rmname':
        this.names.delete(`${op.parent}/${op.name}`);
        break;
      case 'wo':
        if (op.on) this.whiteouts.add(`${op.parent}/${op.name}`);
        else this.whiteouts.delete(`${op.parent}/${op.name}`);
        break;
      case 'main':
        this.main.set(op.main, op.vid);
        break;
    }
  }
}

function applyTx(tx: StateTx, op: Op): void {
  switch (op.k) {
    case 'node':
      tx.putNode({ vid: op.vid, type: 1, parent: ROOT_VID, name: op.name, main: null, shadow: new Uint8Array([op.shadow]), mainBlocks: 0 });
      break;
    case 'rmnode':
      tx.removeNode(op.vid);
      break;
    case 'name':
      tx.setName(op.parent, op.name, op.vid);
      break;
    case 'rmname':
      tx.removeName(op.parent, op.name);
      break;
    case 'wo':
      if (op.on) tx.setWhiteout(op.parent, op.name);
      else tx.clearWhiteout(op.parent, op.name);
      break;
    case 'main':
      tx.setMainIndex(new Uint8Array([op.main, 0xaa]), op.vid);
      break;
  }
}

/** Every answer of the store agrees with the model (returns the first disagreement, or undefined). */
function disagreement(s: StateStore, m: Model): string | undefined {
  for (const vid of VIDS) {
    const got = s.getNode(vid);
    const want = m.nodes.get(vid);
    if (!!got !== !!want || (got && want && (got.name !== want.name || got.shadow?.[0] !== want.shadow))) return `node ${vid}`;
  }
  for (const p of PARENTS) {
    const listed = s.namesIn(p).map((e) => `${e.name}=${e.vid}`);
    const wanted = NAMES.filter((n) => m.names.has(`${p}/${n}`))
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
      .map((n) => `${n}=${m.names.get(`${p}/${n}`)}`);
    if (listed.join() !== wanted.join()) return `names in ${p}: ${listed} != ${wanted}`;
    for (const n of NAMES) {
      if (s.lookupName(p, n) !== m.names.get(`${p}/${n}`)) return `name ${p}/${n}`;
      if (s.isWhiteout(p, n) !== m.whiteouts.has(`${p}/${n}`)) return `whiteout ${p}/${n}`;
    }
    const wo = [...s.whiteoutsIn(p)].sort().join();
    const wantWo = NAMES.filter((n) => m.whiteouts.has(`${p}/${n}`)).sort().join();
    if (wo !== wantWo) return `whiteouts in ${p}`;
  }
  for (let h = 0; h < 4; h++) if (s.byMainHandle(new Uint8Array([h, 0xaa])) !== m.main.get(h)) return `main ${h}`;
  return undefined;
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('node' as const), vid: fc.constantFrom(...VIDS), name: fc.constantFrom(...NAMES), shadow: fc.nat(255) }),
  fc.record({ k: fc.constant('rmnode' as const), vid: fc.constantFrom(...VIDS) }),
  fc.record({ k: fc.constant('name' as const), parent: fc.constantFrom(...PARENTS), name: fc.constantFrom(...NAMES), vid: fc.constantFrom(...VIDS) }),
  fc.record({ k: fc.constant('rmname' as const), parent: fc.constantFrom(...PARENTS), name: fc.constantFrom(...NAMES) }),
  fc.record({ k: fc.constant('wo' as const), parent: fc.constantFrom(...PARENTS), name: fc.constantFrom(...NAMES), on: fc.boolean() }),
  fc.record({ k: fc.constant('main' as const), main: fc.nat(3), vid: fc.constantFrom(...VIDS) }),
);

type Step = { ops: Op[]; durability: Durability } | { flush: true } | { reopen: true };
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ ops: fc.array(opArb, { minLength: 1, maxLength: 4 }), durability: fc.constantFrom<Durability>('process', 'soon', 'disk') }) },
  // Larger than a journal record takes: written to LMDB at once, after the pending ones.
  { weight: 1, arbitrary: fc.record({ ops: fc.array(opArb, { minLength: 65, maxLength: 80 }), durability: fc.constantFrom<Durability>('process', 'soon') }) },
  { weight: 1, arbitrary: fc.constant({ flush: true as const }) },
  { weight: 1, arbitrary: fc.constant({ reopen: true as const }) },
);

test('every read agrees with a model of the commits, before and after batch writes, flushes and reopens, with any directory index bound', async (t) => {
  const root = tmp(t);
  let run = 0;
  await fc.assert(
    // Directory indexes of 8 entries (2 per directory: directories go in and out of it, some found
    // too large), of 40, and the default.
    fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 40 }), fc.constantFrom(8, 40, undefined), async (steps, dirIndexEntries) => {
      const dir = join(root, `r${run++}`);
      const opts = { flushDelayMs: 60_000, dirIndexEntries };
      let s = await StateStore.open(dir, opts);
      const m = new Model();
      try {
        for (const step of steps) {
          if ('ops' in step) {
            await s.commit((tx) => step.ops.forEach((op) => applyTx(tx, op)), step.durability);
            step.ops.forEach((op) => m.apply(op));
          } else if ('flush' in step) await s.flushed();
          else {
            await s.close();
            s = await StateStore.open(dir, opts);
          }
          const wrong = disagreement(s, m);
          if (wrong) throw new Error(wrong);
        }
      } finally {
        await s.close();
      }
    }),
    { numRuns: 60 },
  );
  t.pass();
});

test('1,300 commits cross two batch writes; a SIGKILL after the last loses none of them', async (t) => {
  const dir = tmp(t);
  const store = new URL('../../../rowfs/state/store.js', import.meta.url).href;
  // The child commits 'process' and 'soon' (never synced: the flush is a minute away), then dies.
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', `
    const { StateStore } = await import(${JSON.stringify(store)});
    const s = await StateStore.open(${JSON.stringify(dir)}, { flushDelayMs: 60_000 });
    for (let i = 0; i < 1300; i++) {
      const vid = s.allocVid();
      await s.commit((tx) => {
        tx.putNode({ vid, type: 1, parent: 1, name: 'f' + i, main: null, shadow: new Uint8Array([i & 255, i >> 8]), mainBlocks: 0 });
        tx.setName(1, 'f' + i, vid);
        if (i % 3 === 0) tx.setWhiteout(1, 'w' + i);
        if (i % 5 === 0 && i > 0) tx.removeName(1, 'f' + (i - 1));
      }, i % 2 ? 'process' : 'soon');
      // Now and then a listing's worth of names in one commit (written to LMDB, not journalled).
      if (i % 400 === 7) await s.commit((tx) => { for (let k = 0; k < 100; k++) tx.setName(2, 'big' + i + '-' + k, 9); }, 'process');
    }
    console.log('done');
    process.kill(process.pid, 'SIGKILL');
  `], { encoding: 'utf8', timeout: 60_000 });
  t.is(child.signal, 'SIGKILL', child.stderr);
  t.regex(child.stdout, /done/);
  const s = await StateStore.open(dir);
  t.teardown(() => s.close());
  const names = s.namesIn(ROOT_VID);
  const expected = 1300 - Math.floor(1299 / 5);
  t.is(names.length, expected);
  for (let i = 0; i < 1300; i++) {
    const vid = s.lookupName(ROOT_VID, `f${i}`);
    if (i % 5 === 4 && i < 1299) {
      t.is(vid, undefined, `f${i} was removed`);
      continue;
    }
    const n = vid === undefined ? undefined : s.getNode(vid);
    if (n?.name !== `f${i}` || n.shadow?.[0] !== (i & 255) || n.shadow?.[1] !== i >> 8) {
      t.fail(`f${i}: ${JSON.stringify(n)}`);
      return;
    }
  }
  t.is(s.whiteoutsIn(ROOT_VID).size, Math.ceil(1300 / 3));
  t.is(s.namesIn(2).length, 4 * 100, 'the large commits too');
  // The replay is in LMDB and synced: its journal files are gone.
  t.deepEqual(readdirSync(dir).filter((f) => f.startsWith('journal-')).length, 1);
});

test('a torn or damaged journal tail is not replayed; the records before it are', async (t) => {
  const dir = tmp(t);
  const store = new URL('../../../rowfs/state/store.js', import.meta.url).href;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', `
    const { StateStore } = await import(${JSON.stringify(store)});
    const s = await StateStore.open(${JSON.stringify(dir)}, { flushDelayMs: 60_000 });
    for (const n of ['one', 'two', 'three']) await s.commit((tx) => tx.setName(1, n, 7), 'process');
    process.kill(process.pid, 'SIGKILL');
  `], { encoding: 'utf8', timeout: 20_000 });
  t.is(child.signal, 'SIGKILL', child.stderr);
  const files = readdirSync(dir).filter((f) => f.startsWith('journal-'));
  t.is(files.length, 1);
  const path = join(dir, files[0]!);
  const whole = readFileSync(path);
  t.is(readRecords(whole).length, 3);
  // The last record cut short, as a machine crash may leave it, plus zeros after it.
  truncateSync(path, whole.length - 3);
  appendFileSync(path, Buffer.alloc(100));
  t.is(readRecords(readFileSync(path)).length, 2);
  // A flipped byte in the second record: only the first is trusted.
  const flipped = Buffer.from(whole);
  const second = 8 + whole.readUInt32BE(0);
  flipped[second + 8 + 2]! ^= 0xff;
  t.is(readRecords(flipped).length, 1);
  writeFileSync(path, whole.subarray(0, whole.length - 3));
  const s = await StateStore.open(dir);
  t.teardown(() => s.close());
  t.is(s.lookupName(ROOT_VID, 'one'), 7);
  t.is(s.lookupName(ROOT_VID, 'two'), 7);
  t.is(s.lookupName(ROOT_VID, 'three'), undefined, 'the torn record is dropped');
  // New commits after the replay land and read back.
  await s.commit((tx) => tx.setName(ROOT_VID, 'four', 8), 'process');
  t.is(s.lookupName(ROOT_VID, 'four'), 8);
});

test('journal files go once a synced batch holds their records', async (t) => {
  const dir = tmp(t);
  const s = await StateStore.open(dir, { flushDelayMs: 60_000 });
  t.teardown(() => s.close());
  const journals = () => readdirSync(dir).filter((f) => f.startsWith('journal-')).sort();
  for (let i = 0; i < 10; i++) await s.commit((tx) => tx.setName(ROOT_VID, `n${i}`, 5), 'soon');
  const before = journals();
  t.is(before.length, 1);
  t.true(readRecords(readFileSync(join(dir, before[0]!))).length >= 10);
  await s.flushed();
  const after = journals();
  t.is(after.length, 1);
  t.not(after[0], before[0], 'a new generation, the old one deleted');
  t.is(readFileSync(join(dir, after[0]!)).length, 0);
  t.is(s.lookupName(ROOT_VID, 'n9'), 5);
});
