import test from 'ava';
import { LocalRangePool } from '../../dhcp/address-pool.js';
import { DhcpMessageType, DhcpOption, ipsValue, readIp, readString, stringValue, u32Value } from '../../dhcp/server/dhcp-options.js';
import { BOOTREQUEST, type DhcpPacket } from '../../dhcp/server/dhcp-packet.js';
import { DhcpServer } from '../../dhcp/server/dhcp-server.js';

const MAC = Uint8Array.of(0x52, 0x54, 0, 0x12, 0x34, 0x56);

function request(type: number, opts: Array<[number, Uint8Array]> = [], fields: Partial<DhcpPacket> = {}): DhcpPacket {
  return {
    op: BOOTREQUEST, htype: 1, hlen: 6, hops: 0, xid: 0x1234, secs: 0, flags: 0,
    ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
    chaddr: MAC, sname: '', file: '', options: new Map([[DhcpOption.MESSAGE_TYPE, Uint8Array.of(type)], ...opts]), ...fields,
  };
}

function setup() {
  let now = 1_000_000;
  const pool = new LocalRangePool({ first: '10.1.0.100', last: '10.1.0.101', now: () => now });
  const server = new DhcpServer({
    serverAddress: '10.1.0.1', subnetMask: '255.255.255.0', router: '10.1.0.1', dnsServers: ['10.1.0.53'],
    leaseSeconds: 600, rootPath: '10.1.0.1:/export/root',
    bootFiles: { ipxe: 'boot.ipxe', bios: 'undionly.kpxe', efi64: 'ipxe.efi' },
  }, pool);
  return { server, pool, advance: (ms: number) => (now += ms) };
}

const SERVER_ID: [number, Uint8Array] = [DhcpOption.SERVER_ID, ipsValue(['10.1.0.1'])];

test('DISCOVER -> OFFER -> REQUEST -> ACK with lease, T1/T2, subnet, router, DNS, root path', async (t) => {
  const { server } = setup();
  const offer = (await server.handle(request(DhcpMessageType.DISCOVER)))!;
  t.is(offer.packet.options.get(DhcpOption.MESSAGE_TYPE)![0], DhcpMessageType.OFFER);
  t.is(offer.packet.yiaddr, '10.1.0.100');
  t.is(offer.address, '255.255.255.255');
  t.is(offer.port, 68);
  const ack = (await server.handle(request(DhcpMessageType.REQUEST, [SERVER_ID, [DhcpOption.REQUESTED_ADDRESS, ipsValue(['10.1.0.100'])]])))!;
  const o = ack.packet.options;
  t.is(o.get(DhcpOption.MESSAGE_TYPE)![0], DhcpMessageType.ACK);
  t.deepEqual(o.get(DhcpOption.LEASE_TIME), u32Value(600));
  t.deepEqual(o.get(DhcpOption.RENEWAL_TIME), u32Value(300));
  t.deepEqual(o.get(DhcpOption.REBINDING_TIME), u32Value(525));
  t.is(readIp(o.get(DhcpOption.SUBNET_MASK)), '255.255.255.0');
  t.is(readIp(o.get(DhcpOption.ROUTER)), '10.1.0.1');
  t.is(readIp(o.get(DhcpOption.DNS_SERVERS)), '10.1.0.53');
  t.is(readString(o.get(DhcpOption.ROOT_PATH)), '10.1.0.1:/export/root');
  t.is(ack.packet.xid, 0x1234);
});

test('renewal is unicast to ciaddr; a request for a foreign or taken address is NAKed', async (t) => {
  const { server, pool } = setup();
  await server.handle(request(DhcpMessageType.REQUEST, [SERVER_ID, [DhcpOption.REQUESTED_ADDRESS, ipsValue(['10.1.0.100'])]]));
  const renew = (await server.handle(request(DhcpMessageType.REQUEST, [], { ciaddr: '10.1.0.100' })))!;
  t.is(renew.packet.options.get(DhcpOption.MESSAGE_TYPE)![0], DhcpMessageType.ACK);
  t.is(renew.address, '10.1.0.100');
  t.is(renew.packet.ciaddr, '10.1.0.100');
  const foreign = (await server.handle(request(DhcpMessageType.REQUEST, [[DhcpOption.REQUESTED_ADDRESS, ipsValue(['192.168.1.5'])]])))!;
  t.is(foreign.packet.options.get(DhcpOption.MESSAGE_TYPE)![0], DhcpMessageType.NAK);
  t.is(foreign.address, '255.255.255.255');
  const other = request(DhcpMessageType.REQUEST, [SERVER_ID, [DhcpOption.REQUESTED_ADDRESS, ipsValue(['10.1.0.100'])]], { chaddr: Uint8Array.of(1, 1, 1, 1, 1, 1) });
  t.is((await server.handle(other))!.packet.options.get(DhcpOption.MESSAGE_TYPE)![0], DhcpMessageType.NAK);
  t.is((await pool.leaseOf(DhcpServer.clientIdOf(request(1))))?.address, '10.1.0.100');
});

test('REQUEST naming another server is ignored; RELEASE frees; DECLINE quarantines; INFORM gets no lease', async (t) => {
  const { server, pool } = setup();
  t.is(await server.handle(request(DhcpMessageType.REQUEST, [[DhcpOption.SERVER_ID, ipsValue(['10.1.0.2'])], [DhcpOption.REQUESTED_ADDRESS, ipsValue(['10.1.0.100'])]])), undefined);
  await server.handle(request(DhcpMessageType.REQUEST, [SERVER_ID, [DhcpOption.REQUESTED_ADDRESS, ipsValue(['10.1.0.100'])]]));
  await server.handle(request(DhcpMessageType.RELEASE, [SERVER_ID], { ciaddr: '10.1.0.100' }));
  const id = DhcpServer.clientIdOf(request(1));
  t.is(await pool.leaseOf(id), undefined);
  await server.handle(request(DhcpMessageType.DECLINE, [SERVER_ID, [DhcpOption.REQUESTED_ADDRESS, ipsValue(['10.1.0.100'])]]));
  const offer = (await server.handle(request(DhcpMessageType.DISCOVER)))!;
  t.is(offer.packet.yiaddr, '10.1.0.101', 'declined address skipped');
  const inform = (await server.handle(request(DhcpMessageType.INFORM, [], { ciaddr: '10.1.0.77' })))!;
  t.is(inform.packet.options.get(DhcpOption.MESSAGE_TYPE)![0], DhcpMessageType.ACK);
  t.false(inform.packet.options.has(DhcpOption.LEASE_TIME));
  t.is(inform.packet.yiaddr, '0.0.0.0');
  t.is(inform.address, '10.1.0.77');
  t.is(server.counters.received.DECLINE, 1);
});

test('boot file: iPXE (option 77) gets its script, legacy BIOS and UEFI PXE (options 60/93) get their programs', async (t) => {
  const { server } = setup();
  const pxe = (arch: number): Array<[number, Uint8Array]> => [
    [DhcpOption.VENDOR_CLASS_ID, stringValue(`PXEClient:Arch:0000${arch}:UNDI:002001`)],
    [DhcpOption.CLIENT_ARCH, Uint8Array.of(0, arch)],
  ];
  const file = async (opts: Array<[number, Uint8Array]>) => {
    const r = (await server.handle(request(DhcpMessageType.DISCOVER, opts)))!;
    t.is(r.packet.siaddr, '10.1.0.1');
    return [r.packet.file, readString(r.packet.options.get(DhcpOption.BOOTFILE_NAME))];
  };
  t.deepEqual(await file(pxe(0)), ['undionly.kpxe', 'undionly.kpxe']);
  t.deepEqual(await file(pxe(7)), ['ipxe.efi', 'ipxe.efi']);
  t.deepEqual(await file([...pxe(0), [DhcpOption.USER_CLASS, stringValue('iPXE')]]), ['boot.ipxe', 'boot.ipxe']);
  const ipxe = (await server.handle(request(DhcpMessageType.DISCOVER, [[DhcpOption.USER_CLASS, stringValue('iPXE')]])))!;
  t.deepEqual(Array.from(ipxe.packet.options.get(DhcpOption.IPXE_ENCAPSULATED)!), [176, 1, 1], 'no ProxyDHCP wait');
  t.deepEqual(await file([]), ['', undefined], 'plain DHCP client gets no boot file');
});

test('malformed requests (BOOTREPLY, no message type, relayed reply addressing)', async (t) => {
  const { server } = setup();
  t.is(await server.handle({ ...request(1), op: 2 }), undefined);
  const bootp = request(1);
  bootp.options.delete(DhcpOption.MESSAGE_TYPE);
  t.is(await server.handle(bootp), undefined);
  t.is(server.counters.ignored, 2);
  const relayed = (await server.handle(request(DhcpMessageType.DISCOVER, [], { giaddr: '10.1.0.254' })))!;
  t.deepEqual([relayed.address, relayed.port, relayed.packet.giaddr], ['10.1.0.254', 67, '10.1.0.254']);
});
