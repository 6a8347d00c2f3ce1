// A virtual network of real `overlay up` nodes for the image service's test and benchmark: a public
// founder (bootstrap endpoint) and one node per NAT in the topology, each run with the CLI as a
// user would (no --ice: the founder's built-in STUN server is learned from its bootstrap endpoint;
// coturn only on request), plus helpers to run `overlay image ...` and libnfs tools inside a node's namespace.
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetnsTopology, PUBLIC_IP, type NatKind } from './topology.js';
import { startCoturn } from './coturn.js';
/** A process started in a namespace (the topology's own type). */
type Proc = ReturnType<NetnsTopology['spawn']>;

import { OVERLAY_BIN, overlayCommand } from '../harness/overlay-command.js';

export { OVERLAY_BIN };
const BOOT_PORT = 7000;

export interface ImageNetNode {
  up: Proc;
  state: string;
  vip: string;
  ring: string;
}

export interface ImageNetOptions {
  nats: NatKind[];
  network?: string;
  subnet?: string;
  tag?: string;
  /** Run coturn in the public namespace and give every node its STUN + TURN (default: zero configuration). */
  coturn?: boolean;
}

export class ImageNet {
  readonly nodes = new Map<number, ImageNetNode>();
  private readonly procs: Proc[] = [];
  private ice: string[] = [];
  readonly network: string;
  readonly subnet: string;

  private constructor(
    readonly topo: NetnsTopology,
    readonly root: string,
    o: ImageNetOptions,
  ) {
    this.network = o.network ?? 'imgnet';
    this.subnet = o.subnet ?? '10.140.0.0/16';
  }

  /** The topology and the founder (and coturn if asked for); nodes come up with `up(i)`. */
  static async create(o: ImageNetOptions): Promise<ImageNet> {
    const root = mkdtempSync(join(tmpdir(), 'image-net-'));
    const topo = await NetnsTopology.create({ nodes: o.nats, tag: o.tag ?? 'img' });
    const net = new ImageNet(topo, root, o);
    try {
      writeFileSync(join(root, 'secret'), randomBytes(32));
      if (o.coturn) net.ice = (await startCoturn(topo)).iceServers;
      const founder = net.spawn('public', ['up', '--network', net.network, '--state', join(root, 'founder'), '--secret', join(root, 'secret'), '--bind-address', PUBLIC_IP, '--listen', String(BOOT_PORT), '--listen-host', PUBLIC_IP, '--subnet', net.subnet, '--mtu', '1400', ...net.iceArgs()]);
      await founder.waitFor(/virtual IP/, 60_000);
    } catch (e) {
      await net.destroy();
      throw e;
    }
    return net;
  }

  private iceArgs(): string[] {
    return this.ice.flatMap((u) => ['--ice', u]);
  }

  /** A long-running `overlay ...` process in node i's namespace (or the public one). */
  spawn(i: number | 'public', args: string[]): Proc {
    const p = i === 'public' ? this.topo.spawnPublic(...overlayCommand(args)) : this.topo.spawn(i, ...overlayCommand(args));
    this.procs.push(p);
    return p;
  }

  /** `overlay up` on node i (again: same state, same key); resolves once it has its virtual IP. */
  async up(i: number, extra: string[] = []): Promise<ImageNetNode> {
    const state = join(this.root, `node${i}`);
    const up = this.spawn(i, ['up', '--network', this.network, '--state', state, '--secret', join(this.root, 'secret'), '--bind-address', this.topo.node(i).lanIp, '--subnet', this.subnet, '--mtu', '1400', '--bootstrap', `ws://${PUBLIC_IP}:${BOOT_PORT}`, ...this.iceArgs(), ...extra]);
    const ring = (await up.waitFor(/node ([0-9a-f]{40})/, 30_000))[1]!;
    const vip = (await up.waitFor(/virtual IP (\d+\.\d+\.\d+\.\d+) on TUN/, 60_000))[1]!;
    const n = { up, state, vip, ring };
    this.nodes.set(i, n);
    return n;
  }

  node(i: number): ImageNetNode {
    const n = this.nodes.get(i);
    if (!n) throw new Error(`node ${i} is not up`);
    return n;
  }

  /** An `overlay image VERB ...` process on node i, against that node. */
  image(i: number, args: string[]): Proc {
    return this.spawn(i, ['image', ...args, '--state', this.node(i).state]);
  }

  /** A command that must succeed on node i: its stdout. */
  async run(i: number, cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
    return (await this.topo.exec(i, cmd, args, timeoutMs)).stdout;
  }

  /** `overlay ARGS --state <node i>` run to its end: exit code and output. */
  async cli(i: number, args: string[], timeoutMs = 60_000): Promise<{ code: number | null; output: string }> {
    const p = this.spawn(i, [...args, '--state', this.node(i).state]);
    const timer = setTimeout(() => void p.kill(1000), timeoutMs);
    const code = await p.exited;
    clearTimeout(timer);
    return { code, output: p.output() };
  }

  /** `overlay image ls APP --json` from node i. */
  async ls(i: number, app: string): Promise<ImageListing> {
    return JSON.parse(await this.run(i, process.execPath, [OVERLAY_BIN, 'image', 'ls', app, '--json', '--state', this.node(i).state])) as ImageListing;
  }

  /** `overlay status --json` of node i. */
  async status(i: number): Promise<{ images: Array<{ role: string; app: string; version: string; detail: Record<string, unknown> }>; links: Array<{ remote: string; path: string }> }> {
    return JSON.parse(await this.run(i, process.execPath, [OVERLAY_BIN, 'status', '--json', '--state', this.node(i).state]));
  }

  async destroy(): Promise<void> {
    for (const p of this.procs.reverse()) await p.kill(5_000).catch(() => undefined);
    await this.topo.destroy();
    rmSync(this.root, { recursive: true, force: true });
  }
}

export interface ImageListing {
  apps: Array<{
    app: string;
    latest: string | null;
    ignoredRecords: number;
    versions: Array<{ version: string; digest: string; sharers: number; servers: Array<{ vip: string; nfsPort: number; exportPath: string; path: string; rttMs?: number }> }>;
  }>;
}

/** libnfs URL of a file under an image export served on 127.0.0.1:port (a mount on the same node). */
export const imageNfsUrl = (host: string, port: number, app: string, version: string, file: string, mountPort = port) =>
  `nfs://${host}/images/${app}/${version}/${file}?version=3&nfsport=${port}&mountport=${mountPort}`;

/** The proxy counters of a mount whose --store is `store`. */
export function mountCounters(store: string): { bytes: { toClient: number; fromMain: number }; replicas?: { failovers: number; verifyFailures: number; badServers: string[]; bytesFrom: Record<string, number> } } {
  return JSON.parse(readFileSync(join(store, 'state', 'counters.json'), 'utf8'));
}

/** A file of `bytes` whose every `blockBytes` block differs (seeded: the same seed gives the same bytes). */
export function fillDistinctBlocks(path: string, bytes: number, seed: string, blockBytes = 65536): void {
  const chunk = Buffer.alloc(blockBytes);
  const fd = openSync(path, 'w');
  for (let at = 0, i = 0; at < bytes; at += blockBytes, i++) {
    createHash('sha256').update(`${seed}/${i}`).digest().copy(chunk, 0);
    for (let o = 32; o < blockBytes; o += 32) chunk.copy(chunk, o, 0, 32);
    writeSync(fd, chunk, 0, Math.min(blockBytes, bytes - at));
  }
  closeSync(fd);
}

/** Polls `fn` every 500 ms until it returns a value, at most `timeoutMs`. */
export async function waitUntil<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
