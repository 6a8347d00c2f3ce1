// A real overlay node with the virtual network service, for the harness and bench:vnet. The same
// composition as `overlay up --subnet` (OverlayDaemon + virtualNetworkService + the ICE filter for the
// subnet); kept as its own launcher because its callers parse its "VNET up"/"LEFT" lines and pass
// the MTU positionally. Prints the daemon's lines, "VNET up VIP" once the vnet is up, and on SIGTERM
// leaves cleanly (TUN removed, lease released) and prints "LEFT".
// Usage: node overlay-vnet-node.js STATE_DIR NETWORK SECRET_FILE SUBNET MTU BIND_IP [--listen PORT] [--bootstrap URL] [--ice URL]...
import { resolveNodeConfig } from '../../src/config.js';
import { OverlayDaemon } from '../../src/node.js';
import { candidateOnSubnet, virtualNetworkService } from '../../src/vnet/index.js';
import { Subnet } from '../../dhcp/vip/subnet.js';

const [stateDir, network, secretFile, subnet, mtu, bindAddress, ...rest] = process.argv.slice(2);
let listenPort: number | undefined;
const bootstrap: string[] = [];
const ice: string[] = [];
for (let i = 0; i < rest.length; i += 2) {
  if (rest[i] === '--listen') listenPort = Number(rest[i + 1]);
  else if (rest[i] === '--bootstrap') bootstrap.push(rest[i + 1]!);
  else if (rest[i] === '--ice') ice.push(rest[i + 1]!);
}

async function main() {
  const config = resolveNodeConfig({ network, stateDir, secretFile, bootstrap, listenPort, listenHost: listenPort === undefined ? undefined : bindAddress, ice, bindAddress });
  const vnet = virtualNetworkService({ subnet: subnet!, mtu: Number(mtu) });
  const say = (line: string) => process.stdout.write(`overlay: ${line}\n`);
  const parsed = Subnet.parse(subnet!);
  // Trace switch: OVERLAY_NODE_LOG=1 prints the daemon's diagnostic lines too, with milliseconds since start.
  const t0 = performance.now();
  const log = process.env.OVERLAY_NODE_LOG === '1' ? (line: string) => process.stdout.write(`log ${Math.round(performance.now() - t0)} ${line}\n`) : () => undefined;
  log(`main() ran ${Math.round(t0)} ms after the process started`);
  const daemon = new OverlayDaemon(config, { services: [vnet], say, log, dropCandidate: (c) => candidateOnSubnet(c, parsed) });
  process.on('SIGTERM', () => {
    void daemon.stop().then(() => {
      process.stdout.write('LEFT\n');
      setTimeout(() => process.exit(0), 100);
    });
  });
  await daemon.start();
  process.stdout.write(`VNET up ${vnet.vnet?.vip}\n`);
}
void main().catch((err) => {
  process.stdout.write(`FAILED ${(err as Error).stack}\n`);
  process.exit(2);
});
