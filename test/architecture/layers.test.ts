// The layering the folders promise: each top-level folder imports only folders below it
// (lib < overlay < dhcp | rowfs < src < simulations < bench), and nothing outside test/ imports test/.
// Reads the TypeScript sources, so a wrong-way import fails here before review.
import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const RANK: Record<string, number> = { lib: 0, overlay: 1, dhcp: 2, rowfs: 2, src: 3, simulations: 4, bench: 5, test: 9 };
const IMPORT = /(?:from|import\()\s*['"](\.[^'"]+)['"]/g;

function sourcesUnder(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sourcesUnder(path, out);
    else if (/\.(ts|mts)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const topFolder = (path: string) => relative(ROOT, path).split(sep)[0]!;

/** Every import from `file` that runs sideways, upward, into test/, or into a folder with no rank. */
function wrongWayImports(file: string, text = readFileSync(file, 'utf8')): string[] {
  const from = topFolder(file);
  const bad: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const to = topFolder(resolve(dirname(file), m[1]!));
    if (to === from) continue;
    const ok = RANK[to] !== undefined && (from === 'test' || (to !== 'test' && RANK[to]! < RANK[from]!));
    if (!ok) bad.push(`${relative(ROOT, file)} -> ${to}/ (${m[1]})`);
  }
  return bad;
}

test('imports run downward only between the top-level folders', (t) => {
  const files = Object.keys(RANK).flatMap((folder) => sourcesUnder(join(ROOT, folder)));
  t.true(files.length > 100, `found only ${files.length} source files under ${ROOT}`);
  t.deepEqual(files.flatMap((f) => wrongWayImports(f)), []);
});

test('the rule itself: sideways, upward and into test/ are caught; downward and from test/ pass', (t) => {
  const at = (folder: string) => join(ROOT, folder, 'x', 'probe.ts');
  const imp = (path: string) => `import { x } from '${path}';\nconst y = await import('${path}');`;
  t.is(wrongWayImports(at('dhcp'), imp('../../rowfs/xdr/reader.js')).length, 2);
  t.is(wrongWayImports(at('lib'), imp('../../overlay/api.js')).length, 2);
  t.is(wrongWayImports(at('src'), imp('../../test/helpers.js')).length, 2);
  t.is(wrongWayImports(at('overlay'), imp('../../docs/x.js')).length, 2);
  t.deepEqual(wrongWayImports(at('bench'), imp('../../src/node.js')), []);
  t.deepEqual(wrongWayImports(at('rowfs'), imp('../../lib/clock.js')), []);
  t.deepEqual(wrongWayImports(at('test'), imp('../../bench/rowfs.js')), []);
  t.deepEqual(wrongWayImports(at('src'), imp('./sibling.js')), []);
});
