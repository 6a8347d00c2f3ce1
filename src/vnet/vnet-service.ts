// The virtual network as a NodeService (src/node.ts): `overlay up` passes
//   services: [virtualNetworkService({ subnet: '10.128.0.0/16' })]
// and the node starts it once joined: lease a vIP, bring up the TUN, forward packets, and route the
// overlay's data-channel packets (overlay.onData) into the forwarder. The address is remembered in
// STATE/vip and preferred on the next start. `down` stops it: TUN removed, lease released.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeContext, NodeService } from '../node.js';
import { startVirtualNetwork, type VirtualNetwork, type VirtualNetworkOptions } from './virtual-network.js';

export interface VirtualNetworkServiceOptions {
  /** CIDR, e.g. "10.128.0.0/16" (--subnet). */
  subnet: string;
  /** TUN name (default ovl0). */
  ifname?: string;
  /** TUN MTU (default DEFAULT_VNET_MTU). */
  mtu?: number;
  /** Address to try first; default the one in STATE/vip from the last run. */
  preferredVip?: string;
  /** Device factory (tests pass a MemoryDevice); default the real TUN. */
  openDevice?: VirtualNetworkOptions['openDevice'];
  /** Probation of a claimed address, in use meanwhile (default 1 s; tests with a manual clock pass 0). */
  leaseConfirmMs?: number;
}

export const VIP_STATE_FILE = 'vip';

export function virtualNetworkService(options: VirtualNetworkServiceOptions): NodeService & { readonly vnet: VirtualNetwork | undefined } {
  let vnet: VirtualNetwork | undefined;
  return {
    name: 'vnet',
    get vnet() {
      return vnet;
    },
    async start(ctx: NodeContext) {
      const stateFile = join(ctx.config.stateDir, VIP_STATE_FILE);
      let preferred = options.preferredVip;
      if (!preferred) {
        try {
          preferred = readFileSync(stateFile, 'utf8').trim() || undefined;
        } catch {
          /* first run */
        }
      }
      const start = (pref: string | undefined) =>
        startVirtualNetwork(ctx.overlay, {
          network: ctx.config.network,
          subnet: options.subnet,
          ownerKey: ctx.identity.publicKey,
          ifname: options.ifname,
          mtu: options.mtu,
          preferredVip: pref,
          clock: ctx.clock,
          openDevice: options.openDevice,
          leaseConfirmMs: options.leaseConfirmMs,
          log: ctx.log,
        });
      try {
        vnet = await start(preferred);
      } catch (err) {
        // A remembered address from another subnet is refused: start without it.
        if (preferred && options.preferredVip === undefined && (err as Error).name === 'VipLeaseError') vnet = await start(undefined);
        else throw err;
      }
      const v = vnet;
      ctx.overlay.onData((from, packet) => v.receiveLinkData(packet, from));
      try {
        writeFileSync(stateFile, `${v.vip}\n`);
      } catch {
        /* read-only state dir: the address is just not remembered */
      }
      ctx.log(`virtual IP ${v.vip} on ${v.status().ifname} (${options.subnet})`);
    },
    async stop() {
      await vnet?.stop();
    },
    status() {
      return vnet?.status();
    },
    async ownerOfVip(vip: string) {
      return vnet?.ownerOf(vip);
    },
  };
}
