// A namespace change whose shadow call is applied but whose answer never comes back (the reply
// lost, the shadow server gone quiet past the deadline): the client gets an error, and the proxy
// must not keep answering from a record the change made stale. Here the shadow is a real embedded
// server behind a relay that, while armed, passes calls on and drops every reply.
import test from 'ava';
import net from 'node:net';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedServer } from '../../../rowfs/server/embedded-server.js';
import { expectOk } from '../../../rowfs/nfs3/errors.js';
import { Nfs3Status, StableHow } from '../../../rowfs/nfs3/types.js';
import { createFile, listNames, lookup, proxyOverEmbeddedMain, readAll, status } from './fixture.js';

/** A TCP relay to `port`; `dropReplies` true: replies are dropped; `dropCalls` true: calls too. */
async function replyDroppingRelay(t: { teardown(fn: () => void): void }, port: number) {
  const sockets = new Set<net.Socket>();
  const relay = { port: 0, dropReplies: false, dropCalls: false };
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (d) => {
      if (!relay.dropCalls) upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (!relay.dropReplies) client.write(d);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  relay.port = (server.address() as net.AddressInfo).port;
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return relay;
}

const DEADLINE_MS = 800;

async function setup(t: Parameters<typeof proxyOverEmbeddedMain>[0]) {
  const shadowDir = mkdtempSync(join(tmpdir(), 'rowfs-net-shadow-'));
  t.teardown(() => rmSync(shadowDir, { recursive: true, force: true }));
  const shadow = await startEmbeddedServer({ exportDir: shadowDir, host: '127.0.0.1' });
  t.teardown(() => shadow.stop());
  const relay = await replyDroppingRelay(t, shadow.nfsPort);
  const p = await proxyOverEmbeddedMain(t, { 'readme.txt': Buffer.from('main\n') }, {
    shadow: { host: '127.0.0.1', exportPath: shadow.exportPath, nfsPort: relay.port, mountPort: shadow.mountPort },
    backendTimeoutMs: DEADLINE_MS,
  });
  const ex = await p.open();
  t.teardown(() => ex.close());
  const dir = expectOk(await ex.nfs.mkdir({ where: { dir: ex.root, name: 'd' }, attributes: { mode: 0o755 } }), 'MKDIR').obj!;
  for (const name of ['a', 'b']) {
    const fh = await createFile(ex, dir, name);
    expectOk(await ex.nfs.write({ file: fh, offset: 0n, count: 2, stable: StableHow.FILE_SYNC, data: Buffer.from(`${name}\n`) }), 'WRITE');
  }
  return { ex, dir, relay, faults: p.faults };
}

test('a REMOVE the shadow applied but whose answer was lost: the client gets an error, then the name is gone (not a stale record)', async (t) => {
  const { ex, dir, relay } = await setup(t);
  t.deepEqual(await listNames(ex, dir), ['a', 'b']);
  // A handle the client holds, whose attributes the proxy has just seen from the shadow.
  const held = await lookup(ex, dir, 'a');
  t.is(await status(ex.nfs.getattr({ object: held })), 'OK');
  relay.dropReplies = true;
  const removed = await status(ex.nfs.remove({ object: { dir, name: 'a' } }));
  relay.dropReplies = false;
  t.not(removed, 'OK', 'no answer from the shadow: an error');
  t.is(await status(ex.nfs.getattr({ object: held })), 'STALE', 'the removed file is not answered from remembered attributes');
  t.is(await status(ex.nfs.lookup({ what: { dir, name: 'a' } })), 'NOENT');
  t.deepEqual(await listNames(ex, dir), ['b']);
  t.deepEqual((await readAll(ex, await lookup(ex, dir, 'b'))).toString(), 'b\n');
  // A retry of the remove finds nothing left to remove, as a client's would.
  t.is(await status(ex.nfs.remove({ object: { dir, name: 'a' } })), 'NOENT');
});

test('a RENAME the shadow applied but whose answer was lost: the old name is gone and the new one reads the file', async (t) => {
  const { ex, dir, relay } = await setup(t);
  const before = await lookup(ex, dir, 'a');
  relay.dropReplies = true;
  const renamed = await status(ex.nfs.rename({ from: { dir, name: 'a' }, to: { dir, name: 'b' } }));
  relay.dropReplies = false;
  t.not(renamed, 'OK');
  t.is(await status(ex.nfs.lookup({ what: { dir, name: 'a' } })), 'NOENT');
  t.deepEqual(await listNames(ex, dir), ['b']);
  t.deepEqual((await readAll(ex, await lookup(ex, dir, 'b'))).toString(), 'a\n', 'b is the renamed file');
  // The handle the client held for the file still reads it.
  t.deepEqual((await readAll(ex, before)).toString(), 'a\n');
  t.is(Nfs3Status.OK, (await ex.nfs.getattr({ object: before })).status);
});

test("a RENAME onto a removed main name (a whiteout) whose answer was lost: the renamed file shows there, not main's and not nothing", async (t) => {
  const { ex, dir, relay } = await setup(t);
  t.is(await status(ex.nfs.remove({ object: { dir: ex.root, name: 'readme.txt' } })), 'OK');
  t.is(await status(ex.nfs.lookup({ what: { dir: ex.root, name: 'readme.txt' } })), 'NOENT');
  relay.dropReplies = true;
  const renamed = await status(ex.nfs.rename({ from: { dir, name: 'a' }, to: { dir: ex.root, name: 'readme.txt' } }));
  relay.dropReplies = false;
  t.not(renamed, 'OK');
  t.deepEqual((await readAll(ex, await lookup(ex, ex.root, 'readme.txt'))).toString(), 'a\n');
  t.is(await status(ex.nfs.lookup({ what: { dir, name: 'a' } })), 'NOENT');
  t.true((await listNames(ex, ex.root)).includes('readme.txt'));
});

test('a REMOVE that never reached the shadow (calls and replies dropped): the file is still there, under the same handle', async (t) => {
  const { ex, dir, relay } = await setup(t);
  const before = await lookup(ex, dir, 'b');
  relay.dropCalls = true;
  relay.dropReplies = true;
  const removed = await status(ex.nfs.remove({ object: { dir, name: 'b' } }));
  relay.dropCalls = false;
  relay.dropReplies = false;
  t.not(removed, 'OK');
  t.deepEqual((await readAll(ex, await lookup(ex, dir, 'b'))).toString(), 'b\n');
  t.deepEqual((await readAll(ex, before)).toString(), 'b\n');
  t.deepEqual(await listNames(ex, dir), ['a', 'b']);
});
