// Clients that ask the portmapper: libnfs given no ports finds the embedded server through our
// portmapper on port 111, inside a namespace made by the test (so port 111 is ours alone).
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Netns } from '../../../simulations/harness/netns.js';
import { startProc } from '../../../simulations/harness/proc.js';

const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'serve-with-portmapper.js');

test('libnfs without nfsport/mountport: GETPORT from our portmapper, then MOUNT and NFS', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pmap-export-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'asked.txt'), 'found via portmapper');
  const ns = await Netns.create('pmap');
  t.teardown(() => ns.destroy());
  const [cmd, args] = ns.wrap(process.execPath, [fixture, dir, '/export']);
  const proc = startProc(cmd, args);
  t.teardown(() => proc.kill(2000));
  const m = await proc.waitFor(/READY (\d+) (\d+)/, 15_000);
  t.true(Number(m[1]) > 0);
  const { stdout } = await ns.exec('nfs-cat', ['nfs://127.0.0.1/export/asked.txt?version=3'], 30_000);
  t.is(stdout, 'found via portmapper');
  const ls = await ns.exec('nfs-ls', ['nfs://127.0.0.1/export/?version=3'], 30_000);
  t.regex(ls.stdout, /asked\.txt/);
});

test('rpcinfo (rpcbind package) lists and pings our programs over TCP and UDP', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pmap-rpcinfo-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ns = await Netns.create('rpci');
  t.teardown(() => ns.destroy());
  const [cmd, args] = ns.wrap(process.execPath, [fixture, dir, '/export']);
  const proc = startProc(cmd, args);
  t.teardown(() => proc.kill(2000));
  const m = await proc.waitFor(/READY (\d+) (\d+)/, 15_000);
  const { stdout } = await ns.exec('rpcinfo', ['-p', '127.0.0.1'], 10_000);
  t.regex(stdout, new RegExp(`100003\\s+3\\s+tcp\\s+${m[1]}`));
  t.regex(stdout, new RegExp(`100005\\s+3\\s+tcp\\s+${m[2]}`));
  t.regex(stdout, /100000\s+2\s+udp\s+111/);
  t.regex((await ns.exec('rpcinfo', ['-t', '127.0.0.1', '100003', '3'], 10_000)).stdout, /ready and waiting/);
  t.regex((await ns.exec('rpcinfo', ['-u', '127.0.0.1', '100005', '3'], 10_000)).stdout, /ready and waiting/);
});
