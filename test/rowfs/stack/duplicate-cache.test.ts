// The duplicate request cache: a call is found again only by all of its parts, the oldest entry
// goes first when full, a call stored again keeps its place with the new reply; checked against a model.
import test from 'ava';
import { DuplicateCache, duplicateKey, type DuplicateKeyParts } from '../../../rowfs/rpc/duplicate-cache.js';

const reply = (n: number) => Promise.resolve(new Uint8Array([n]));
const parts = (o: Partial<DuplicateKeyParts> = {}): DuplicateKeyParts => ({ remoteAddress: '10.0.0.1', xid: 7, prog: 100003, vers: 3, proc: 12, args: new Uint8Array([1, 2, 3]), ...o });

test('a call is found by all its parts and by nothing less', async (t) => {
  const c = new DuplicateCache(8);
  const r = reply(1);
  c.store(duplicateKey(parts()), r);
  t.is(c.lookup(duplicateKey(parts())), r);
  t.is(c.lookup(duplicateKey(parts({ args: new Uint8Array([1, 2, 3]) }))), r, 'equal arguments, another buffer');
  for (const other of [{ remoteAddress: '10.0.0.2' }, { xid: 8 }, { prog: 100005 }, { vers: 4 }, { proc: 13 }, { args: new Uint8Array([1, 2, 4]) }, { args: new Uint8Array([1, 2, 3, 0]) }]) {
    t.is(c.lookup(duplicateKey(parts(other))), undefined, JSON.stringify(other));
  }
  t.is(c.hits, 2);
});

test('calls of different clients with one xid are kept apart; the oldest goes first when full', (t) => {
  const c = new DuplicateCache(3);
  const a = reply(1);
  const b = reply(2);
  const d = reply(3);
  c.store(duplicateKey(parts({ remoteAddress: 'A' })), a);
  c.store(duplicateKey(parts({ remoteAddress: 'B' })), b);
  c.store(duplicateKey(parts({ remoteAddress: 'D', xid: 9 })), d);
  t.is(c.lookup(duplicateKey(parts({ remoteAddress: 'A' }))), a);
  t.is(c.lookup(duplicateKey(parts({ remoteAddress: 'B' }))), b);
  c.store(duplicateKey(parts({ remoteAddress: 'E' })), reply(4));
  t.is(c.lookup(duplicateKey(parts({ remoteAddress: 'A' }))), undefined, 'the oldest entry was evicted');
  t.is(c.lookup(duplicateKey(parts({ remoteAddress: 'B' }))), b, 'the older entry of the same xid stays');
  t.is(c.size, 3);
});

test('storing a call again replaces its reply in its place; no entries when the size is 0', (t) => {
  const c = new DuplicateCache(2);
  c.store(duplicateKey(parts()), reply(1));
  const again = reply(2);
  c.store(duplicateKey(parts()), again);
  t.is(c.size, 1);
  t.is(c.lookup(duplicateKey(parts())), again);
  const off = new DuplicateCache(0);
  off.store(duplicateKey(parts()), reply(1));
  t.is(off.lookup(duplicateKey(parts())), undefined);
  t.is(off.size, 0);
});

test('random stores and lookups agree with a model (a list, oldest first)', (t) => {
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const cap = 16;
  const c = new DuplicateCache(cap);
  const model: { id: string; reply: Promise<Uint8Array> }[] = [];
  const randomParts = () => parts({ remoteAddress: `c${rand(3)}`, xid: rand(12), proc: rand(2), args: new Uint8Array([rand(2)]) });
  const id = (p: DuplicateKeyParts) => `${p.remoteAddress}|${p.xid}|${p.proc}|${p.args[0]}`;
  for (let i = 0; i < 5000; i++) {
    const p = randomParts();
    if (rand(2) === 0) {
      const r = reply(i & 0xff);
      c.store(duplicateKey(p), r);
      const same = model.find((m) => m.id === id(p));
      if (same) same.reply = r;
      else model.push({ id: id(p), reply: r });
      if (model.length > cap) model.shift();
    } else {
      const want = model.find((m) => m.id === id(p))?.reply;
      if (c.lookup(duplicateKey(p)) !== want) return t.fail(`step ${i}: lookup of ${id(p)} disagrees with the model`);
    }
    if (c.size !== model.length) return t.fail(`step ${i}: ${c.size} entries, the model ${model.length}`);
  }
  t.pass();
});
