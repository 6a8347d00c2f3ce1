// Real DHCP clients (busybox udhcpc, ISC dhclient) against `overlay boot` on a bridge in a
// namespace: obtain, renew (lease 10 s, so T1 = 5 s), release; silence on an unserved interface;
// leases kept across a server restart; fuzzed malformed packets counted and dropped.
import test from 'ava';
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BootLink, lastStats, until } from '../../simulations/harness/boot-link.js';

const CLIENT_SCRIPT = (log: string) => `echo "$1 $ip $reason $new_ip_address" >> ${log}
case "$1$reason" in
  bound|renew|BOUND|RENEW|REBOOT) ip addr flush dev "$interface"; ip addr add "$ip$new_ip_address/24" dev "$interface" ;;
  deconfig|RELEASE|EXPIRE|STOP) ip addr flush dev "$interface" ;;
esac`;

function readLog(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

test('udhcpc obtains, renews and releases a lease; nothing is answered on another interface', async (t) => {
  const link = await BootLink.create('udh', '10.77.1');
  t.teardown(() => link.destroy());
  await link.addUnservedBridge('br1', '10.77.2.1/24');
  const client = await link.addClient();
  const stranger = await link.addClient('br1');
  const leaseFile = join(link.work, 'leases.json');
  const server = await link.startServer(['--range', '10.77.1.50-10.77.1.60', '--lease-time', '10', '--lease-file', leaseFile, '--stats-interval', '1']);

  // The client on the unserved bridge gets nothing.
  const lonely = link.start(stranger.ns, 'udhcpc', ['-f', '-n', '-q', '-i', stranger.ifname, '-t', '3', '-T', '1', '-s', '/bin/true']);
  t.not(await lonely.exited, 0, 'no lease on br1');

  const log = join(link.work, 'udhcpc.log');
  const script = link.writeClientScript('udhcpc', CLIENT_SCRIPT(log));
  const udhcpc = link.start(client.ns, 'udhcpc', ['-f', '-i', client.ifname, '-s', script, '-t', '5', '-T', '1', '-R']);
  await until('udhcpc bound', 15_000, () => /^bound 10\.77\.1\.50/m.test(readLog(log)));
  t.regex((await client.ns.exec('ip', ['-4', 'addr', 'show', client.ifname])).stdout, /10\.77\.1\.50\/24/);
  t.deepEqual(JSON.parse(readFileSync(leaseFile, 'utf8')).leases.map((l: { address: string }) => l.address), ['10.77.1.50']);
  // T1 = 5 s: a real renewal (unicast REQUEST from the bound address).
  await until('udhcpc renewal', 15_000, () => /^renew 10\.77\.1\.50/m.test(readLog(log)));
  await udhcpc.kill(); // -R: release on exit
  const stats = await until('RELEASE counted', 5000, () => {
    const s = lastStats(server.output());
    return s?.dhcp.received.RELEASE >= 1 ? s : undefined;
  });
  t.true(stats.dhcp.sent.ACK >= 2, 'first ACK and renewal ACK');
  t.true(JSON.parse(readFileSync(leaseFile, 'utf8')).leases[0].expiresAtMs <= Date.now(), 'lease ended by RELEASE');
  t.regex(server.output(), /ACK 10\.77\.1\.50/);
  t.is(stats.dhcp.received.DISCOVER, 1, 'only the served link was heard');
});

test('dhclient obtains, renews and releases; the lease survives a server restart', async (t) => {
  const link = await BootLink.create('dhc', '10.77.3');
  t.teardown(() => link.destroy());
  const client = await link.addClient();
  const leaseFile = join(link.work, 'leases.json');
  const args = ['--range', '10.77.3.20-10.77.3.30', '--lease-time', '10', '--lease-file', leaseFile, '--stats-interval', '1', '--no-ra'];
  let server = await link.startServer(args);
  const log = join(link.work, 'dhclient.log');
  const script = link.writeClientScript('dhclient', CLIENT_SCRIPT(log));
  const files = ['-sf', script, '-pf', join(link.work, 'dhclient.pid'), '-lf', join(link.work, 'dhclient.leases')];
  const dhclient = link.start(client.ns, 'dhclient', ['-d', '-v', ...files, client.ifname]);
  await until('dhclient BOUND', 20_000, () => /BOUND 10\.77\.3\.20/.test(readLog(log)));

  // Restart the server: the lease table comes back from the file, so the renewal is ACKed, not NAKed.
  await server.kill();
  server = await link.startServer(args);
  await until('dhclient RENEW', 20_000, () => /RENEW 10\.77\.3\.20/.test(readLog(log)));
  const renewStats = lastStats(server.output()) ?? {};
  t.falsy(renewStats.dhcp?.sent?.NAK, 'no NAK after restart');

  await dhclient.kill();
  const release = link.start(client.ns, 'dhclient', ['-r', '-v', ...files, client.ifname]);
  t.is(await release.exited, 0);
  await until('RELEASE counted', 5000, () => lastStats(server.output())?.dhcp.received.RELEASE >= 1 || undefined);
  t.true(JSON.parse(readFileSync(leaseFile, 'utf8')).leases[0].expiresAtMs <= Date.now());
});

test('fuzzed malformed DHCP packets are counted and dropped; the server still serves', async (t) => {
  const link = await BootLink.create('dfz', '10.77.4');
  t.teardown(() => link.destroy());
  const client = await link.addClient();
  await client.ns.exec('ip', ['addr', 'add', '10.77.4.9/24', 'dev', client.ifname]);
  const server = await link.startServer(['--stats-interval', '1', '--no-ra', '--quiet']);
  // A sender inside the client namespace: random bytes and mutated DHCP headers, broadcast to port 67,
  // paced so that no datagram is lost to a full socket buffer (each one must be accounted for).
  const fuzzer = `
const dgram = require('node:dgram'); const s = dgram.createSocket('udp4');
let seed = 12345; const rnd = (n) => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
s.bind(0, () => { s.setBroadcast(true); let i = 0;
  const next = () => { if (i++ >= 400) return s.close();
    const len = i % 2 ? rnd(600) : 240 + rnd(60); const b = Buffer.alloc(len);
    for (let j = 0; j < len; j++) b[j] = rnd(256);
    if (!(i % 2) && len >= 240) { b[0] = 1; b[2] = 6; b.writeUInt32BE(0x63825363, 236); b[240] = 53; b[241] = 200; }
    s.send(b, 67, '10.77.4.255', () => setTimeout(next, i % 20 ? 0 : 30)); };
  next(); });`;
  const f = link.start(client.ns, 'node', ['-e', fuzzer]);
  t.is(await f.exited, 0, f.output());
  const stats = await until('malformed counted', 10_000, () => {
    const s = lastStats(server.output());
    return s && s.dhcp.listener.malformed + s.dhcp.ignored === 400 ? s : undefined;
  }).catch((err) => {
    throw new Error(`${(err as Error).message}\n${server.output().slice(-1500)}`);
  });
  t.is(stats.dhcp.listener.datagrams, 400);
  t.true(stats.dhcp.listener.malformed >= 300, 'most are undecodable; the rest decode but are no DHCP request');
  const udhcpc = link.start(client.ns, 'udhcpc', ['-f', '-n', '-q', '-i', client.ifname, '-t', '5', '-T', '1', '-s', '/bin/true']);
  t.is(await udhcpc.exited, 0, udhcpc.output());
  t.regex(udhcpc.output(), /lease of 10\.77\.4\.\d+ obtained/);
});
