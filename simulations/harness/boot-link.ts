// A boot link made by a test: namespace `srv` holding bridge br0 (SUBNET.1/24) on which the boot
// services run, plus client namespaces each attached to the bridge by a veth pair, and optionally
// a second, unserved link (br1) to check the server stays silent there. Everything is removed by
// `destroy` (processes must be killed by the caller first).
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns } from './netns.js';
import { run, startProc, type Proc } from './proc.js';

let linkCounter = 0;

export const OVERLAY_BIN = new URL('../../../bin/overlay.js', import.meta.url).pathname;

export interface Client {
  ns: Netns;
  ifname: string;
}

export class BootLink {
  private readonly namespaces: Netns[] = [];
  private readonly procs: Proc[] = [];
  readonly tag: string;
  /** Boot directory served over TFTP (inside `work`). */
  readonly dir: string;
  private constructor(readonly srv: Netns, readonly subnet: string, readonly work: string) {
    this.dir = join(work, 'boot');
    mkdirSync(this.dir);
    this.tag = `${process.pid % 10000}${linkCounter++}`;
    this.namespaces.push(srv);
  }

  get serverIp(): string {
    return `${this.subnet}.1`;
  }

  /** `subnet` like "10.77.3" (a /24). */
  static async create(tag: string, subnet: string): Promise<BootLink> {
    const srv = await Netns.create(`${tag}s`);
    const link = new BootLink(srv, subnet, mkdtempSync(join(tmpdir(), `bootlink-${tag}-`)));
    await srv.exec('ip', ['link', 'add', 'br0', 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0']);
    await srv.exec('ip', ['addr', 'add', `${subnet}.1/24`, 'dev', 'br0']);
    // No duplicate address detection: the link-local address (source of our router advertisements) is usable at once.
    await srv.exec('sysctl', ['-q', '-w', 'net.ipv6.conf.br0.accept_dad=0']);
    await srv.exec('ip', ['link', 'set', 'br0', 'up']);
    return link;
  }

  /** A client namespace attached to bridge `bridge` by a veth pair; its interface is up with no address. */
  async addClient(bridge = 'br0'): Promise<Client> {
    const n = this.namespaces.length;
    const ns = await Netns.create(`${this.tag.slice(-3)}c${n}`);
    this.namespaces.push(ns);
    const inner = `bc${this.tag}${n}`.slice(0, 15);
    const outer = `bo${this.tag}${n}`.slice(0, 15);
    await run('ip', ['link', 'add', inner, 'type', 'veth', 'peer', 'name', outer]);
    await run('ip', ['link', 'set', inner, 'netns', ns.name]);
    await run('ip', ['link', 'set', outer, 'netns', this.srv.name]);
    await this.srv.exec('ip', ['link', 'set', outer, 'master', bridge]);
    await this.srv.exec('ip', ['link', 'set', outer, 'up']);
    await ns.exec('ip', ['link', 'set', inner, 'up']);
    return { ns, ifname: inner };
  }

  /** A TAP device in the server namespace, enslaved to br0, for a qemu VM. */
  async addTap(name: string): Promise<void> {
    await this.srv.exec('ip', ['tuntap', 'add', name, 'mode', 'tap']);
    await this.srv.exec('ip', ['link', 'set', name, 'master', 'br0']);
    await this.srv.exec('ip', ['link', 'set', name, 'up']);
  }

  /** A second bridge in the server namespace with its own address, which the boot services must ignore. */
  async addUnservedBridge(name: string, cidr: string): Promise<void> {
    await this.srv.exec('ip', ['link', 'add', name, 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0']);
    await this.srv.exec('ip', ['addr', 'add', cidr, 'dev', name]);
    await this.srv.exec('ip', ['link', 'set', name, 'up']);
  }

  /** Starts `overlay boot` in the server namespace and waits for "ready". */
  async startServer(args: string[]): Promise<Proc> {
    const [cmd, argv] = this.srv.wrap('node', [OVERLAY_BIN, 'boot', '--interface', 'br0', '--dir', this.dir, ...args]);
    const p = startProc(cmd, argv);
    this.procs.push(p);
    await p.waitFor(/^ready$/m, 20_000);
    return p;
  }

  /** Starts any process inside a namespace, owned (killed on destroy) by this link. */
  start(ns: Netns, cmd: string, args: string[]): Proc {
    const [c, a] = ns.wrap(cmd, args);
    const p = startProc(c, a);
    this.procs.push(p);
    return p;
  }

  /** A client hook script that logs "<event> <ip>" lines to `logFile` and applies the address. */
  writeClientScript(name: string, body: string): string {
    const path = join(this.work, `${name}.sh`);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  }

  async destroy(): Promise<void> {
    for (const p of this.procs) await p.kill(2000).catch(() => undefined);
    for (const ns of this.namespaces) await ns.destroy();
    rmSync(this.work, { recursive: true, force: true });
  }
}

/** Last `stats {...}` line printed by `overlay boot --stats-interval`. */
export function lastStats(output: string): any {
  const lines = output.split('\n').filter((l) => l.startsWith('stats '));
  return lines.length ? JSON.parse(lines[lines.length - 1]!.slice(6)) : undefined;
}

/** Polls `check` every 200 ms until it returns a value, or fails after `timeoutMs`. */
export async function until<T>(what: string, timeoutMs: number, check: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
