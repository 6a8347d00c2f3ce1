#!/usr/bin/env -S node --no-parallel-scavenge
// Entry point: the compiled CLI lives in dist/ (built by `npm run build` or scripts/setup.sh).
// --no-parallel-scavenge: V8 otherwise scavenges with helper threads that the main thread joins; on
// a host whose cores are busy (VMs booted from our proxy, the overlay's peers) a helper waiting for a
// core stalls every call in flight. Marking stays concurrent (--single-threaded-gc, which stops that
// too, grew the heap by ~2 MB). Measured in docs/rowfs.md ("Creates and removes: system calls").
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const cli = fileURLToPath(new URL('../dist/src/cli.js', import.meta.url));
if (!existsSync(cli)) {
  console.error('overlay: not built yet; run `npm run build` (or `bash scripts/setup.sh`) first');
  process.exit(1);
}
const { main } = await import(cli);
process.exitCode = await main(process.argv.slice(2));
