// The change journal's binary record payload: every change round-trips; damaged or random bytes
// give JournalCodecError and nothing else; a journal file of JSON records (left by a version before
// the binary form) is still replayed by a store open.
import test from 'ava';
import fc from 'fast-check';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { decodeJournalChanges, encodeJournalChanges, JournalCodecError, journalPayloadBytes, type JournalChange } from '../../../rowfs/state/journal-codec.js';
import { readRecords } from '../../../rowfs/state/change-journal.js';
import { ROOT_VID, StateStore } from '../../../rowfs/state/store.js';

const int = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constant(2 ** 32), fc.constant(Number.MAX_SAFE_INTEGER), fc.nat());
const name = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'grapheme', maxLength: 10 }), fc.constant(''));
const handle = fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: 64 }));
const change: fc.Arbitrary<JournalChange> = fc.oneof(
  fc.record({ op: fc.constant('node' as const), vid: int, type: fc.integer({ min: 1, max: 7 }), parent: int, name, main: handle, shadow: handle, mainBlocks: int }),
  fc.record({ op: fc.constant('rmnode' as const), vid: int }),
  fc.record({ op: fc.constant('name' as const), parent: int, name, vid: int }),
  fc.record({ op: fc.constantFrom('rmname' as const, 'whiteout' as const, 'rmwhiteout' as const), parent: int, name }),
  fc.record({ op: fc.constant('bitmap' as const), vid: int, bytes: fc.uint8Array({ maxLength: 300 }) }),
  fc.record({ op: fc.constant('mainIndex' as const), key: fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), maxLength: 128 }), vid: int }),
);

function encoded(changes: JournalChange[], at = 0): Buffer {
  const n = journalPayloadBytes(changes);
  const buf = Buffer.alloc(at + n + 3, 0xee);
  const end = encodeJournalChanges(buf, at, changes);
  if (end !== at + n) throw new Error(`encoded ${end - at} bytes, said ${n}`);
  return buf;
}

const plain = (c: JournalChange) => JSON.parse(JSON.stringify(c, (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v))) as unknown;

test('every commit round-trips at any offset, with the length journalPayloadBytes gives', (t) => {
  fc.assert(
    fc.property(fc.array(change, { maxLength: 8 }), fc.nat({ max: 9 }), (changes, at) => {
      const buf = encoded(changes, at);
      const back = decodeJournalChanges(buf, at, at + journalPayloadBytes(changes));
      t.deepEqual(back.map(plain), changes.map(plain));
    }),
  );
});

test('a name UTF-8 cannot carry exactly is refused, not changed', (t) => {
  const e = t.throws(() => journalPayloadBytes([{ op: 'rmname', parent: 1, name: 'a\uD800b' }]), { instanceOf: JournalCodecError });
  t.is(e?.code, 'UNENCODABLE');
  t.notThrows(() => journalPayloadBytes([{ op: 'rmname', parent: 1, name: 'a\uD83D\uDE00b' }]), 'a surrogate pair is fine');
});

test('cut, flipped or random payloads give JournalCodecError or changes (a cut one a prefix), never another error', (t) => {
  fc.assert(
    fc.property(fc.array(change, { minLength: 1, maxLength: 4 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (changes, pos, flip) => {
      const n = journalPayloadBytes(changes);
      const buf = encoded(changes);
      const cut = pos % n;
      try {
        // Cut at a change's end: the changes before it, and no more.
        const prefix = decodeJournalChanges(buf, 0, cut);
        t.true(prefix.length < changes.length);
        t.deepEqual(prefix.map(plain), changes.slice(0, prefix.length).map(plain));
      } catch (err) {
        t.is((err as JournalCodecError).code, 'TRUNCATED');
      }
      buf[pos % n]! ^= flip;
      try {
        decodeJournalChanges(buf, 0, n);
      } catch (err) {
        t.true(err instanceof JournalCodecError, String(err));
      }
    }),
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const buf = Buffer.from(bytes);
      try {
        decodeJournalChanges(buf, 0, buf.length);
      } catch (err) {
        t.true(err instanceof JournalCodecError, String(err));
      }
    }),
  );
});

test('a journal file of JSON records (written before the binary form) is replayed by the next open', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rowfs-journal-json-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // An empty state first, so the journal is the only place these changes are.
  const s0 = await StateStore.open(dir);
  await s0.close();
  const shadow = Buffer.from('shadow-handle-bytes');
  const commits = [
    [
      { op: 'node', vid: 9, type: 1, parent: ROOT_VID, name: 'old', main: null, shadow: shadow.toString('base64'), mainBlocks: 0 },
      { op: 'name', parent: ROOT_VID, name: 'old', vid: 9 },
    ],
    [{ op: 'whiteout', parent: ROOT_VID, name: 'gone' }],
  ];
  const records = commits.map((c) => {
    const payload = Buffer.from(JSON.stringify(c));
    const head = Buffer.alloc(8);
    head.writeUInt32BE(payload.length, 0);
    head.writeUInt32BE(crc32(payload), 4);
    return Buffer.concat([head, payload]);
  });
  const gens = readdirSync(dir)
    .map((f) => /^journal-(\d+)\.log$/.exec(f)?.[1])
    .filter((g) => g !== undefined)
    .map(Number);
  const file = join(dir, `journal-${Math.max(0, ...gens) + 1}.log`);
  writeFileSync(file, Buffer.concat(records));
  t.is(readRecords(Buffer.concat(records)).length, 2);
  const s = await StateStore.open(dir);
  t.teardown(() => s.close());
  t.is(s.lookupName(ROOT_VID, 'old'), 9);
  t.deepEqual(Buffer.from(s.getNode(9)!.shadow!), shadow);
  t.true(s.isWhiteout(ROOT_VID, 'gone'));
});
