// Node names: validation, the default from a host name, and name records from the DHT, which count
// only when signed by the key of the node they name (a member names itself, nobody else).
import test from 'ava';
import fc from 'fast-check';
import { Identity } from '../../overlay/identity.js';
import { decodeNameRecord, encodeName, nameFromHostname, NodeNameError, validateNodeName } from '../../src/names/node-name.js';

test('names: a DNS label alphabet, 1-32 characters', (t) => {
  for (const ok of ['a', 'alpha', 'db-2', 'A'.repeat(32)]) t.is(validateNodeName(ok), ok);
  for (const bad of ['', '-a', 'a-', 'a b', 'a.b', 'ä', 'A'.repeat(33)]) t.throws(() => validateNodeName(bad), { instanceOf: NodeNameError }, bad);
  t.is(nameFromHostname('build-07.lab.example.org'), 'build-07');
  t.is(nameFromHostname('x'.repeat(40)), 'x'.repeat(32));
  t.is(nameFromHostname('_.'), undefined);
});

test('a name record counts only when its owner is the node it names', (t) => {
  const me = Identity.generate();
  const other = Identity.generate();
  const value = encodeName('alpha');
  t.is(decodeNameRecord(me.address, { value, owner: me.publicKey }), 'alpha');
  t.is(decodeNameRecord(me.address, { value, owner: other.publicKey }), undefined, 'someone else naming me');
  t.is(decodeNameRecord(me.address, { value: new TextEncoder().encode('not a name!'), owner: me.publicKey }), undefined);
  t.is(decodeNameRecord(me.address, { value: new Uint8Array([0xff, 0xfe]), owner: me.publicKey }), undefined);
});

test('decoding random records returns a valid name or undefined, never throws', (t) => {
  const me = Identity.generate();
  t.notThrows(() =>
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (value, mine) => {
        const name = decodeNameRecord(me.address, { value, owner: mine ? me.publicKey : new Uint8Array(32) });
        return name === undefined || validateNodeName(name) === name;
      }),
      { numRuns: 2000 },
    ),
  );
});
