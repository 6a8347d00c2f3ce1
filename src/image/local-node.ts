// The node running on this machine (`overlay up`), as an image process sees it through the control
// socket: its key and addresses, its links (to rank servers), its DHT, and the list of image
// processes it shows in `overlay status`.
import type { Dht } from '../../overlay/api.js';
import { controlRequest } from '../control/client.js';
import type { NodeStatus } from '../node.js';
import { controlDht } from './control-dht.js';
import { othersOf, type ImageAnnouncement } from './local-images.js';

export interface LocalNodeInfo {
  network: string;
  publicKey: Uint8Array;
  /** Ring address, 40 hex characters. */
  address: string;
  /** The node's virtual IP, if its virtual network is up. */
  vip: string | undefined;
  /** The virtual network's subnet (CIDR), if it is up. */
  subnet: string | undefined;
  links: NodeStatus['links'];
}

export class LocalNode {
  readonly dht: Dht;

  constructor(readonly socketPath: string) {
    this.dht = controlDht(socketPath);
  }

  async info(): Promise<LocalNodeInfo> {
    const s = (await controlRequest(this.socketPath, { op: 'status' })) as NodeStatus;
    const vnet = s.services?.vnet as { vip?: string; subnet?: string } | undefined;
    return { network: s.network, publicKey: new Uint8Array(Buffer.from(s.publicKey, 'hex')), address: s.address, vip: vnet?.vip ?? undefined, subnet: vnet?.subnet ?? undefined, links: s.links };
  }

  async announce(id: string, role: 'serve' | 'mount', app: string, version: string, detail: Record<string, unknown>, ttlS: number): Promise<void> {
    await controlRequest(this.socketPath, { op: 'image-announce', id, role, app, version, detail, ttlS }, 10_000);
  }

  /** The ring address (hex) of the node whose lease holds `vip`, if any. */
  async ownerOfVip(vip: string): Promise<string | undefined> {
    const r = (await controlRequest(this.socketPath, { op: 'vip-owner', vip }, 10_000)) as { address?: unknown };
    return typeof r?.address === 'string' ? r.address : undefined;
  }

  async withdraw(id: string): Promise<void> {
    await controlRequest(this.socketPath, { op: 'image-withdraw', id }, 5_000);
  }

  /** The other live processes on this node that run `self`'s role, app and version. */
  async othersOf(self: Omit<ImageAnnouncement, 'detail'>): Promise<ImageAnnouncement[]> {
    const s = (await controlRequest(this.socketPath, { op: 'status' })) as NodeStatus;
    return othersOf(s.images ?? [], self);
  }
}

/** How this node reaches a server: itself, a direct link, a relayed link, or routed hop by hop. */
export type ServerPath = 'self' | 'direct' | 'relayed' | 'routed';

/** The path and RTT to the node with ring address `ring` (hex) from this node's links. */
export function pathTo(info: LocalNodeInfo, ring: string): { path: ServerPath; rttMs?: number } {
  if (ring === info.address) return { path: 'self', rttMs: 0 };
  const link = info.links.find((l) => l.remote === ring);
  if (!link) return { path: 'routed' };
  return { path: link.path, ...(link.rttMs !== undefined ? { rttMs: link.rttMs } : {}) };
}

const PATH_RANK: Record<ServerPath, number> = { self: 0, direct: 1, relayed: 2, routed: 3 };

/** Servers best first: this node, then direct links by RTT, then relayed, then routed. */
export function rankByPath<T>(items: T[], info: LocalNodeInfo, ringOf: (t: T) => string): Array<T & { path: ServerPath; rttMs?: number }> {
  return items
    .map((t) => ({ ...t, ...pathTo(info, ringOf(t)) }))
    .sort((a, b) => PATH_RANK[a.path] - PATH_RANK[b.path] || (a.rttMs ?? Infinity) - (b.rttMs ?? Infinity));
}
