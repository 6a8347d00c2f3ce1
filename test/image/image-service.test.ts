// `overlay image` for real, as users run it: `overlay up` nodes in network namespaces (a public
// founder; the publisher and a replica behind endpoint-independent NATs; the client behind a
// symmetric NAT), the image commands talking to their node through its control socket, libnfs
// reading through the mount. Steps share one topology and run in order:
//   publish v1, serve a replica, ls shows both; mount and read (checksums), write lands in the
//   shadow only; SIGKILL the serving node mid-read (200 MB): the read completes from the replica;
//   the same with the serving node leaving cleanly; a tampered replica is caught; a non-owner
//   cannot publish and its records are ignored; v2: new mounts take it, the v1 mount goes on and
//   says so, gc keeps v1 while shared and withdraws it after; a stopped server's record expires.
import anyTest, { type TestFn } from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NetnsTopology, PUBLIC_IP } from '../../simulations/netns/topology.js';
import { startCoturn } from '../../simulations/netns/coturn.js';
import type { Proc } from '../helpers/proc.js';
import { controlRequest } from '../../src/control/client.js';
import { encodeVersionsRecord } from '../../rowfs/image/records.js';
import { registryKeys } from '../../rowfs/image/names.js';

const BIN = fileURLToPath(new URL('../../../bin/overlay.js', import.meta.url));
const NETWORK = 'imgnet';
const SUBNET = '10.140.0.0/16';
const BOOT_PORT = 7000;
const TTL_S = 6;
const BIG_BYTES = 200 * 1024 * 1024;
const MID_BYTES = 48 * 1024 * 1024;

const PUBLISHER = 0;
const REPLICA = 1;
const CLIENT = 2;

interface Ctx {
  root: string;
  topo: NetnsTopology;
  procs: Proc[];
  nodes: Map<number, { up: Proc; state: string; vip: string; ring: string }>;
  ice: string[];
}

const test = anyTest as TestFn<Ctx>;

/** Deterministic content: the same seed gives the same bytes in every tree. */
function fill(path: string, bytes: number, seed: number): void {
  const block = createHash('sha256').update(String(seed)).digest();
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < chunk.length; i += 32) block.copy(chunk, i, 0, Math.min(32, chunk.length - i));
  const fd = openSync(path, 'w');
  for (let at = 0; at < bytes; at += chunk.length) {
    chunk.writeUInt32BE(at >>> 20, 0); // every MiB differs
    writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - at));
  }
  closeSync(fd);
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

function spawnCli(t: Ctx, i: number | 'public', args: string[]): Proc {
  const p = i === 'public' ? t.topo.spawnPublic(process.execPath, [BIN, ...args]) : t.topo.spawn(i, process.execPath, [BIN, ...args]);
  t.procs.push(p);
  return p;
}

/** A command that must succeed: its stdout. */
async function cli(t: Ctx, i: number, args: string[], timeoutMs = 60_000): Promise<{ stdout: string }> {
  return t.topo.exec(i, process.execPath, [BIN, ...args], timeoutMs);
}

/** A command run to its end: exit code and everything it printed. */
async function cliCode(t: Ctx, i: number, args: string[], timeoutMs = 60_000): Promise<{ code: number | null; output: string }> {
  const p = spawnCli(t, i, args);
  const timer = setTimeout(() => void p.kill(1000), timeoutMs);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, output: p.output() };
}

async function upNode(t: Ctx, i: number, extra: string[] = []): Promise<{ up: Proc; state: string; vip: string; ring: string }> {
  const state = join(t.root, `node${i}`);
  const up = spawnCli(t, i, ['up', '--network', NETWORK, '--state', state, '--secret', join(t.root, 'secret'), '--bind-address', t.topo.node(i).lanIp, '--subnet', SUBNET, '--mtu', '1400', '--bootstrap', `ws://${PUBLIC_IP}:${BOOT_PORT}`, ...t.ice.flatMap((u) => ['--ice', u]), ...extra]);
  const ring = (await up.waitFor(/node ([0-9a-f]{40})/, 30_000))[1]!;
  const vip = (await up.waitFor(/virtual IP (\d+\.\d+\.\d+\.\d+) on TUN/, 60_000))[1]!;
  const n = { up, state, vip, ring };
  t.nodes.set(i, n);
  return n;
}

async function lsJson(t: Ctx, i: number, app: string): Promise<{ apps: Array<{ latest: string; ignoredRecords: number; versions: Array<{ version: string; sharers: number; servers: Array<{ vip: string; path: string }> }> }> }> {
  const r = await cli(t, i, ['image', 'ls', app, '--json', '--state', t.nodes.get(i)!.state]);
  return JSON.parse(r.stdout);
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const nfsUrl = (port: number, app: string, version: string, file: string) => `nfs://127.0.0.1/images/${app}/${version}/${file}?version=3&nfsport=${port}&mountport=${port}`;

/** nfs-cat of a file through a mount on the client node, hashed as it streams. */
function nfsCatSha(t: Ctx, port: number, app: string, version: string, file: string): Promise<string> {
  return t.topo.exec(CLIENT, 'sh', ['-c', `nfs-cat '${nfsUrl(port, app, version, file)}' | sha256sum`], 240_000).then((r) => r.stdout.split(/\s/)[0]!);
}

function counters(store: string): { bytes: { toClient: number }; replicas?: { failovers: number; verifyFailures: number; badServers: string[]; bytesFrom: Record<string, number> } } {
  return JSON.parse(readFileSync(join(store, 'state', 'counters.json'), 'utf8'));
}

test.before(async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'image-service-'));
  t.context = { root, procs: [], nodes: new Map(), ice: [], topo: undefined as unknown as NetnsTopology };
  writeFileSync(join(root, 'secret'), randomBytes(32));
  t.context.topo = await NetnsTopology.create({ nodes: ['eim', 'eim', 'symmetric'], tag: 'img' });
  const turn = await startCoturn(t.context.topo);
  t.context.ice = turn.iceServers;
  // The trees: v1 (with a 200 MB file), an identical replica copy, v2.
  const v1 = join(root, 'v1');
  mkdirSync(join(v1, 'etc'), { recursive: true });
  fill(join(v1, 'big.bin'), BIG_BYTES, 1);
  fill(join(v1, 'mid.bin'), MID_BYTES, 2);
  fill(join(v1, 'etc', 'config'), 12_345, 3);
  writeFileSync(join(v1, 'etc', 'motd'), 'version 1\n');
  cpSync(v1, join(root, 'v1-replica'), { recursive: true });
  cpSync(v1, join(root, 'v1-bad'), { recursive: true });
  mkdirSync(join(root, 'v2', 'etc'), { recursive: true });
  writeFileSync(join(root, 'v2', 'etc', 'motd'), 'version 2\n');
  // The founder: a public member with the bootstrap endpoint.
  const founder = spawnCli(t.context, 'public', ['up', '--network', NETWORK, '--state', join(root, 'founder'), '--secret', join(root, 'secret'), '--bind-address', PUBLIC_IP, '--listen', String(BOOT_PORT), '--listen-host', PUBLIC_IP, '--subnet', SUBNET, '--mtu', '1400', ...turn.iceServers.flatMap((u) => ['--ice', u])]);
  await founder.waitFor(/virtual IP/, 60_000);
  for (const i of [PUBLISHER, REPLICA, CLIENT]) await upNode(t.context, i);
});

test.after.always(async (t) => {
  for (const p of t.context.procs.reverse()) await p.kill(5_000).catch(() => undefined);
  await t.context.topo?.destroy();
  rmSync(t.context.root, { recursive: true, force: true });
});

test.serial('publish v1, serve a replica, ls shows both servers with their paths', async (t) => {
  const c = t.context;
  const pub = spawnCli(c, PUBLISHER, ['image', 'publish', 'app', '1', join(c.root, 'v1'), '--state', c.nodes.get(PUBLISHER)!.state, '--ttl', String(TTL_S)]);
  await pub.waitFor(/published app 1/, 120_000);
  t.regex(pub.output(), /hashing .*done in/, 'hashing progress shown');
  const rep = spawnCli(c, REPLICA, ['image', 'serve', 'app', '1', join(c.root, 'v1-replica'), '--state', c.nodes.get(REPLICA)!.state, '--ttl', String(TTL_S)]);
  await rep.waitFor(/serving app 1/, 120_000);
  const ls = await until('two servers in ls', async () => {
    const l = await lsJson(c, CLIENT, 'app');
    return l.apps[0]!.versions[0]!.servers.length === 2 ? l : undefined;
  }, 30_000);
  t.is(ls.apps[0]!.latest, '1');
  const vips = ls.apps[0]!.versions[0]!.servers.map((s) => s.vip).sort();
  t.deepEqual(vips, [c.nodes.get(PUBLISHER)!.vip, c.nodes.get(REPLICA)!.vip].sort());
  for (const s of ls.apps[0]!.versions[0]!.servers) t.true(['direct', 'relayed', 'routed'].includes(s.path));
  const text = await cli(c, CLIENT, ['image', 'ls', '--state', c.nodes.get(CLIENT)!.state]);
  t.regex(text.stdout, /app\s+latest 1/);
});

test.serial('mount reads the right bytes; a write lands in the shadow and on no server', async (t) => {
  const c = t.context;
  const store = join(c.root, 'mount-a');
  const m = spawnCli(c, CLIENT, ['image', 'mount', 'app', '--listen', '2049', '--host', '127.0.0.1', '--store', store, '--state', c.nodes.get(CLIENT)!.state, '--ttl', String(TTL_S)]);
  const ms = Number((await m.waitFor(/mounted app 1 \(digest [0-9a-f]+\) in (\d+) ms/, 60_000))[1]);
  t.log(`resolve: ${ms} ms`);
  t.is(await nfsCatSha(c, 2049, 'app', '1', 'mid.bin'), sha(join(c.root, 'v1', 'mid.bin')));
  t.is(await nfsCatSha(c, 2049, 'app', '1', 'etc/config'), sha(join(c.root, 'v1', 'etc', 'config')));
  const local = join(c.root, 'upload.txt');
  writeFileSync(local, 'written through the proxy\n');
  await c.topo.exec(CLIENT, 'nfs-cp', [local, nfsUrl(2049, 'app', '1', 'etc/new.txt')]);
  t.is(readFileSync(join(store, 'shadow', 'etc', 'new.txt'), 'utf8'), 'written through the proxy\n');
  for (const d of ['v1', 'v1-replica']) t.false(existsSync(join(c.root, d, 'etc', 'new.txt')), `nothing written to ${d}`);
  const ls = await lsJson(c, CLIENT, 'app');
  t.is(ls.apps[0]!.versions[0]!.sharers, 1, 'the mount is a sharer');
});

test.serial('SIGKILL of the serving node in the middle of a 200 MB read: it completes from the replica', async (t) => {
  const c = t.context;
  const store = join(c.root, 'mount-a');
  const before = counters(store).bytes.toClient;
  const read = nfsCatSha(c, 2049, 'app', '1', 'big.bin');
  await until('60 MB read', async () => (counters(store).bytes.toClient - before > 60e6 ? true : undefined), 120_000);
  const st = JSON.parse((await cli(c, CLIENT, ['status', '--json', '--state', c.nodes.get(CLIENT)!.state])).stdout) as { images: Array<{ role: string; detail: { server: string } }> };
  const serverVip = st.images.find((i) => i.role === 'mount')!.detail.server.split(':')[0];
  const victim = [...c.nodes.entries()].find(([, n]) => n.vip === serverVip)!;
  t.log(`killing node ${victim[0]} (${serverVip})`);
  process.kill(victim[1].up.pid, 'SIGKILL');
  t.is(await read, sha(join(c.root, 'v1', 'big.bin')), 'the read completed with the right bytes');
  const ctr = counters(store);
  t.true(ctr.replicas!.failovers >= 1, JSON.stringify(ctr.replicas));
  // The killed node comes back (same state: same key) for the next steps, with its server.
  await upNode(c, victim[0]);
  const dir = victim[0] === PUBLISHER ? 'v1' : 'v1-replica';
  const again = spawnCli(c, victim[0], ['image', victim[0] === PUBLISHER ? 'publish' : 'serve', 'app', '1', join(c.root, dir), '--state', c.nodes.get(victim[0])!.state, '--ttl', String(TTL_S)]);
  await again.waitFor(/(published|serving) app 1/, 120_000);
});
