// Every wrong-secret join is counted by the founder (issue 11): real `overlay up` processes on
// loopback, a founder with a generated secret whose JS thread is kept busy (as on a loaded machine,
// where the joiner verifies first, refuses and exits while its AUTH waits in the founder's queues),
// and joiners with a wrong --secret and with their own generated secret (STATE/secret, no --secret).
// Each joiner must exit 1 "refused", and the founder must count one refused_bad_secret per joiner.
import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProc, type Proc } from '../../simulations/harness/proc.js';
import { BIN, cli } from './cli-process.js';

/** Spins the JS thread 150 of every 200 ms; libdatachannel's threads run on. */
const BUSY_JS = `data:text/javascript,setInterval(()=>{const e=Date.now()+150;while(Date.now()<e);},200).unref()`;
const COMMON = ['up', '--no-vnet', '--network', 'wrongsecret', '--bind-address', '127.0.0.1', '--dial-timeout', '10'];

test('a busy founder counts refused_bad_secret for each wrong-secret joiner, --secret or its own generated one', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'wrong-secret-'));
  const procs: Proc[] = [];
  t.teardown(async () => {
    await Promise.all(procs.map((p) => p.kill(3000)));
    rmSync(root, { recursive: true, force: true });
  });
  const founder = startProc(process.execPath, ['--import', BUSY_JS, BIN, ...COMMON, '--state', join(root, 'f'), '--listen', '0', '--listen-host', '127.0.0.1']);
  procs.push(founder);
  const [, port] = await founder.waitFor(/bootstrap endpoint listening on 127\.0\.0\.1:(\d+)/, 20_000);
  const url = `ws://127.0.0.1:${port}`;
  const wrong = join(root, 'wrong');
  writeFileSync(wrong, 'this is not the network secret\n');

  const joins: Array<{ what: string; args: string[] }> = [
    { what: 'wrong --secret', args: ['--secret', wrong] },
    { what: 'own generated secret', args: [] },
    { what: 'wrong --secret', args: ['--secret', wrong] },
    { what: 'own generated secret', args: [] },
  ];
  for (const [i, j] of joins.entries()) {
    const state = join(root, `j${i}`);
    if (j.args.length === 0) {
      mkdirSync(state, { mode: 0o700 });
      writeFileSync(join(state, 'secret'), `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    }
    const r = await cli([...COMMON, '--state', state, '--bootstrap', url, ...j.args], 60_000);
    t.is(r.code, 1, `${j.what}: ${r.stdout}${r.stderr}`);
    t.regex(r.stderr, /refused by ws:\/\/127\.0\.0\.1:\d+: link handshake failed: (network secret mismatch|refused by peer: BadSecret)/, j.what);
  }
  const s = await cli(['status', '--json', '--state', join(root, 'f')]);
  t.is(s.code, 0, s.stderr);
  const c = (JSON.parse(s.stdout) as { connector: Record<string, number> }).connector;
  t.is(c.refused_bad_secret, joins.length, JSON.stringify(c));
  t.is(c.incoming_ok, 0);
});
