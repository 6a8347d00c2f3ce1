import test from 'ava';
import fc from 'fast-check';
import { checkAppName, checkVersion, compareVersions, registryKeys } from '../../../rowfs/image/names.js';
import { ImageError } from '../../../rowfs/image/errors.js';
import { leaseKey } from '../../../dhcp/vip/lease-record.js';
import { versionArb } from './arbitraries.js';

test('app names: lowercase letters, digits, . _ -, starting with a letter or digit, 1..64 bytes', (t) => {
  for (const ok of ['a', '0', 'debian-12', 'my_app.v2', 'x'.repeat(64)]) t.is(checkAppName(ok), ok);
  for (const bad of ['', 'A', 'Debian', '-a', '.a', '_a', 'a/b', 'a b', 'x'.repeat(65), 'é', 'a\0', 'a+b']) {
    const err = t.throws(() => checkAppName(bad), { instanceOf: ImageError }, bad);
    t.is(err?.code, 'BAD_NAME');
    t.false(err!.message.includes('\n'));
  }
});

test('versions: letters, digits, . _ + -, starting with a letter or digit, 1..64 bytes', (t) => {
  for (const ok of ['1', 'v1.2', '1.2.3-rc.1+build.5', 'RC_2', 'x'.repeat(64)]) t.is(checkVersion(ok), ok);
  for (const bad of ['', '-1', '+1', '.1', '1/2', '1 2', 'x'.repeat(65), '1\n', '１']) {
    t.is(t.throws(() => checkVersion(bad), { instanceOf: ImageError }, bad)?.code, 'BAD_NAME');
  }
});

test('a bad name message is one short line even for a hostile string', (t) => {
  const err = t.throws(() => checkAppName(`${'z'.repeat(5000)}\nsecond line`), { instanceOf: ImageError });
  t.true(err!.message.length < 200);
  t.false(err!.message.includes('\n'));
});

test('versions compare numerically, pre-releases before their release', (t) => {
  const ordered = ['0.9', '1', '1.2-alpha', '1.2-rc', '1.2-rc.1', '1.2-rc.2', '1.2-rc.10', '1.2', '1.2+build', '1.2.1', '1.9', '1.10', '1.10a', '2', '10', 'v1'];
  for (let i = 0; i < ordered.length; i++) {
    for (let j = 0; j < ordered.length; j++) {
      t.is(Math.sign(compareVersions(ordered[i]!, ordered[j]!)), Math.sign(i - j), `${ordered[i]} vs ${ordered[j]}`);
    }
  }
  // Equal as numbers, different as strings: still a strict order.
  t.not(compareVersions('1.01', '1.1'), 0);
  t.is(Math.sign(compareVersions('1.01', '1.1')), -Math.sign(compareVersions('1.1', '1.01')));
});

test('compareVersions is a total order (antisymmetric, transitive, 0 only for equal strings)', (t) => {
  fc.assert(
    fc.property(versionArb, versionArb, versionArb, (a, b, c) => {
      const ab = Math.sign(compareVersions(a, b));
      if (ab !== -Math.sign(compareVersions(b, a))) return false;
      if ((ab === 0) !== (a === b)) return false;
      const sorted = [a, b, c].sort(compareVersions);
      return compareVersions(sorted[0]!, sorted[2]!) <= 0 && compareVersions(sorted[0]!, sorted[1]!) <= 0 && compareVersions(sorted[1]!, sorted[2]!) <= 0;
    }),
    { numRuns: 5000 },
  );
  // Transitivity over structured versions, where the token rules matter most.
  const structured = fc.array(fc.constantFrom('1', '2', '10', '01', '.', '-', '+', 'rc', 'a'), { minLength: 1, maxLength: 6 }).map((p) => `1${p.join('')}`);
  fc.assert(
    fc.property(structured, structured, structured, (a, b, c) => {
      if (compareVersions(a, b) < 0 && compareVersions(b, c) < 0) return compareVersions(a, c) < 0;
      return true;
    }),
    { numRuns: 5000 },
  );
  t.pass();
});

test('registry keys are namespaced under image/ and check their names', (t) => {
  const text = (k: Uint8Array) => Buffer.from(k).toString();
  t.is(text(registryKeys.claim('app')), 'image/claim/app');
  t.is(text(registryKeys.versions('app')), 'image/versions/app');
  t.is(text(registryKeys.servers('app', '1.0')), 'image/servers/app/1.0');
  t.is(text(registryKeys.sharers('app', '1.0')), 'image/sharers/app/1.0');
  t.false(text(leaseKey('image', '10.0.0.1')).startsWith('image/'));
  // No two tables can share a key: the table name is a fixed component and names hold no '/'.
  t.not(text(registryKeys.servers('a', 'b')), text(registryKeys.sharers('a', 'b')));
  t.is(t.throws(() => registryKeys.servers('app', '../x'), { instanceOf: ImageError })?.code, 'BAD_NAME');
  t.is(t.throws(() => registryKeys.claim('App'), { instanceOf: ImageError })?.code, 'BAD_NAME');
});
