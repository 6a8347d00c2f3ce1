// The built-in STUN server on loopback: real UDP, a real third-party client (coturn's
// turnutils_stunclient), hostile datagrams dropped and counted, the per-source rate limit.
import test from 'ava';
import { createSocket, type Socket } from 'node:dgram';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { systemClock, type Clock } from '../../lib/clock.js';
import { StunServer } from '../../overlay/stun/stun-server.js';
import { answerStun } from '../../overlay/stun/stun-responder.js';
import {
  ATTR_ERROR_CODE,
  ATTR_UNKNOWN_ATTRIBUTES,
  ATTR_XOR_MAPPED_ADDRESS,
  decodeErrorCode,
  decodeStunMessage,
  decodeUnknownAttributes,
  decodeXorMappedAddress,
  encodeStunMessage,
  StunClass,
  STUN_METHOD_BINDING,
} from '../../overlay/stun/stun-codec.js';

const execFileP = promisify(execFile);
const tid = Uint8Array.from({ length: 12 }, (_, i) => 0xa0 + i);
const request = (attributes: Array<{ type: number; value: Uint8Array }> = [], fingerprint = false) =>
  encodeStunMessage({ method: STUN_METHOD_BINDING, cls: StunClass.Request, transactionId: tid, attributes, fingerprint });

async function withServer(t: { teardown(f: () => void | Promise<void>): void }, o: { clock?: Clock; ratePerSecond?: number; burst?: number; maxSources?: number } = {}): Promise<StunServer> {
  const s = await StunServer.listen({ host: '127.0.0.1', port: 0, clock: o.clock ?? systemClock, ...o });
  t.teardown(() => s.close());
  return s;
}

function client(t: { teardown(f: () => void): void }): Promise<Socket> {
  return new Promise((resolve) => {
    const c = createSocket('udp4');
    t.teardown(() => c.close());
    c.bind(0, '127.0.0.1', () => resolve(c));
  });
}

function reply(c: Socket, ms: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => (c.off('message', on), resolve(undefined)), ms);
    const on = (m: Buffer) => (clearTimeout(timer), c.off('message', on), resolve(m));
    c.on('message', on);
  });
}

test('a Binding request over UDP gets a success response with XOR-MAPPED-ADDRESS = the source and a FINGERPRINT', async (t) => {
  const s = await withServer(t);
  const c = await client(t);
  c.send(request([], true), s.port, '127.0.0.1');
  const r = await reply(c, 2000);
  t.truthy(r);
  const { message } = decodeStunMessage(r!);
  t.is(message.cls, StunClass.SuccessResponse);
  t.deepEqual(message.transactionId, tid);
  t.true(message.fingerprint);
  const xma = message.attributes.find((a) => a.type === ATTR_XOR_MAPPED_ADDRESS)!;
  t.deepEqual(decodeXorMappedAddress(xma.value, tid), { family: 4, address: '127.0.0.1', port: c.address().port });
  t.is(s.counters.answered, 1);
});

test('on a dual-stack socket an IPv4 client gets an IPv4 XOR-MAPPED-ADDRESS', async (t) => {
  const s = await StunServer.listen({ host: '::', port: 0, clock: systemClock });
  t.teardown(() => s.close());
  const c = await client(t);
  c.send(request(), s.port, '127.0.0.1');
  const r = await reply(c, 2000);
  t.truthy(r);
  const m = decodeStunMessage(r!).message;
  t.deepEqual(decodeXorMappedAddress(m.attributes.find((a) => a.type === ATTR_XOR_MAPPED_ADDRESS)!.value, tid), { family: 4, address: '127.0.0.1', port: c.address().port });
});

test('coturn\'s STUN client (a third-party implementation) reads our answer', async (t) => {
  const s = await withServer(t);
  const r = await execFileP('turnutils_stunclient', ['-p', String(s.port), '127.0.0.1'], { timeout: 10_000 }).catch((e: { stdout?: string; message: string }) => ({ stdout: e.stdout ?? e.message }));
  t.regex(r.stdout, /UDP reflexive addr: 127\.0\.0\.1:\d+/, r.stdout);
  t.true(s.counters.answered >= 1);
});

test('an unknown comprehension-required attribute gets 420 with UNKNOWN-ATTRIBUTES (RFC 8489 6.3.1.1); ICE attributes do not', (t) => {
  const src = { family: 4 as const, address: '10.0.0.1', port: 5000 };
  const a = answerStun(request([{ type: 0x0003, value: new Uint8Array(4) }, { type: 0x8055, value: new Uint8Array(1) }]), src); // CHANGE-REQUEST (RFC 5780); an optional one
  t.true('reply' in a && a.kind === 'unknown_attribute');
  const m = decodeStunMessage((a as { reply: Uint8Array }).reply).message;
  t.is(m.cls, StunClass.ErrorResponse);
  t.is(decodeErrorCode(m.attributes.find((x) => x.type === ATTR_ERROR_CODE)!.value).code, 420);
  t.deepEqual(decodeUnknownAttributes(m.attributes.find((x) => x.type === ATTR_UNKNOWN_ATTRIBUTES)!.value), [0x0003]);
  const ice = answerStun(request([{ type: 0x0006, value: new TextEncoder().encode('a:b') }, { type: 0x0024, value: new Uint8Array(4) }, { type: 0x0008, value: new Uint8Array(20) }]), src);
  t.true('reply' in ice && ice.kind === 'binding');
});

test('hostile datagrams are dropped and counted, never answered', async (t) => {
  const s = await withServer(t);
  const c = await client(t);
  const resp = encodeStunMessage({ method: STUN_METHOD_BINDING, cls: StunClass.SuccessResponse, transactionId: tid, attributes: [], fingerprint: false });
  const allocate = encodeStunMessage({ method: 0x003, cls: StunClass.Request, transactionId: tid, attributes: [], fingerprint: false });
  const badFingerprint = request([], true);
  badFingerprint[badFingerprint.length - 1] = badFingerprint[badFingerprint.length - 1]! ^ 0xff;
  const junk = [Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.alloc(0), resp, allocate, badFingerprint, Buffer.concat([request(), Buffer.from([0, 0, 0, 0])]), Buffer.alloc(2000, 1)];
  for (const j of junk) c.send(j, s.port, '127.0.0.1');
  t.is(await reply(c, 500), undefined);
  t.is(s.counters.answered, 0);
  t.is(s.counters.dropped_malformed, 3);
  t.is(s.counters.dropped_not_binding_request, 2);
  t.is(s.counters.dropped_trailing_bytes, 1);
  t.is(s.counters.dropped_oversize, 1);
  // Still answers a good request afterwards.
  c.send(request(), s.port, '127.0.0.1');
  t.truthy(await reply(c, 2000));
});

test('per-source rate limit: a burst, then the sustained rate; the table of sources is bounded', async (t) => {
  let now = 0;
  const clock: Clock = { ...systemClock, now: () => now };
  const s = await withServer(t, { clock, ratePerSecond: 10, burst: 5, maxSources: 3 });
  const req = request();
  const answered = () => s.counters.answered;
  for (let i = 0; i < 20; i++) s.onDatagram(req, '10.0.0.1', 1000, 'IPv4');
  t.is(answered(), 5);
  t.is(s.counters.dropped_rate_limited, 15);
  now += 1000; // refills 10, capped at the burst of 5
  for (let i = 0; i < 20; i++) s.onDatagram(req, '10.0.0.1', 1000, 'IPv4');
  t.is(answered(), 10);
  // Another source has its own budget.
  s.onDatagram(req, '10.0.0.2', 1000, 'IPv4');
  s.onDatagram(req, '10.0.0.3', 1000, 'IPv4');
  t.is(answered(), 12);
  // A fourth source while all three are busy: dropped, not admitted at their expense.
  s.onDatagram(req, '10.0.0.4', 1000, 'IPv4');
  t.is(s.counters.dropped_sources_full, 1);
  // Once the others have refilled (idle), they make room.
  now += 5000;
  s.onDatagram(req, '10.0.0.4', 1000, 'IPv4');
  t.is(answered(), 13);
});
