import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalRangePool } from '../../dhcp/address-pool.js';
import { LeaseFile, LeaseFileError } from '../../dhcp/server/lease-file.js';

function tmp(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'pool-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('leases survive a restart through the lease file, and a returning client gets its address back', async (t) => {
  const file = join(tmp(t), 'leases.json');
  let now = 1_000_000;
  const a = new LocalRangePool({ first: '10.0.0.10', last: '10.0.0.12', exclude: ['10.0.0.10'], now: () => now, leaseFile: new LeaseFile(file) });
  t.is(await a.offer('c1'), '10.0.0.11');
  t.truthy(await a.claim('c1', '10.0.0.11', 60));
  t.is(await a.offer('c2'), '10.0.0.12');
  await a.close();
  const b = new LocalRangePool({ first: '10.0.0.10', last: '10.0.0.12', exclude: ['10.0.0.10'], now: () => now, leaseFile: new LeaseFile(file) });
  t.is((await b.leaseOf('c1'))?.address, '10.0.0.11');
  t.is(await b.claim('c2', '10.0.0.11', 60), undefined, 'held by c1 after restart');
  now += 61_000;
  t.is(await b.leaseOf('c1'), undefined, 'expired');
  t.is(await b.offer('c1'), '10.0.0.11', 'previous address preferred');
  t.true(JSON.parse(readFileSync(file, 'utf8')).leases.length >= 1);
});

test('exhaustion, release, decline and offer reservations', async (t) => {
  let now = 0;
  const p = new LocalRangePool({ first: '10.0.0.1', last: '10.0.0.2', now: () => now, declineHoldMs: 1000 });
  t.is(await p.offer('a'), '10.0.0.1');
  t.is(await p.offer('b'), '10.0.0.2', 'offered address is reserved for a');
  t.is(await p.offer('c'), undefined, 'exhausted');
  t.truthy(await p.claim('a', '10.0.0.1', 100));
  t.truthy(await p.claim('b', '10.0.0.2', 100));
  await p.release('a', '10.0.0.1');
  t.is(await p.offer('c'), '10.0.0.1');
  await p.decline('c', '10.0.0.1');
  t.is(await p.claim('c', '10.0.0.1', 100), undefined, 'declined address out of service');
  now += 1001;
  t.truthy(await p.claim('c', '10.0.0.1', 100));
  t.false(p.contains('10.0.0.3'));
  t.is(await p.claim('c', '10.0.0.3', 100), undefined);
});

test('a corrupt lease file is a typed error', (t) => {
  const file = join(tmp(t), 'leases.json');
  writeFileSync(file, '{not json');
  t.throws(() => new LeaseFile(file).load(), { instanceOf: LeaseFileError });
  writeFileSync(file, JSON.stringify({ version: 1, leases: [{ clientId: 1 }] }));
  t.throws(() => new LeaseFile(file).load(), { instanceOf: LeaseFileError });
});

test('a DECLINE counts only from the client the address was offered or leased to (RFC 2131 4.3.3)', async (t) => {
  let now = 0;
  const p = new LocalRangePool({ first: '10.0.0.1', last: '10.0.0.3', now: () => now, offerHoldMs: 1000 });
  t.truthy(await p.claim('holder', '10.0.0.1', 100));
  t.is(await p.offer('offered'), '10.0.0.2');
  t.false(await p.decline('spoofer', '10.0.0.1'), 'leased to another client');
  t.false(await p.decline('spoofer', '10.0.0.2'), 'offered to another client');
  t.false(await p.decline('spoofer', '10.0.0.3'), 'neither offered nor leased');
  t.false(await p.decline('spoofer', '10.9.9.9'), 'outside the pool');
  t.is((await p.leaseOf('holder'))?.address, '10.0.0.1', 'the holder keeps its lease');
  t.truthy(await p.claim('holder', '10.0.0.1', 100), 'and renews it');
  t.truthy(await p.claim('other', '10.0.0.3', 100), 'nothing was taken out of service');
  now += 1001;
  t.false(await p.decline('offered', '10.0.0.2'), 'an expired offer no longer counts');
  t.is(await p.offer('offered'), '10.0.0.2');
  t.true(await p.decline('offered', '10.0.0.2'));
  t.true(await p.decline('holder', '10.0.0.1'));
  t.is(await p.leaseOf('holder'), undefined);
  t.is(await p.offer('new'), undefined, 'both declined addresses are out of service');
});
