// Hostile clients: TFTP requests for files that are not regular files (issue 11, item 6) and in the
// obsolete "mail" mode (item 11). Six requests for a FIFO in the boot directory used to block all of
// libuv's pool threads, each stuck opening it until a writer came, and with them all TFTP service
// (and every other file system call of the process). Now only regular files are served: the path
// is checked, then opened without blocking, and the descriptor checked again. A request in a mode
// other than octet and netascii gets ERROR 4 (tftpd-hpa: "Unknown mode") instead of silence.
// On loopback; the FIFO's blocked readers (before the fix) are released at teardown.
import test from 'ava';
import { createSocket } from 'node:dgram';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeTftp, encodeTftp, TftpErrorCode, type TftpPacket } from '../../dhcp/tftp/tftp-packet.js';
import { TftpServer } from '../../dhcp/tftp/tftp-server.js';
import { run } from '../../simulations/harness/proc.js';

/** Sends one RRQ from a fresh socket; resolves with the first reply, or 'silence' after `ms`. */
async function request(port: number, filename: string, mode = 'octet', ms = 2_000): Promise<TftpPacket | 'silence'> {
  const s = createSocket('udp4');
  try {
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    const reply = new Promise<TftpPacket>((r) => s.once('message', (m) => r(decodeTftp(m))));
    s.send(encodeTftp({ op: 'RRQ', filename, mode, options: new Map() }), port, '127.0.0.1');
    let timer: NodeJS.Timeout | undefined;
    const silence = new Promise<'silence'>((r) => (timer = setTimeout(() => r('silence'), ms)));
    try {
      return await Promise.race([reply, silence]);
    } finally {
      clearTimeout(timer);
    }
  } finally {
    s.close();
  }
}

test('FIFOs, devices and directories are refused at once; regular files are still served', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'tftp-special-'));
  const root = join(work, 'boot');
  mkdirSync(join(root, 'dir'), { recursive: true });
  writeFileSync(join(root, 'ok'), 'fine');
  const fifo = join(root, 'fifo');
  await run('mkfifo', [fifo]);
  await run('mknod', [join(root, 'null'), 'c', '1', '3']);
  const server = new TftpServer({ root, address: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    // Before the fix, pool threads sit in open(fifo): a writer's open lets each of them go.
    for (let i = 0; i < 16; i++) {
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        break; // ENXIO: no reader left
      }
    }
    await server.close();
    rmSync(work, { recursive: true, force: true });
  });
  await server.start();
  const port = server.port;

  const fifoReplies = await Promise.all(Array.from({ length: 8 }, () => request(port, 'fifo')));
  for (const r of fifoReplies) t.like(r, { op: 'ERROR', code: TftpErrorCode.ACCESS_VIOLATION, message: 'not a regular file' });
  t.like(await request(port, 'null'), { op: 'ERROR', code: TftpErrorCode.ACCESS_VIOLATION });
  t.like(await request(port, 'dir'), { op: 'ERROR', code: TftpErrorCode.ACCESS_VIOLATION });
  t.is(server.counters.refusedNotRegular, 10);
  t.is(server.counters.active, 0);

  await run('tftp', ['-m', 'binary', '127.0.0.1', String(port), '-c', 'get', 'ok', join(work, 'got')], 10_000);
  t.is(readFileSync(join(work, 'got'), 'utf8'), 'fine');
});

test('a request in mode "mail" (obsolete) or an unknown mode gets ERROR 4, not silence', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'tftp-mode-'));
  writeFileSync(join(work, 'ok'), 'fine');
  const server = new TftpServer({ root: work, address: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    await server.close();
    rmSync(work, { recursive: true, force: true });
  });
  await server.start();
  for (const mode of ['mail', 'MAIL', 'binary']) {
    t.like(await request(server.port, 'ok', mode), { op: 'ERROR', code: TftpErrorCode.ILLEGAL_OPERATION }, mode);
  }
  t.is(server.counters.refusedMode, 3);
  t.is(server.counters.started, 0);
  t.like(await request(server.port, 'ok', 'octet'), { op: 'DATA', block: 1 });
});
