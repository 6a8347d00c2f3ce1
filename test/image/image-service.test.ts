// `overlay image` for real, as users run it: `overlay up` nodes in network namespaces (a public
// founder; the publisher and a replica behind endpoint-independent NATs; the client behind a
// symmetric NAT), the image commands talking to their node through its control socket, libnfs
// reading through the mount. Steps share one network and run in order:
//   publish v1, serve a replica, ls shows both; mount and read (checksums), a write lands in the
//   shadow only; SIGKILL the serving node in the middle of a 200 MB read: it completes from the
//   replica; the same with the serving node leaving cleanly; a tampered replica is caught; a
//   non-owner cannot publish and its records are ignored; v2: new mounts take it, the v1 mount goes
//   on and says so, a second v1 mount on the node keeps v1 shared when the first stops, gc keeps
//   v1 while shared and withdraws it after; a stopped server's record expires.
import anyTest, { type TestFn } from 'ava';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ImageNet, OVERLAY_BIN, imageNfsUrl, mountCounters, waitUntil } from '../../simulations/netns/image-net.js';
import { run, type Proc } from '../../simulations/harness/proc.js';
import { Netns } from '../../simulations/harness/netns.js';
import { startGanesha } from '../../simulations/harness/ganesha.js';
import { controlRequest } from '../../src/control/client.js';
import { encodeVersionsRecord } from '../../rowfs/image/records.js';
import { registryKeys } from '../../rowfs/image/names.js';

const TTL_S = 6;
const BIG_BYTES = 200 * 1024 * 1024;
const MID_BYTES = 48 * 1024 * 1024;
const PUBLISHER = 0;
const REPLICA = 1;
const CLIENT = 2;
const PORT_A = 2049;

interface Ctx {
  net: ImageNet;
  /** Serve processes of v1 by node. Steps share these objects (ava copies the context per test). */
  servers: Map<number, Proc>;
  mounts: Map<string, Proc>;
}
const test = anyTest as TestFn<Ctx>;

/** Deterministic content: the same seed gives the same bytes in every tree. */
function fill(path: string, bytes: number, seed: number): void {
  const chunk = Buffer.alloc(1 << 20);
  const block = createHash('sha256').update(String(seed)).digest();
  for (let i = 0; i < chunk.length; i += 32) block.copy(chunk, i);
  const fd = openSync(path, 'w');
  for (let at = 0; at < bytes; at += chunk.length) {
    chunk.writeUInt32BE(at >>> 20, 0); // every MiB differs
    writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - at));
  }
  closeSync(fd);
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const tree = (t: { context: Ctx }, name: string) => join(t.context.net.root, name);

/** nfs-cat through a mount on the client node, hashed as it streams. */
async function readSha(net: ImageNet, port: number, version: string, file: string): Promise<string> {
  const out = await net.run(CLIENT, 'sh', ['-c', `nfs-cat '${imageNfsUrl('127.0.0.1', port, 'app', version, file)}' | sha256sum`], 300_000);
  return out.split(/\s/)[0]!;
}

async function serve(t: { context: Ctx }, i: number, verb: 'publish' | 'serve', dir: string, version = '1'): Promise<Proc> {
  const p = t.context.net.image(i, [verb, 'app', version, dir, '--ttl', String(TTL_S)]);
  await p.waitFor(new RegExp(`(published|serving) app ${version.replace('.', '\\.')}`), 120_000);
  if (version === '1') t.context.servers.set(i, p);
  return p;
}

test.before(async (t) => {
  const net = await ImageNet.create({ nats: ['eim', 'eim', 'symmetric'] });
  t.context = { net, servers: new Map(), mounts: new Map() };
  const v1 = join(net.root, 'v1');
  mkdirSync(join(v1, 'etc'), { recursive: true });
  fill(join(v1, 'big.bin'), BIG_BYTES, 1);
  fill(join(v1, 'mid.bin'), MID_BYTES, 2);
  fill(join(v1, 'etc', 'config'), 12_345, 3);
  writeFileSync(join(v1, 'etc', 'motd'), 'version 1\n');
  cpSync(v1, join(net.root, 'v1-replica'), { recursive: true });
  cpSync(v1, join(net.root, 'v1-bad'), { recursive: true });
  mkdirSync(join(net.root, 'v2', 'etc'), { recursive: true });
  writeFileSync(join(net.root, 'v2', 'etc', 'motd'), 'version 2\n');
  for (const i of [PUBLISHER, REPLICA, CLIENT]) await net.up(i);
});

test.after.always(async (t) => {
  await t.context.net?.destroy();
});

test.serial('publish v1 (with progress), serve a replica, ls from behind a symmetric NAT shows both', async (t) => {
  const { net } = t.context;
  const pub = await serve(t, PUBLISHER, 'publish', tree(t, 'v1'));
  t.regex(pub.output(), /hashing .* files, .* MB .*done in/, 'hashing progress shown');
  await serve(t, REPLICA, 'serve', tree(t, 'v1-replica'));
  const ls = await waitUntil('two servers in ls', async () => {
    const l = await net.ls(CLIENT, 'app');
    return l.apps[0]!.versions[0]!.servers.length === 2 ? l : undefined;
  }, 30_000);
  t.is(ls.apps[0]!.latest, '1');
  t.deepEqual(ls.apps[0]!.versions[0]!.servers.map((s) => s.vip).sort(), [net.node(PUBLISHER).vip, net.node(REPLICA).vip].sort());
  for (const s of ls.apps[0]!.versions[0]!.servers) t.true(['direct', 'relayed', 'routed'].includes(s.path), s.path);
  const text = await net.cli(CLIENT, ['image', 'ls']);
  t.is(text.code, 0, text.output);
  t.regex(text.output, /app\s+latest 1/);
});

test.serial('mount reads the right bytes; a write lands in the shadow and on no server', async (t) => {
  const { net } = t.context;
  const store = tree(t, 'mount-a');
  const m = net.image(CLIENT, ['mount', 'app', '--listen', String(PORT_A), '--host', '127.0.0.1', '--store', store, '--ttl', String(TTL_S)]);
  t.context.mounts.set('a', m);
  const ms = Number((await m.waitFor(/mounted app 1 \(digest [0-9a-f]+\) in (\d+) ms/, 60_000))[1]);
  t.log(`mount resolved and serving in ${ms} ms`);
  t.is(await readSha(net, PORT_A, '1', 'mid.bin'), sha(join(tree(t, 'v1'), 'mid.bin')));
  t.is(await readSha(net, PORT_A, '1', 'etc/config'), sha(join(tree(t, 'v1'), 'etc', 'config')));
  const local = join(net.root, 'upload.txt');
  writeFileSync(local, 'written through the proxy\n');
  await net.run(CLIENT, 'nfs-cp', [local, imageNfsUrl('127.0.0.1', PORT_A, 'app', '1', 'etc/new.txt')]);
  t.is(readFileSync(join(store, 'shadow', 'etc', 'new.txt'), 'utf8'), 'written through the proxy\n');
  for (const d of ['v1', 'v1-replica']) t.false(existsSync(join(tree(t, d), 'etc', 'new.txt')), `nothing written to ${d}`);
  const ls = await waitUntil('sharer count 1', async () => ((await net.ls(CLIENT, 'app')).apps[0]!.versions[0]!.sharers === 1 ? true : undefined), 20_000);
  t.true(ls);
});

/** Reads big.bin (or `file`) through mount A and takes the serving node away once 60 MB arrived. */
async function readThroughLoss(t: { context: Ctx; log: (s: string) => void }, file: string, loss: (node: number) => Promise<void>): Promise<{ got: string; victim: number }> {
  const { net } = t.context;
  const store = tree(t, 'mount-a');
  const before = mountCounters(store).bytes.toClient;
  const read = readSha(net, PORT_A, '1', file);
  await waitUntil('60 MB read', async () => (mountCounters(store).bytes.toClient - before > 60e6 ? true : undefined), 180_000);
  const mount = (await net.status(CLIENT)).images.find((i) => i.role === 'mount')!;
  const serverVip = String(mount.detail.server).split(':')[0];
  const victim = [...net.nodes.entries()].find(([, n]) => n.vip === serverVip)![0];
  t.log(`taking node ${victim} (${serverVip}) away mid-read`);
  await loss(victim);
  return { got: await read, victim };
}

/** Brings a node (and its server of v1) back after it was taken away. */
async function restore(t: { context: Ctx }, i: number): Promise<void> {
  await t.context.servers.get(i)?.kill(5_000);
  await t.context.net.up(i);
  await serve(t, i, i === PUBLISHER ? 'publish' : 'serve', tree(t, i === PUBLISHER ? 'v1' : 'v1-replica'));
  await waitUntil('two servers again', async () => ((await t.context.net.ls(CLIENT, 'app')).apps[0]!.versions[0]!.servers.length === 2 ? true : undefined), 30_000);
}

test.serial('SIGKILL of the serving node in the middle of a 200 MB read: it completes, from the replica', async (t) => {
  const failoversBefore = mountCounters(tree(t, 'mount-a')).replicas?.failovers ?? 0;
  const { got, victim } = await readThroughLoss(t, 'big.bin', async (i) => {
    process.kill(t.context.net.node(i).up.pid, 'SIGKILL');
  });
  t.is(got, sha(join(tree(t, 'v1'), 'big.bin')), 'the read completed with the right bytes');
  t.true(mountCounters(tree(t, 'mount-a')).replicas!.failovers > failoversBefore);
  await restore(t, victim);
});

test.serial('the serving node leaving cleanly (overlay down) in the middle of a read: it completes', async (t) => {
  // Mount A has big.bin cached by now: a second mount with its own (cold) store reads it again.
  const { net } = t.context;
  const store = tree(t, 'mount-b');
  const m = net.image(CLIENT, ['mount', 'app', '--listen', '2050', '--host', '127.0.0.1', '--store', store, '--ttl', String(TTL_S)]);
  await m.waitFor(/mounted app 1/, 60_000);
  const before = mountCounters(store).bytes.toClient;
  const read = readSha(net, 2050, '1', 'big.bin');
  await waitUntil('60 MB read', async () => (mountCounters(store).bytes.toClient - before > 60e6 ? true : undefined), 180_000);
  const server = String((await net.status(CLIENT)).images.find((i) => i.role === 'mount' && i.detail.store === join(store, 'state'))?.detail.server ?? '');
  const victim = [...net.nodes.entries()].find(([, n]) => n.vip === server.split(':')[0])![0];
  t.log(`node ${victim} leaves (overlay down)`);
  const down = await net.cli(victim, ['down']);
  t.is(down.code, 0, down.output);
  t.is(await read, sha(join(tree(t, 'v1'), 'big.bin')));
  t.true(mountCounters(store).replicas!.failovers >= 1);
  await m.kill(10_000);
  await restore(t, victim);
});

test.serial('a replica whose copy differs in one byte: the bad block never reaches the client, the server is reported', async (t) => {
  const { net } = t.context;
  // The client node itself serves a copy (so its mount tries it first), tampered after its check.
  const bad = tree(t, 'v1-bad');
  const badServer = await serve(t, CLIENT, 'serve', bad);
  const fd = openSync(join(bad, 'mid.bin'), 'r+');
  writeSync(fd, Buffer.from([0xff]), 0, 1, 5 * 65536 + 77);
  closeSync(fd);
  const store = tree(t, 'mount-c');
  const m = net.image(CLIENT, ['mount', 'app', '--listen', '2051', '--host', '127.0.0.1', '--store', store, '--ttl', String(TTL_S)]);
  await m.waitFor(/mounted app 1/, 60_000);
  t.is(await readSha(net, 2051, '1', 'mid.bin'), sha(join(tree(t, 'v1'), 'mid.bin')), 'the client got the right bytes');
  const ctr = mountCounters(store);
  t.true(ctr.replicas!.verifyFailures >= 1, JSON.stringify(ctr.replicas));
  t.deepEqual(ctr.replicas!.badServers.map((s) => s.split(':')[0]), [net.node(CLIENT).vip]);
  await m.waitFor(/does not match the manifest/, 5_000);
  const stats = await net.run(CLIENT, process.execPath, [OVERLAY_BIN, 'rowfs', '--stats', '--state', join(store, 'state')]);
  t.regex(stats, /bad servers .*: \S+/);
  await m.kill(10_000);
  await badServer.kill(10_000);
  t.context.servers.delete(CLIENT);
});

test.serial('an existing nfs-ganesha export served with --nfs: checked over NFS, and a mount reads through it', async (t) => {
  const { net } = t.context;
  const dir = tree(t, 'v1-ganesha');
  cpSync(tree(t, 'v1'), dir, { recursive: true });
  const g = await startGanesha({ exportDir: dir, ns: Netns.existing(net.topo.node(REPLICA).ns), nfsPort: 20490, mountPort: 20048, readOnly: true });
  t.teardown(() => g.stop());
  // One server record per node and version: the replica swaps its embedded server for ganesha.
  await t.context.servers.get(REPLICA)!.kill(10_000);
  const s = net.image(REPLICA, ['serve', 'app', '1', '--nfs', `127.0.0.1:${g.exportPath}`, '--nfs-port', '20490', '--nfs-mount-port', '20048', '--ttl', String(TTL_S)]);
  await s.waitFor(/serving app 1 .* from 127\.0\.0\.1:/, 120_000);
  t.regex(s.output(), /hashing 127\.0\.0\.1:.* over NFS/);
  t.context.servers.set(REPLICA, s);
  // With the publisher's server stopped, ganesha is the only one.
  await t.context.servers.get(PUBLISHER)!.kill(10_000);
  const only = await waitUntil('ganesha alone', async () => {
    const servers = (await net.ls(CLIENT, 'app')).apps[0]!.versions[0]!.servers;
    return servers.length === 1 ? servers[0] : undefined;
  }, 30_000);
  t.is(only!.vip, net.node(REPLICA).vip);
  t.is(only!.nfsPort, 20490);
  const store = tree(t, 'mount-g');
  const m = net.image(CLIENT, ['mount', 'app', '--listen', '2054', '--host', '127.0.0.1', '--store', store, '--ttl', String(TTL_S)]);
  await m.waitFor(/mounted app 1/, 60_000);
  t.is(await readSha(net, 2054, '1', 'mid.bin'), sha(join(tree(t, 'v1'), 'mid.bin')));
  t.is(await readSha(net, 2054, '1', 'etc/config'), sha(join(tree(t, 'v1'), 'etc', 'config')));
  t.is(mountCounters(store).replicas!.verifyFailures, 0);
  await m.kill(10_000);
  await serve(t, PUBLISHER, 'publish', tree(t, 'v1'));
});

test.serial('a member that does not own the app cannot publish it, and its records are ignored', async (t) => {
  const { net } = t.context;
  const r = await net.cli(CLIENT, ['image', 'publish', 'app', '3', tree(t, 'v2')]);
  t.is(r.code, 1, r.output);
  t.regex(r.output, /owned by/);
  t.notRegex(r.output, /\n\s+at /, 'no stack trace');
  // A well-formed versions record that claims latest 3, written by the client's node (not a publisher).
  const forged = encodeVersionsRecord({ app: 'app', latest: '3', versions: [{ version: '3', digest: new Uint8Array(32).fill(7), bytes: 1, files: 1, blockSize: 65536, publishedAtMs: Date.now() }], updatedAtMs: Date.now() + 1e9 });
  const sock = join(net.node(CLIENT).state, 'control.sock');
  await controlRequest(sock, { op: 'dht-store', key: new TextDecoder().decode(registryKeys.versions('app')), valueB64: Buffer.from(forged).toString('base64'), ttlMs: 60_000, exclusive: false });
  await controlRequest(sock, { op: 'dht-put', key: new TextDecoder().decode(registryKeys.servers('app', '1')), value: 'garbage', ttlS: 60 });
  const ls = await net.ls(PUBLISHER, 'app');
  t.is(ls.apps[0]!.latest, '1', 'readers ignore the non-owner');
  t.true(ls.apps[0]!.ignoredRecords >= 1);
  t.is(ls.apps[0]!.versions.length, 1);
});

test.serial('v2: new mounts take it, the v1 mount goes on and says so; gc keeps v1 while shared, withdraws it after', async (t) => {
  const { net } = t.context;
  const v2 = await serve(t, PUBLISHER, 'publish', tree(t, 'v2'), '2');
  const m2 = net.image(CLIENT, ['mount', 'app', '--listen', '2052', '--host', '127.0.0.1', '--store', tree(t, 'mount-v2'), '--ttl', String(TTL_S)]);
  await m2.waitFor(/mounted app 2/, 60_000);
  t.is((await net.run(CLIENT, 'nfs-cat', [imageNfsUrl('127.0.0.1', 2052, 'app', '2', 'etc/motd')])).trim(), 'version 2');
  // The v1 mount still serves v1 and has noticed the newer version.
  t.is((await net.run(CLIENT, 'nfs-cat', [imageNfsUrl('127.0.0.1', PORT_A, 'app', '1', 'etc/motd')])).trim(), 'version 1');
  await t.context.mounts.get('a')!.waitFor(/newer version of app is published: 2/, 3 * TTL_S * 1000);
  const st = await net.status(CLIENT);
  t.is(st.images.find((i) => i.role === 'mount' && i.version === '1')!.detail.newer, '2');
  const shared = await waitUntil('sharers v1 = 1, v2 = 1', async () => {
    const l = (await net.ls(PUBLISHER, 'app')).apps[0]!;
    const n = Object.fromEntries(l.versions.map((v) => [v.version, v.sharers]));
    return n['1'] === 1 && n['2'] === 1 ? l : undefined;
  }, 30_000);
  t.is(shared.latest, '2');
  const refused = await net.cli(PUBLISHER, ['image', 'gc', 'app', '--min-age', '0']);
  t.is(refused.code, 0, refused.output);
  t.regex(refused.output, /^1\s+kept\s+sharers 1/m);
  t.is((await net.ls(PUBLISHER, 'app')).apps[0]!.versions.length, 2);
  // A second v1 mount on the same node: the sharer record is the node's, so stopping the first
  // leaves it to the second (v1 stays shared throughout).
  const m1b = net.image(CLIENT, ['mount', 'app', '--version', '1', '--listen', '2053', '--host', '127.0.0.1', '--store', tree(t, 'mount-v1b'), '--ttl', String(TTL_S)]);
  await m1b.waitFor(/mounted app 1/, 60_000);
  const a = t.context.mounts.get('a')!;
  await a.kill(10_000);
  t.regex(a.output(), /another mount of app 1 on this node keeps its sharer record/);
  t.is((await net.ls(PUBLISHER, 'app')).apps[0]!.versions.find((v) => v.version === '1')!.sharers, 1);
  // Stop the last v1 mount: its sharer record goes; then gc withdraws v1 and not v2.
  await m1b.kill(10_000);
  t.notRegex(m1b.output(), /keeps its sharer record/);
  await waitUntil('v1 unshared', async () => ((await net.ls(PUBLISHER, 'app')).apps[0]!.versions.find((v) => v.version === '1')!.sharers === 0 ? true : undefined), 3 * TTL_S * 1000);
  const gc = await net.cli(PUBLISHER, ['image', 'gc', 'app', '--min-age', '0', '--delete-data'], 4 * TTL_S * 1000);
  t.is(gc.code, 0, gc.output);
  t.regex(gc.output, /^1\s+withdrawn/m);
  // --delete-data: once the publisher's v1 server has stopped, its served copy is gone; v2's stays.
  t.regex(gc.output, new RegExp(`deleted ${tree(t, 'v1')}`));
  t.false(existsSync(tree(t, 'v1')));
  t.true(existsSync(tree(t, 'v2')));
  const after = (await net.ls(PUBLISHER, 'app')).apps[0]!;
  t.deepEqual(after.versions.map((v) => v.version), ['2']);
  // v1's servers notice and stop by themselves.
  for (const [, p] of t.context.servers) await p.waitFor(/withdrawn/, 3 * TTL_S * 1000);
  await m2.kill(10_000);
  await v2.kill(10_000);
});

test.serial('overlay boot --image: the DHCP root path points at a mount of the latest version, and moves when a newer one is published', async (t) => {
  const { net } = t.context;
  const v2 = await serve(t, PUBLISHER, 'publish', tree(t, 'v2'), '2');
  // The boot link: bridge brimg (10.99.0.1/24) in the client node's namespace; a "VM" namespace on it.
  const nodeNs = net.topo.node(CLIENT).ns;
  const sh = (cmd: string) => net.run(CLIENT, 'sh', ['-c', cmd]);
  await sh('ip link add brimg type bridge forward_delay 0 stp_state 0 && ip addr add 10.99.0.1/24 dev brimg && ip link set brimg up');
  const vm = await Netns.create('imgvm');
  t.teardown(() => vm.destroy());
  const veth = `iv${process.pid % 100000}`;
  await run('ip', ['link', 'add', `${veth}a`, 'type', 'veth', 'peer', 'name', `${veth}b`]);
  await run('ip', ['link', 'set', `${veth}a`, 'netns', vm.name]);
  await run('ip', ['link', 'set', `${veth}b`, 'netns', nodeNs]);
  await sh(`ip link set ${veth}b master brimg && ip link set ${veth}b up`);
  await vm.exec('ip', ['link', 'set', `${veth}a`, 'up']);
  const bootDir = join(net.root, 'tftp');
  mkdirSync(bootDir, { recursive: true });
  const script = join(net.root, 'udhcpc.sh');
  writeFileSync(script, '#!/bin/sh\nif [ "$1" = bound ] || [ "$1" = renew ]; then ip addr replace "$ip/24" dev "$interface"; echo "ROOTPATH=$rootpath"; fi\n');
  chmodSync(script, 0o755);
  const boot = net.spawn(CLIENT, ['boot', '--interface', 'brimg', '--dir', bootDir, '--range', '10.99.0.100-10.99.0.120', '--no-ra', '--quiet', '--image', 'app', '--image-port', '2060', '--image-store', join(net.root, 'boot-store'), '--ttl', String(TTL_S), '--state', net.node(CLIENT).state]);
  await boot.waitFor(/ready/, 60_000);
  t.regex(boot.output(), /new boots get app 2: root 10\.99\.0\.1:\/images\/app\/2,vers=3,tcp,port=2060,mountport=2060/);
  const lease = async () => (await vm.exec('udhcpc', ['-i', `${veth}a`, '-f', '-q', '-n', '-t', '5', '-T', '1', '-O', 'rootpath', '-s', script], 30_000)).stdout.match(/ROOTPATH=(\S+)/)?.[1];
  const root = await lease();
  t.is(root, '10.99.0.1:/images/app/2,vers=3,tcp,port=2060,mountport=2060');
  // What a diskless VM would mount: the image through the boot node's mount.
  t.is((await vm.exec('nfs-cat', [imageNfsUrl('10.99.0.1', 2060, 'app', '2', 'etc/motd')])).stdout.trim(), 'version 2');
  // A newer version: the next boot gets it, on the next port; the v2 mount keeps serving.
  writeFileSync(join(tree(t, 'v2'), 'etc', 'motd'), 'version 2.1\n');
  const v21 = await serve(t, PUBLISHER, 'publish', tree(t, 'v2'), '2.1');
  await boot.waitFor(/new boots get app 2\.1: root 10\.99\.0\.1:\/images\/app\/2\.1,vers=3,tcp,port=2061,mountport=2061/, 3 * TTL_S * 1000);
  t.is(await lease(), '10.99.0.1:/images/app/2.1,vers=3,tcp,port=2061,mountport=2061');
  t.is((await vm.exec('nfs-cat', [imageNfsUrl('10.99.0.1', 2061, 'app', '2.1', 'etc/motd')])).stdout.trim(), 'version 2.1');
  await boot.kill(10_000);
  await v21.kill(10_000);
  await v2.kill(10_000);
  // The last step publishes v2 again from this tree: put its content back.
  writeFileSync(join(tree(t, 'v2'), 'etc', 'motd'), 'version 2\n');
});

test.serial("a server that stops without a word: its record is gone after the TTL", async (t) => {
  const { net } = t.context;
  const v3 = await serve(t, REPLICA, 'publish', tree(t, 'v2'), '2').catch(() => undefined);
  t.is(v3, undefined, 'the replica node does not own app either');
  const p = await serve(t, PUBLISHER, 'publish', tree(t, 'v2'), '2');
  const v2servers = async () => (await net.ls(CLIENT, 'app')).apps[0]!.versions.find((v) => v.version === '2')!.servers.length;
  await waitUntil('one server of 2', async () => ((await v2servers()) === 1 ? true : undefined), 20_000);
  process.kill(p.pid, 'SIGKILL');
  const t0 = Date.now();
  await waitUntil('no server of 2', async () => ((await v2servers()) === 0 ? true : undefined), 4 * TTL_S * 1000);
  t.log(`record gone ${((Date.now() - t0) / 1000).toFixed(1)} s after the kill (TTL ${TTL_S} s)`);
  t.pass();
});
