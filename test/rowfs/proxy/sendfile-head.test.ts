// The addon's sendFile over a real loopback TCP connection: the optional head (a reply's record
// mark and header) arrives first and then exactly the file range, for heads and ranges of several
// sizes (also larger than the socket buffers, so both waits are exercised); a bad head is a typed
// SPLICE_EINVAL error, not a crash.
import test from 'ava';
import net from 'node:net';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSpliceAddon } from '../../../rowfs/proxy/splice-fetcher.js';

const TIMEOUT_MS = 5_000;
const FILE_BYTES = 8 * 1024 * 1024;

/** A connected loopback pair: `sender` is our end (its fd goes to the addon), `received` collects the peer's bytes. */
async function loopbackPair(t: { teardown(fn: () => void): void }) {
  const chunks: Buffer[] = [];
  let peer!: net.Socket;
  const server = net.createServer((s) => {
    peer = s;
    s.on('data', (c: Buffer) => chunks.push(c));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sender = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise<void>((r, j) => sender.once('connect', r).once('error', j));
  t.teardown(() => {
    sender.destroy();
    peer?.destroy();
    server.close();
  });
  const fd = (sender as unknown as { _handle: { fd: number } })._handle.fd;
  /** Resolves with everything received once `bytes` arrived (bounded). */
  const received = async (bytes: number): Promise<Buffer> => {
    const deadline = Date.now() + TIMEOUT_MS;
    while (chunks.reduce((n, c) => n + c.length, 0) < bytes) {
      if (Date.now() > deadline) throw new Error(`only ${chunks.reduce((n, c) => n + c.length, 0)} of ${bytes} bytes arrived`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return Buffer.concat(chunks.splice(0));
  };
  return { fd, received };
}

test('sendFile sends the head, then exactly the range; a bad head is a SPLICE_EINVAL error', async (t) => {
  const addon = loadSpliceAddon();
  if (!addon) {
    t.fail('the rowfssplice addon is not built (npm run install)');
    return;
  }
  t.true(addon.sendFileHead, 'this build of the addon announces that sendFile takes a head');
  const dir = mkdtempSync(join(tmpdir(), 'rowfs-sendfile-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const content = Buffer.alloc(FILE_BYTES);
  for (let i = 0; i < content.length; i += 4) content.writeUInt32BE(i, i);
  const file = openSync(join(dir, 'f'), 'w+');
  t.teardown(() => closeSync(file));
  writeSync(file, content, 0, content.length, 0);
  const { fd, received } = await loopbackPair(t);

  const cases: Array<{ head?: Buffer; offset: number; length: number }> = [
    { head: Buffer.from('header!!'), offset: 4096, length: 65536 },
    { offset: 12, length: 1000 },
    { head: Buffer.alloc(4000, 0xee), offset: 1_000_000, length: 6 * 1024 * 1024 },
    { head: Buffer.from([1, 2, 3]), offset: 0, length: 0 },
  ];
  for (const c of cases) {
    await addon.sendFile(fd, file, c.offset, c.length, TIMEOUT_MS, c.head);
    const want = Buffer.concat([c.head ?? Buffer.alloc(0), content.subarray(c.offset, c.offset + c.length)]);
    const got = await received(want.length);
    t.is(got.length, want.length, `head ${c.head?.length ?? 0}, range ${c.length}`);
    t.true(got.equals(want), `head ${c.head?.length ?? 0}, range ${c.length}: bytes differ`);
  }
  t.throws(() => addon.sendFile(fd, file, 0, 10, TIMEOUT_MS, 'nope' as unknown as Uint8Array), { code: 'SPLICE_EINVAL' } as never);
  t.throws(() => addon.sendFile(fd, file, 0, 10, TIMEOUT_MS, new Uint16Array(4) as unknown as Uint8Array), { code: 'SPLICE_EINVAL' } as never);
  t.throws(() => addon.sendFile(fd, file, 0, 10, TIMEOUT_MS, Buffer.alloc(64 * 1024 + 1)), { code: 'SPLICE_EINVAL' } as never);
});
