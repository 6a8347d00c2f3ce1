// One node of the real virtual network in a namespace: TUN + DHT lease (through the relay's DHT) +
// forwarder, linked to one peer by PairOverlay. Prints "VNET up VIP", "PATH direct|relayed DETAIL ms",
// and on SIGTERM "STATUS {json}" after stopping (TUN removed, lease released).
// Usage: node vnet-peer.js RELAY_URL NAME PEER offer|answer direct|routed|shortcut MTU SUBNET [ICE...]
import { randomBytes } from 'node:crypto';
import { addressOfKey } from '../../overlay/identity.js';
import { startVirtualNetwork, type VirtualNetwork } from '../../src/vnet/index.js';
import { RelayClient } from './relay-client.js';
import { Subnet } from '../../dhcp/vip/subnet.js';
import { PairOverlay, type DirectMode } from './pair-overlay.js';

const [url, name, peer, role, mode, mtu, subnet, ...iceServers] = process.argv.slice(2);

async function main() {
  const ownerKey = randomBytes(32);
  const ring = addressOfKey(ownerKey);
  const relay = await RelayClient.connect(url!, name!, ownerKey);
  // Learn the peer's ring address before anything else uses the relay's message handler.
  const peerRing = await new Promise<bigint>((resolve) => {
    relay.onMessage((from, data) => {
      const m = data as { k?: string; ring?: string };
      if (from === peer && m.k === 'ring' && m.ring) {
        relay.send(peer!, { k: 'ring', ring: ring.toString(16) });
        resolve(BigInt(`0x${m.ring}`));
      }
    });
    void relay.waitFor(peer!).then(() => relay.send(peer!, { k: 'ring', ring: ring.toString(16) }));
  });
  let vnet: VirtualNetwork | undefined;
  const early: Array<[Uint8Array, bigint]> = [];
  const overlay = new PairOverlay(ring, {
    relay,
    peer: peer!,
    peerRing,
    role: role as 'offer' | 'answer',
    mode: mode as DirectMode,
    iceServers,
    excludeSubnet: Subnet.parse(subnet!),
    onLinkData: (p, from) => (vnet ? vnet.receiveLinkData(p, from) : early.push([p, from])),
    onPath: (i) => process.stdout.write(`PATH ${i.path} ${i.detail} ${Math.round(i.connectMs)}\n`),
  });
  // Bench knob: VNET_MAX_BUNDLE_BYTES (bytes; 0 disables bundling).
  const bundle = process.env.VNET_MAX_BUNDLE_BYTES;
  const forwarder = bundle !== undefined ? { maxBundleBytes: Number(bundle) } : undefined;
  vnet = await startVirtualNetwork(overlay, { network: 'harness', subnet: subnet!, ownerKey, ifname: 'ovl0', mtu: Number(mtu), forwarder });
  for (const [p, f] of early.splice(0)) vnet.receiveLinkData(p, f);
  process.stdout.write(`VNET up ${vnet.vip}\n`);
  process.on('SIGTERM', () => {
    void (async () => {
      await vnet!.stop();
      process.stdout.write(`STATUS ${JSON.stringify({ ...vnet!.status(), shortcutRequests: overlay.shortcutRequests })}\n`);
      overlay.close();
      relay.close();
      setTimeout(() => process.exit(0), 50);
    })();
  });
}
void main().catch((err) => {
  process.stdout.write(`FAILED ${(err as Error).stack}\n`);
  process.exit(2);
});
