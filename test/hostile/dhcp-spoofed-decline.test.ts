// Hostile clients: spoofed DHCPDECLINEs (issue 11, item 4). `overlay boot` used to take an address
// out of service for 10 minutes on any DECLINE naming it, whoever sent it: 100 such packets under
// made-up hardware addresses emptied a 10-address pool, a new client got nothing and the client
// holding an address was NAKed at its next renewal. A DECLINE is now honoured only from the client
// the address was offered or leased to (RFC 2131 4.3.3; ISC Kea does the same), which a real
// client's own DECLINE (udhcpc's ARP check finding the address taken) still is.
// Everything runs in namespaces the test creates: a bridge with the server, a victim, an attacker.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BootLink, lastStats, until } from '../../simulations/harness/boot-link.js';
import { spoofedDeclineScript } from '../../bench/hostile/spoofed-declines.js';

const SUBNET = '10.77.41';
const RANGE_FIRST = 50;
const RANGE_ADDRESSES = 10;
const SPOOFED = 100;

const CLIENT_SCRIPT = (log: string) => `echo "$1 $ip" >> ${log}
case "$1" in
  bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/24" dev "$interface" ;;
  deconfig|nak) ip addr flush dev "$interface" ;;
esac`;

function readLog(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

test('100 spoofed DECLINEs take no address: the holder renews, a newcomer gets one, a real DECLINE still counts', async (t) => {
  const link = await BootLink.create('dcl', SUBNET);
  t.teardown(() => link.destroy());
  const victim = await link.addClient();
  const intruder = await link.addClient();
  const squatter = await link.addClient();
  const newcomer = await link.addClient();
  const last = RANGE_FIRST + RANGE_ADDRESSES - 1;
  const server = await link.startServer([
    '--range', `${SUBNET}.${RANGE_FIRST}-${SUBNET}.${last}`, '--lease-time', '10',
    '--lease-file', join(link.work, 'leases.json'), '--stats-interval', '1', '--no-ra',
  ]);

  const log = join(link.work, 'victim.log');
  link.start(victim.ns, 'udhcpc', ['-f', '-i', victim.ifname, '-s', link.writeClientScript('victim', CLIENT_SCRIPT(log)), '-t', '5', '-T', '1']);
  await until('victim bound', 15_000, () => readLog(log).includes(`bound ${SUBNET}.${RANGE_FIRST}`));

  await intruder.ns.exec('ip', ['addr', 'add', `${SUBNET}.9/24`, 'dev', intruder.ifname]);
  const attacker = spoofedDeclineScript({ subnet: SUBNET, rangeFirst: RANGE_FIRST, rangeAddresses: RANGE_ADDRESSES, count: SPOOFED });
  const a = link.start(intruder.ns, 'node', ['--input-type=module', '-e', attacker]);
  t.is(await a.exited, 0, a.output());
  const stats = await until('DECLINEs counted', 10_000, () => {
    const s = lastStats(server.output());
    return s?.dhcp.received.DECLINE === SPOOFED ? s : undefined;
  }).catch((err: Error) => {
    throw new Error(`${err.message}\n${server.output().slice(-1500)}`);
  });
  t.is(stats.dhcp.declinesHonoured, 0, 'no spoofed DECLINE honoured');
  t.is(stats.dhcp.declinesIgnored, SPOOFED);

  // The holder's renewal (T1 = 5 s) is ACKed, not NAKed.
  const renewalsBefore = readLog(log).split('\n').filter((l) => l.startsWith('renew')).length;
  await until('victim renewed after the attack', 15_000, () =>
    readLog(log).split('\n').filter((l) => l === `renew ${SUBNET}.${RANGE_FIRST}`).length > renewalsBefore || undefined);
  const sinceBound = readLog(log).slice(readLog(log).indexOf('bound '));
  t.notRegex(sinceBound, /^(nak|deconfig)/m, 'the holder never lost its address');

  // A real DECLINE: the squatter holds the next address statically; the newcomer's ARP check finds
  // it taken, DECLINEs it (honoured: it was offered to the newcomer) and takes the one after.
  await squatter.ns.exec('ip', ['addr', 'add', `${SUBNET}.${RANGE_FIRST + 1}/24`, 'dev', squatter.ifname]);
  const n = link.start(newcomer.ns, 'udhcpc', ['-f', '-n', '-q', '-a', '-A', '1', '-i', newcomer.ifname, '-t', '8', '-T', '1', '-s', '/bin/true']);
  t.is(await n.exited, 0, n.output());
  t.regex(n.output(), new RegExp(`lease of ${SUBNET.replace(/\./g, '\\.')}\\.${RANGE_FIRST + 2} obtained`), n.output());
  const after = await until('real DECLINE counted', 5_000, () => {
    const s = lastStats(server.output());
    return s?.dhcp.declinesHonoured === 1 ? s : undefined;
  });
  t.is(after.dhcp.declinesIgnored, SPOOFED);
});
