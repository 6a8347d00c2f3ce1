#!/usr/bin/env node
// Entry point: the compiled CLI lives in dist/ (built by `npm run build` or scripts/setup.sh).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const cli = fileURLToPath(new URL('../dist/src/cli.js', import.meta.url));
if (!existsSync(cli)) {
  console.error('overlay: not built yet; run `npm run build` (or `bash scripts/setup.sh`) first');
  process.exit(1);
}
const { main } = await import(cli);
process.exitCode = await main(process.argv.slice(2));
