// Runs inside a test's network namespace (`ip netns exec NS node native-probe.js MODE IF`), since
// the addon acts on the calling process's namespace:
//   ra-server IF   RaSender on IF (default router, SLAAC prefix fd42:77::/64); prints "ready", and
//                  its counters as JSON on SIGTERM.
//   rs-client IF   opens a raw ICMPv6 socket accepting only RAs, sends a Router Solicitation to
//                  ff02::2 and prints "ra <source> <bytes>" for each RA heard (up to 10 s).
import { systemClock } from '../../lib/clock.js';
import { RaSender } from '../../dhcp/ra/ra-sender.js';
import { Icmp6Socket, ICMP6_ROUTER_ADVERTISEMENT, ICMP6_ROUTER_SOLICITATION } from '../../dhcp/native/icmp6-socket.js';

const RS_WAIT_MS = 10_000;
const [mode, ifname] = process.argv.slice(2);
if (!ifname) throw new Error('usage: native-probe.js ra-server|rs-client IF');

if (mode === 'ra-server') {
  const sender = new RaSender({
    interfaceName: ifname,
    clock: systemClock,
    // Long period: after the first one, RAs go out only in answer to solicitations.
    intervalMs: 600_000,
    advertisement: {
      curHopLimit: 64, managed: false, other: false, routerLifetimeS: 1800, reachableTimeMs: 0, retransTimerMs: 0,
      prefixes: [{ prefix: 'fd42:77::', prefixLength: 64, onLink: true, autonomous: true, validLifetimeS: 86400, preferredLifetimeS: 14400 }],
    },
    log: (line) => console.log(line),
  });
  await sender.start();
  console.log('ready');
  process.on('SIGTERM', () => {
    void sender.close().then(() => {
      console.log(`counters ${JSON.stringify(sender.counters)}`);
      process.exit(0);
    });
  });
} else if (mode === 'rs-client') {
  const socket = Icmp6Socket.open({ interfaceName: ifname, acceptTypes: [ICMP6_ROUTER_ADVERTISEMENT] });
  socket.onMessage((msg, source) => console.log(`ra ${source} ${msg.length}`));
  // RFC 4861 4.1: type 133, code 0, checksum (kernel), 4 reserved bytes.
  socket.send(new Uint8Array([ICMP6_ROUTER_SOLICITATION, 0, 0, 0, 0, 0, 0, 0]), 'ff02::2');
  console.log('rs sent');
  setTimeout(() => {
    socket.close();
  }, RS_WAIT_MS);
} else {
  throw new Error(`unknown mode ${mode}`);
}
