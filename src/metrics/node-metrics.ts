// What `overlay up --metrics` exposes: the figures of `overlay status --json` as Prometheus metric
// families. Every counter of the overlay, the connector, the bootstrap endpoint and the virtual
// network becomes overlay_<part>_<name>_total; links, DHT records, lease and uptime are gauges.
import type { NodeStatus } from '../node.js';
import type { VirtualNetworkStatus } from '../vnet/index.js';
import { metricName, type MetricFamily } from './prometheus-text.js';

function counterFamilies(prefix: string, what: string, counters: Record<string, number> | undefined): MetricFamily[] {
  return Object.entries(counters ?? {})
    .filter(([, v]) => typeof v === 'number' && Number.isFinite(v))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => ({ name: `${prefix}_${metricName(name)}_total`, help: `${what} counter ${name} (overlay status --json)`, type: 'counter' as const, samples: [{ value }] }));
}

function isVnetStatus(v: unknown): v is VirtualNetworkStatus {
  return typeof v === 'object' && v !== null && 'peers' in v && 'counters' in v;
}

export function nodeMetricFamilies(s: NodeStatus): MetricFamily[] {
  const links = new Map<string, { kind: string; path: string; n: number }>();
  for (const l of s.links) {
    const key = `${l.kind}/${l.path}`;
    const e = links.get(key) ?? { kind: l.kind, path: l.path, n: 0 };
    e.n++;
    links.set(key, e);
  }
  const families: MetricFamily[] = [
    { name: 'overlay_node_info', help: 'The node: network name and ring address (value always 1)', type: 'gauge', samples: [{ labels: { network: s.network, address: s.address }, value: 1 }] },
    { name: 'overlay_joined', help: '1 once the node has joined (or founded) its network', type: 'gauge', samples: [{ value: s.joined ? 1 : 0 }] },
    { name: 'overlay_uptime_seconds', help: 'Seconds since the node started', type: 'gauge', samples: [{ value: s.uptimeS }] },
    { name: 'overlay_links', help: 'Links by kind and path (direct, or relayed through TURN or an overlay neighbour)', type: 'gauge', samples: [...links.values()].map((e) => ({ labels: { kind: e.kind, path: e.path }, value: e.n })) },
    {
      name: 'overlay_link_rtt_seconds',
      help: 'Last measured round trip of each link',
      type: 'gauge',
      samples: s.links.filter((l) => l.rttMs !== undefined).map((l) => ({ labels: { remote: l.remote, kind: l.kind, path: l.path }, value: l.rttMs! / 1000 })),
    },
    { name: 'overlay_dht_records_held', help: 'DHT records this node holds', type: 'gauge', samples: [{ value: s.dhtRecordsHeld }] },
    ...counterFamilies('overlay_node', 'overlay', s.counters),
    ...counterFamilies('overlay_connector', 'WebRTC connector', s.connector),
    ...counterFamilies('overlay_bootstrap', 'bootstrap endpoint', s.bootstrap?.counters),
  ];
  const vnet = s.services.vnet;
  if (isVnetStatus(vnet)) {
    families.push(
      { name: 'overlay_vnet_up', help: '1 while the virtual network holds an address and its TUN is up', type: 'gauge', samples: [{ value: vnet.state === 'up' ? 1 : 0 }] },
      { name: 'overlay_vnet_lease_expires_seconds', help: 'Seconds until the virtual IP lease expires unless renewed', type: 'gauge', samples: vnet.lease ? [{ value: vnet.lease.expiresInMs / 1000 }] : [] },
      { name: 'overlay_vnet_lease_renewals_total', help: 'Renewals of the virtual IP lease', type: 'counter', samples: vnet.lease ? [{ value: vnet.lease.renewals }] : [] },
      { name: 'overlay_vnet_peers', help: 'Virtual-network peers by path of the last packet', type: 'gauge', samples: (['direct', 'relayed', 'routed'] as const).map((path) => ({ labels: { path }, value: vnet.peers.filter((p) => p.path === path).length })) },
      ...counterFamilies('overlay_vnet', 'virtual network', vnet.counters),
      ...counterFamilies('overlay_vnet_resolver', 'virtual IP directory', vnet.resolver),
    );
  }
  return families;
}
