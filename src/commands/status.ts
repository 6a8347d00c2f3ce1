// `overlay status`: what a running node knows about itself.
import { CliError, parseArgs, type Command } from './command.js';
import { askNode, targetHelp, targetSpec } from './target.js';
import type { NodeStatus } from '../node.js';
import type { VirtualNetworkStatus } from '../vnet/index.js';
import { NAMES_REQUEST_MAX } from '../control/protocol.js';

/** The virtual network's part of `overlay status`: address, device, lease, peers and their paths. */
function vnetLines(v: VirtualNetworkStatus, nameOf: (address: string) => string): string[] {
  const lines = [
    `vnet      ${v.vip ?? '(no address)'} on TUN ${v.ifname} mtu ${v.mtu}, subnet ${v.subnet}, ${v.state}` +
      (v.lease ? ` (lease expires in ${Math.round(v.lease.expiresInMs / 1000)} s, ${v.lease.renewals} renewals)` : ''),
    ...v.peers.map((p) => `  ${(p.vip ?? '-').padEnd(15)} ${nameOf(p.address)}${p.address}  ${p.path.padEnd(7)} ${String(p.sends).padStart(7)} sends  ${p.why}`),
  ];
  const nonzero = Object.entries(v.counters).filter(([, n]) => n !== 0);
  if (nonzero.length) lines.push(`  ${nonzero.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  return lines;
}

/** A mount's block sources, peers and prefetch as `; bytes server N, peers N, cache N; ...`. */
function blockSourcesOf(d: Record<string, unknown>): string {
  const b = d.bytes as { server: number; peers: number; cache: number } | undefined;
  if (!b) return '';
  const p = d.peers as { used: string[]; bad: string[]; rejectedBlocks: number } | null | undefined;
  const u = d.upload as { servedBytes: number } | undefined;
  const pf = d.prefetch as { fetchedBlocks: number; hitBlocks: number; wasteBlocks: number } | undefined;
  return (
    `\n          bytes from server ${b.server}, peers ${b.peers}, cache ${b.cache}` +
    (p ? `; peers used ${p.used.length}, blocks rejected ${p.rejectedBlocks}${p.bad.length ? ` (bad peers: ${p.bad.join(', ')})` : ''}` : '; sharing off') +
    (u ? `; uploaded ${u.servedBytes}` : '') +
    (pf ? `; prefetch ${pf.fetchedBlocks} blocks, ${pf.hitBlocks} hits, ${pf.wasteBlocks} wasted` : '')
  );
}

export const command: Command = {
  summary: 'show the running node: address, links (direct/relayed, RTT), DHT, counters',
  help: `usage: overlay status [--json] [--network NAME | --state DIR]

Asks the running node (through its control socket) for its ring address, its links by kind
(near, far, shortcut, bootstrap) with path (direct or relayed, and why) and RTT, the DHT records it
holds and its counters. Peers show with their virtual IP and short name (overlay up --name) when known.

options:
  --json               print the full status as JSON
${targetHelp}

examples:
  overlay status
  overlay status --json --network lab`,

  async run(argv) {
    const args = parseArgs(argv, { ...targetSpec, json: {} });
    if (args.positionals.length) throw new CliError(`unexpected argument '${args.positionals[0]}'`);
    const s = (await askNode(args, { op: 'status' })) as NodeStatus;
    const vnet = typeof s.services.vnet === 'object' && s.services.vnet !== null && 'peers' in s.services.vnet ? (s.services.vnet as VirtualNetworkStatus) : undefined;
    // Peers' short names (overlay up --name), from the node's DHT look-ups.
    const peers = [...new Set([...s.links.map((l) => l.remote), ...(vnet?.peers ?? []).map((p) => p.address)])].slice(0, NAMES_REQUEST_MAX);
    let names: Record<string, string> = {};
    if (peers.length) {
      try {
        names = (await askNode(args, { op: 'names', addresses: peers })) as Record<string, string>;
      } catch {
        // A node from before names: the status is still worth showing.
      }
    }
    if (args.options.json) {
      console.log(JSON.stringify({ ...s, names }, null, 2));
      return 0;
    }
    const nameWidth = Math.max(0, ...Object.values(names).map((n) => n.length));
    const nameOf = (address: string) => (nameWidth ? `${(names[address] ?? '-').padEnd(nameWidth)} ` : '');
    const own = s.services.names as { name?: string | null } | undefined;
    const vipOf = new Map((vnet?.peers ?? []).flatMap((p) => (p.vip ? [[p.address, p.vip] as const] : [])));
    const byKind: Record<string, number> = {};
    for (const l of s.links) byKind[l.kind] = (byKind[l.kind] ?? 0) + 1;
    const lines = [
      `network   ${s.network}${s.joined ? '' : ' (joining)'}`,
      `address   ${s.address}`,
      ...(own?.name ? [`name      ${own.name}`] : []),
      `uptime    ${s.uptimeS} s`,
      `links     ${s.links.length}${s.links.length ? ` (${Object.entries(byKind).map(([k, n]) => `${k} ${n}`).join(', ')})` : ''}`,
      ...s.links.map((l) => `  ${l.remote}${vnet ? ` ${(vipOf.get(l.remote) ?? '-').padEnd(15)}` : ''} ${nameOf(l.remote)} ${l.kind.padEnd(9)} ${l.path.padEnd(8)} ${l.rttMs === undefined ? '      -  ' : `${l.rttMs.toFixed(1).padStart(6)} ms`}  ${l.detail}`),
      `dht       ${s.dhtRecordsHeld} records held`,
    ];
    if (s.bootstrap) lines.push(`bootstrap ${s.bootstrap.url} (${s.bootstrap.counters.clients ?? 0} clients served)`);
    for (const [name, v] of Object.entries(s.services)) {
      if (name === 'vnet' && v && typeof v === 'object' && 'peers' in v) {
        lines.push(...vnetLines(v as VirtualNetworkStatus, nameOf));
        continue;
      }
      if (name === 'names') continue;
      lines.push(`service   ${name}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
    }
    for (const img of s.images ?? []) {
      const d = img.detail as Record<string, unknown>;
      lines.push(
        img.role === 'serve'
          ? `image     serving ${img.app} ${img.version} on ${String(d.vip)}:${String(d.nfsPort)} ${String(d.exportPath)} from ${String(d.dir)}`
          : `image     mounted ${img.app} ${img.version} on port ${String(d.nfsPort)} ${String(d.exportPath)}, reading from ${String(d.server ?? 'no server')}` +
              (d.newer ? ` (newer version ${String(d.newer)} published)` : '') +
              (Array.isArray(d.badServers) && d.badServers.length ? ` (bad servers: ${d.badServers.join(', ')})` : '') +
              blockSourcesOf(d),
      );
    }
    const counters = { ...s.counters, ...s.connector };
    const nonzero = Object.entries(counters).filter(([, v]) => v !== 0);
    if (nonzero.length) lines.push('counters', ...nonzero.sort().map(([k, v]) => `  ${k.padEnd(28)} ${v}`));
    console.log(lines.join('\n'));
    return 0;
  },
};
