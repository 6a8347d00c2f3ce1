import test from 'ava';
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BootPathError, lexicalBootPath, resolveBootPath } from '../../dhcp/tftp/boot-path.js';
import { toNetascii } from '../../dhcp/tftp/file-source.js';
import { negotiate } from '../../dhcp/tftp/tftp-options.js';
import { ackBlockOf, decodeTftp, encodeTftp, TftpDecodeError, type TftpPacket } from '../../dhcp/tftp/tftp-packet.js';

const str = (min = 0) => fc.string({ minLength: min, maxLength: 40 }).map((s) => s.replace(/[^\x01-\x7f]/g, 'x'));
const optsOf = (min: number) => fc.uniqueArray(fc.tuple(str(1).map((s) => s.toLowerCase()), str()), { selector: (e) => e[0], minLength: min, maxLength: 5 }).map((e) => new Map(e));
const opts = optsOf(0);
const packetArb: fc.Arbitrary<TftpPacket> = fc.oneof(
  fc.record({ op: fc.constantFrom('RRQ' as const, 'WRQ' as const), filename: str(1), mode: fc.constantFrom('octet', 'netascii'), options: opts }),
  fc.record({ op: fc.constant('DATA' as const), block: fc.nat(65535), data: fc.uint8Array({ maxLength: 1468 }) }),
  fc.record({ op: fc.constant('ACK' as const), block: fc.nat(65535) }),
  fc.record({ op: fc.constant('ERROR' as const), code: fc.nat(8), message: str() }),
  fc.record({ op: fc.constant('OACK' as const), options: optsOf(1) }),
);

test('decode(encode(p)) == p', (t) => {
  fc.assert(fc.property(packetArb, (p) => {
    t.deepEqual(decodeTftp(encodeTftp(p)), p);
  }), { numRuns: 500 });
});

test('ackBlockOf agrees with the full decoder', (t) => {
  t.is(ackBlockOf(encodeTftp({ op: 'ACK', block: 65535 })), 65535);
  t.is(ackBlockOf(encodeTftp({ op: 'DATA', block: 1, data: new Uint8Array(0) })), -1);
  t.is(ackBlockOf(Uint8Array.of(0, 4, 0)), -1);
});

test('attack inputs are rejected with TftpDecodeError', (t) => {
  const enc = (s: string) => new TextEncoder().encode(s);
  const cases: Array<[string, Uint8Array]> = [
    ['short', Uint8Array.of(0, 1)],
    ['opcode 9', Uint8Array.of(0, 9, 0, 0)],
    ['unterminated filename', Uint8Array.of(0, 1, ...enc('file'))],
    ['no mode', Uint8Array.of(0, 1, ...enc('file'), 0)],
    ['bad mode', Uint8Array.of(0, 1, ...enc('f'), 0, ...enc('binary'), 0)],
    ['option without value', Uint8Array.of(0, 1, ...enc('f'), 0, ...enc('octet'), 0, ...enc('blksize'), 0)],
    ['duplicate option', Uint8Array.of(0, 1, ...enc('f'), 0, ...enc('octet'), 0, ...enc('tsize'), 0, 48, 0, ...enc('TSIZE'), 0, 48, 0)],
    ['empty filename', Uint8Array.of(0, 1, 0, ...enc('octet'), 0)],
    ['long ACK', Uint8Array.of(0, 4, 0, 1, 0)],
    ['huge request', Uint8Array.of(0, 1, ...new Uint8Array(2000).fill(65), 0, ...enc('octet'), 0)],
  ];
  for (const [name, bytes] of cases) t.throws(() => decodeTftp(bytes), { instanceOf: TftpDecodeError }, name);
  // "mail" is obsolete (RFC 1350 s1); the server answers unknown modes with ERROR 4, so they have their own code.
  for (const mode of ['mail', 'MAIL', 'binary']) {
    t.is(t.throws(() => decodeTftp(Uint8Array.of(0, 1, ...enc('f'), 0, ...enc(mode), 0)), { instanceOf: TftpDecodeError })?.code, 'UNKNOWN_MODE', mode);
  }
  t.is(t.throws(() => decodeTftp(Uint8Array.of(0, 1, ...enc('f'))), { instanceOf: TftpDecodeError })?.code, 'MALFORMED');
});

test('fuzz: random and mutated bytes decode or throw TftpDecodeError', (t) => {
  const seed = encodeTftp({ op: 'RRQ', filename: 'boot.ipxe', mode: 'octet', options: new Map([['blksize', '1468'], ['tsize', '0']]) });
  const mutated = fc.array(fc.tuple(fc.nat(seed.length - 1), fc.nat(255)), { maxLength: 6 }).map((m) => {
    const b = Uint8Array.from(seed);
    for (const [i, v] of m) b[i] = v;
    return b;
  });
  fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }), mutated), (bytes) => {
    try {
      decodeTftp(bytes);
    } catch (err) {
      if (!(err instanceof TftpDecodeError)) throw err;
    }
  }), { numRuns: 3000 });
  t.pass();
});

test('negotiation: blksize clamped, timeout bounded, tsize answered, windowsize, unknown ignored', (t) => {
  const limits = { maxBlockBytes: 1468, defaultTimeoutMs: 1000, maxWindowBlocks: 16 };
  const n = negotiate(new Map([['blksize', '9000'], ['timeout', '3'], ['tsize', '0'], ['windowsize', '64'], ['foo', 'bar']]), 12345, limits);
  t.is(n.blockBytes, 1468);
  t.is(n.timeoutMs, 3000);
  t.is(n.windowBlocks, 16);
  t.deepEqual([...n.oack!], [['blksize', '1468'], ['timeout', '3'], ['windowsize', '16'], ['tsize', '12345']]);
  const none = negotiate(new Map([['blksize', '7'], ['timeout', '0'], ['foo', '1']]), 1, limits);
  t.is(none.oack, undefined);
  t.is(none.blockBytes, 512);
  t.is(none.timeoutMs, 1000);
});

test('boot paths: traversal refused, symlinks out refused, leading slash and backslashes accepted', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'bootdir-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'sub'));
  writeFileSync(join(root, 'sub', 'k'), 'x');
  symlinkSync('/etc/passwd', join(root, 'escape'));
  t.is(await resolveBootPath(root, '/sub/k'), join(root, 'sub', 'k'));
  t.is(await resolveBootPath(root, 'sub\\k'), join(root, 'sub', 'k'));
  for (const bad of ['../etc/passwd', '/../../etc/passwd', 'sub/../../x', '..\\..\\x']) {
    t.throws(() => lexicalBootPath(root, bad), { instanceOf: BootPathError, message: /leaves/ }, bad);
  }
  const e = await t.throwsAsync(resolveBootPath(root, 'escape'), { instanceOf: BootPathError });
  t.is(e?.code, 'traversal');
  const nf = await t.throwsAsync(resolveBootPath(root, 'nope'), { instanceOf: BootPathError });
  t.is(nf?.code, 'not-found');
});

test('netascii conversion (RFC 764)', (t) => {
  t.deepEqual(Array.from(toNetascii(Uint8Array.of(0x61, 0x0a, 0x0d, 0x62))), [0x61, 0x0d, 0x0a, 0x0d, 0x00, 0x62]);
});
