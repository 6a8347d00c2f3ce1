// Real TFTP clients (tftp-hpa, atftp) against our TFTP server on loopback: with and without options,
// a 64 MB file (block numbers roll over twice at 512-byte blocks) checked by SHA-256, many clients
// at once, traversal and writes refused, retransmission and give-up, fuzzed datagrams.
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeTftp, decodeTftp } from '../../dhcp/tftp/tftp-packet.js';
import { TftpServer, type TftpServerOptions } from '../../dhcp/tftp/tftp-server.js';
import { run } from '../../simulations/harness/proc.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function serve(t: { teardown(fn: () => unknown): void }, extra: Partial<TftpServerOptions> = {}) {
  const work = mkdtempSync(join(tmpdir(), 'tftp-'));
  const root = join(work, 'boot');
  mkdirSync(join(root, 'sub'), { recursive: true });
  const server = new TftpServer({ root, address: '127.0.0.1', port: 0, ...extra });
  t.teardown(async () => {
    await server.close();
    rmSync(work, { recursive: true, force: true });
  });
  await server.start();
  return { server, root, work, port: String(server.port) };
}

test('tftp-hpa fetches without options (octet and netascii); traversal and writes are refused', async (t) => {
  const { root, work, port, server } = await serve(t);
  const data = randomBytes(100_000);
  writeFileSync(join(root, 'sub', 'file.bin'), data);
  writeFileSync(join(root, 'hello.txt'), 'line one\nline two\n');
  writeFileSync(join(work, 'secret'), 'outside');
  const out = join(work, 'out.bin');
  await run('tftp', ['-m', 'binary', '127.0.0.1', port, '-c', 'get', '/sub/file.bin', out]);
  t.is(sha(readFileSync(out)), sha(data));
  await run('tftp', ['-m', 'netascii', '127.0.0.1', port, '-c', 'get', 'hello.txt', join(work, 'hello.txt')]);
  t.is(readFileSync(join(work, 'hello.txt'), 'utf8'), 'line one\nline two\n', 'netascii decoded back by the client');
  const bad = await run('tftp', ['-m', 'binary', '127.0.0.1', port, '-c', 'get', '../secret', join(work, 'stolen')]);
  t.regex(bad.stdout + bad.stderr, /Error code 2/);
  const missing = await run('tftp', ['-m', 'binary', '127.0.0.1', port, '-c', 'get', 'nope', join(work, 'nope')]);
  t.regex(missing.stdout + missing.stderr, /Error code 1/);
  const put = await run('tftp', ['-m', 'binary', '127.0.0.1', port, '-c', 'put', out, 'upload']);
  t.regex(put.stdout + put.stderr, /Error code 2/);
  t.is(server.counters.refusedTraversal, 1);
  t.is(server.counters.refusedWrite, 1);
  t.is(server.counters.completed, 2);
});

test('atftp fetches with options (blksize, tsize, timeout, windowsize) and without', async (t) => {
  const { root, work, port, server } = await serve(t);
  const data = randomBytes(3_000_001);
  writeFileSync(join(root, 'k'), data);
  const variants = [
    [],
    ['--option', 'blksize 1468', '--option', 'tsize 0'],
    ['--option', 'blksize 8192', '--option', 'timeout 2'],
    ['--option', 'blksize 1468', '--option', 'windowsize 16'],
  ];
  for (const [i, opts] of variants.entries()) {
    const out = join(work, `k${i}`);
    const r = await run('atftp', [...opts, '--trace', '-g', '-r', 'k', '-l', out, '127.0.0.1', port]);
    t.is(sha(readFileSync(out)), sha(data), `variant ${opts.join(' ')}`);
    if (opts.length) t.regex(r.stdout + r.stderr, /received OACK <.*blksize: \d+/, 'options acknowledged');
    if (opts.includes('tsize 0')) t.regex(r.stdout + r.stderr, /received OACK <.*tsize: 3000001/);
    if (opts.includes('windowsize 16')) t.regex(r.stdout + r.stderr, /received OACK <.*windowsize: 16/);
  }
  t.is(server.counters.completed, variants.length);
  t.is(server.counters.retransmits, 0);
  // The three lock-step variants are served by the native chain ("ACK n -> DATA n+1") for all
  // blocks but the first of each read-ahead chunk; the windowed one never is.
  const lockStepBlocks = [512, 1468, 8192].reduce((sum, b) => sum + Math.floor(3000001 / b) + 1, 0);
  t.true(server.counters.nativeBlocks >= lockStepBlocks * 0.95, `native blocks ${server.counters.nativeBlocks} of ${lockStepBlocks}`);
  t.true(server.counters.nativeBlocks < lockStepBlocks);
});

test('a 64 MB file arrives intact through block-number rollover (tftp-hpa, 512-byte blocks) and with atftp', async (t) => {
  const { root, work, port, server } = await serve(t);
  const data = randomBytes(64 * 1024 * 1024);
  writeFileSync(join(root, 'big.img'), data);
  const digest = sha(data);
  await run('tftp', ['-m', 'binary', '127.0.0.1', port, '-c', 'get', 'big.img', join(work, 'a.img')], 180_000);
  t.is(sha(readFileSync(join(work, 'a.img'))), digest, '131072 blocks: wire numbers wrapped twice');
  rmSync(join(work, 'a.img'));
  await run('atftp', ['--option', 'blksize 1468', '-g', '-r', 'big.img', '-l', join(work, 'b.img'), '127.0.0.1', port], 180_000);
  t.is(sha(readFileSync(join(work, 'b.img'))), digest);
  t.is(server.counters.bytesSent, 2 * data.length);
});

test('many clients at once', async (t) => {
  const { root, work, port, server } = await serve(t);
  const files = Array.from({ length: 12 }, (_, i) => randomBytes(500_000 + i * 1000));
  files.forEach((f, i) => writeFileSync(join(root, `f${i}`), f));
  await Promise.all(files.map((_, i) => i % 2
    ? run('atftp', ['--option', 'blksize 1468', '-g', '-r', `f${i}`, '-l', join(work, `o${i}`), '127.0.0.1', port], 60_000)
    : run('tftp', ['-m', 'binary', '127.0.0.1', port, '-c', 'get', `f${i}`, join(work, `o${i}`)], 60_000)));
  files.forEach((f, i) => t.is(sha(readFileSync(join(work, `o${i}`))), sha(f), `f${i}`));
  t.is(server.counters.completed, files.length);
  t.is(server.counters.active, 0);
});

/** A hand-made client that withholds ACKs, to watch the server retransmit and then give up. */
test('lost ACKs: the block is retransmitted after the negotiated timeout; a silent client is given up', async (t) => {
  const { root, port, server } = await serve(t, { maxRetries: 2 });
  writeFileSync(join(root, 'r'), randomBytes(1000));
  const sock = createSocket('udp4');
  t.teardown(() => sock.close());
  const got: Array<{ at: number; packet: ReturnType<typeof decodeTftp>; port: number }> = [];
  sock.on('message', (m, r) => got.push({ at: Date.now(), packet: decodeTftp(m), port: r.port }));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const started = Date.now();
  sock.send(encodeTftp({ op: 'RRQ', filename: 'r', mode: 'octet', options: new Map([['timeout', '1']]) }), Number(port), '127.0.0.1');
  const wait = (n: number, ms: number) => new Promise<void>((resolve, reject) => {
    const deadline = Date.now() + ms;
    const tick = () => (got.length >= n ? resolve() : Date.now() > deadline ? reject(new Error(`only ${got.length} datagrams`)) : setTimeout(tick, 20));
    tick();
  });
  await wait(2, 3000); // OACK, then the OACK again after 1 s without ACK 0
  t.is(got[0]!.packet.op, 'OACK');
  t.is(got[1]!.packet.op, 'OACK');
  t.true(got[1]!.at - got[0]!.at >= 900);
  sock.send(encodeTftp({ op: 'ACK', block: 0 }), got[0]!.port, '127.0.0.1');
  await wait(3, 2000);
  t.like(got[2]!.packet, { op: 'DATA', block: 1 });
  sock.send(encodeTftp({ op: 'ACK', block: 0 }), got[0]!.port, '127.0.0.1'); // duplicate: must not trigger a resend
  await wait(4, 3000); // the timer's resend of DATA 1
  t.like(got[3]!.packet, { op: 'DATA', block: 1 });
  t.true(got[3]!.at - got[2]!.at >= 900, 'resent by the timer, not by the duplicate ACK');
  // Never ACK: after maxRetries (2) the server abandons the transfer.
  const deadline = Date.now() + 5000;
  while (server.counters.failed === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.is(server.counters.failed, 1);
  t.is(server.counters.active, 0);
  t.true(server.counters.retransmits >= 2);
  t.true(Date.now() - started < 8000);
});

/** Lock-step blocks after the first are sent by the native chain; a withheld ACK still gets the block resent by the timer. */
test('native chain: a withheld ACK mid-file is answered by the timer with the same block; duplicates are ignored', async (t) => {
  const { root, port, server } = await serve(t);
  const data = randomBytes(4 * 512 + 452); // blocks 1..5, the last one short
  writeFileSync(join(root, 'c'), data);
  const sock = createSocket('udp4');
  t.teardown(() => sock.close());
  const got: Array<{ at: number; block: number; payload: Buffer; port: number }> = [];
  sock.on('message', (m, r) => {
    const p = decodeTftp(m);
    if (p.op === 'DATA') got.push({ at: Date.now(), block: p.block, payload: Buffer.from(p.data), port: r.port });
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const wait = (n: number, ms: number) => new Promise<void>((resolve, reject) => {
    const deadline = Date.now() + ms;
    const tick = () => (got.length >= n ? resolve() : Date.now() > deadline ? reject(new Error(`only ${got.length} DATA`)) : setTimeout(tick, 10));
    tick();
  });
  const ack = (block: number) => sock.send(encodeTftp({ op: 'ACK', block }), got[0]!.port, '127.0.0.1');
  sock.send(encodeTftp({ op: 'RRQ', filename: 'c', mode: 'octet', options: new Map() }), Number(port), '127.0.0.1');
  await wait(1, 3000);
  ack(1);
  await wait(2, 3000);
  ack(2);
  await wait(3, 3000);
  // Withhold ACK 3: after the 1 s default timeout, DATA 3 comes again (from the chunk, same bytes).
  ack(2); // duplicate: ignored, no resend
  await wait(4, 3000);
  t.true(got[3]!.at - got[2]!.at >= 900, 'resent by the timer');
  t.is(got[3]!.block, 3);
  t.deepEqual(got[3]!.payload, got[2]!.payload);
  ack(3);
  await wait(5, 3000);
  ack(4);
  await wait(6, 3000);
  ack(5);
  const deadline = Date.now() + 3000;
  while (server.counters.completed === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(got.map((g) => g.block), [1, 2, 3, 3, 4, 5]);
  const blocks = new Map(got.map((g) => [g.block, g.payload]));
  t.deepEqual(Buffer.concat([1, 2, 3, 4, 5].map((b) => blocks.get(b)!)), data);
  t.is(server.counters.completed, 1);
  t.is(server.counters.retransmits, 1);
  t.is(server.counters.bytesSent, data.length);
  t.true(server.counters.nativeBlocks >= 3, `native blocks ${server.counters.nativeBlocks}`);
});

test('fuzzed datagrams on the request port are counted and dropped; the server still serves', async (t) => {
  const { root, work, port, server } = await serve(t);
  writeFileSync(join(root, 'ok'), 'fine');
  const sock = createSocket('udp4');
  t.teardown(() => sock.close());
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  let seed = 99;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
  const N = 500;
  for (let i = 0; i < N; i++) {
    const b = Buffer.alloc(rnd(700));
    for (let j = 0; j < b.length; j++) b[j] = rnd(256);
    // Half start like a request, to get past the opcode check.
    if (i % 2 && b.length > 2) b[0] = 0, b[1] = 1 + rnd(6);
    await new Promise<void>((r) => sock.send(b, Number(port), '127.0.0.1', () => r()));
    // Paced so the kernel's receive buffer never overflows: every datagram must reach the server.
    if (i % 25 === 0) await new Promise((r) => setTimeout(r, 20));
  }
  const deadline = Date.now() + 5000;
  const accounted = () => server.counters.malformed + server.counters.requests + server.counters.refusedWrite + server.counters.refusedMode;
  while (accounted() < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const c = server.counters;
  t.is(accounted(), N, 'every datagram accounted for');
  t.true(c.malformed >= N * 0.8, `malformed ${c.malformed}`);
  await run('tftp', ['-m', 'binary', '127.0.0.1', port, '-c', 'get', 'ok', join(work, 'ok')]);
  t.is(readFileSync(join(work, 'ok'), 'utf8'), 'fine');
});
