// entryPath and pathUnder give what path.join gives for the paths the server builds: a normalized
// directory (the export's root, /proc/PID/fd/N, "/") and single checked components.
import test from 'ava';
import fc from 'fast-check';
import { join } from 'node:path';
import { entryPath, pathUnder } from '../../../rowfs/server/entry-path.js';
import { checkName } from '../../../rowfs/server/export-tree.js';

// Components checkName accepts: no "/" or NUL, not "." or ".." (dots, spaces and UTF-8 included).
const component = fc
  .string({ unit: fc.constantFrom('a', 'Z', '.', '-', ' ', '\\\\', 'é', '文', '~'), minLength: 1, maxLength: 12 })
  .filter((s) => checkName(s) === undefined);
const normalizedDir = fc.oneof(
  fc.constant('/'),
  fc.array(component, { minLength: 1, maxLength: 4 }).map((parts) => join('/', ...parts)),
  fc.nat(9999).map((n) => `/proc/${n}/fd/${n % 97}`),
);

test('entryPath is join for a normalized directory and one checked component', (t) => {
  fc.assert(fc.property(normalizedDir, component, (dir, name) => entryPath(dir, name) === join(dir, name)));
  t.is(entryPath('/', 'a'), '/a');
  t.is(entryPath('/proc/12/fd/5', '..a'), '/proc/12/fd/5/..a');
});

test('pathUnder is join of the root and each component, the root itself for none', (t) => {
  fc.assert(fc.property(normalizedDir, fc.array(component, { maxLength: 6 }), (root, names) => pathUnder(root, names) === join(root, ...names)));
  t.is(pathUnder('/srv/x', []), '/srv/x');
  t.is(pathUnder('/', ['a', 'b']), '/a/b');
});
