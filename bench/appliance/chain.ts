// The paper's Figure 3 across the overlay, with the real appliance: a public bootstrap node; the
// image server behind NAT A (`overlay image publish` of the built tree), whose router adds the
// wide-area delay; the proxy node behind NAT B running `overlay boot --image --image-portmap` on a
// bridge with a TAP; a diskless qemu VM (TCG) on that bridge that PXE-boots the image's own kernel
// and initramfs and mounts its root from the proxy with Debian's initramfs (klibc nfsmount, ports
// from the proxy's portmapper). Nothing the VM reads comes from anywhere but the overlay: its boot
// files are on the proxy node and its link has no router.
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImageNet, type ImageNetNode } from '../../simulations/netns/image-net.js';
import { exitWithin } from '../../simulations/harness/proc.js';
import { pxeVmArgs, serialText } from '../../simulations/harness/vm.js';
import type { ApplianceBuild } from './build.js';
import { consoleTimeline, type ConsoleLine, type ConsoleTimeline } from './console-timeline.js';

const SERVER = 0;
const PROXY = 1;
export const APP = 'appliance';
export const VERSION = '1';
const BRIDGE = 'brapp';
const TAP = 'tapapp';
const LINK = '10.97.0';
const IMAGE_PORT = 2049;
const VM_MAC = '52:54:00:97:00:01';
const VM_MEMORY_MB = 1024;

/** One proxy run: `overlay boot --image` with its own store (an empty store is a cold cache). */
interface ProxyRun {
  proc: ReturnType<ImageNet['spawn']>;
  store: string;
}

export interface VmRun {
  /** The VM's console lines, escape sequences removed, each with when it arrived (ms after power-on, 200 ms resolution). */
  lines: ConsoleLine[];
  timeline: ConsoleTimeline;
  /** Wall-clock ms of power-on (qemu started). */
  startedAt: number;
  exit: 'exited' | 'timeout';
}

export class ApplianceChain {
  private proxyRun: ProxyRun | undefined;
  private stores = 0;

  private constructor(
    private readonly net: ImageNet,
    readonly server: ImageNetNode,
    private readonly bootDir: string,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * Brings up the overlay nodes, publishes the appliance from behind NAT A (with manifest blocks of
   * `blockSize` bytes when given: the unit the proxy fetches and caches), lays out the boot link behind NAT B.
   */
  static async create(build: ApplianceBuild, log: (line: string) => void, blockSize?: number): Promise<ApplianceChain> {
    const net = await ImageNet.create({ nats: ['eim', 'eim'], tag: 'ap' });
    try {
      const server = await net.up(SERVER);
      await net.up(PROXY);
      log(`overlay up: image server ${server.vip} behind NAT A, proxy behind NAT B`);
      const publisher = net.image(SERVER, ['publish', APP, VERSION, build.root, ...(blockSize ? ['--block-size', String(blockSize)] : [])]);
      await publisher.waitFor(new RegExp(`published ${APP} ${VERSION}`), 600_000);
      log(`published ${APP} ${VERSION} (${(build.bytes / 1e6).toFixed(0)} MB) from behind NAT A`);
      const bootDir = join(net.root, 'boot');
      mkdirSync(bootDir);
      copyFileSync(build.kernel, join(bootDir, 'vmlinuz'));
      copyFileSync(build.initrd, join(bootDir, 'initrd.img'));
      await net.run(PROXY, 'sh', ['-c', `ip link add ${BRIDGE} type bridge forward_delay 0 stp_state 0 && ip addr add ${LINK}.1/24 dev ${BRIDGE}` +
        ` && sysctl -qw net.ipv6.conf.${BRIDGE}.accept_dad=0 && ip link set ${BRIDGE} up` +
        ` && ip tuntap add ${TAP} mode tap && ip link set ${TAP} master ${BRIDGE} && ip link set ${TAP} up`]);
      return new ApplianceChain(net, server, bootDir, log);
    } catch (e) {
      await net.destroy();
      throw e;
    }
  }

  /** One-way delay on the image server's NAT router (the paper's round trip / 2). */
  setDelay(oneWayMs: number): Promise<void> {
    return this.net.topo.setDelay(SERVER, oneWayMs);
  }

  /** Overlay round trip proxy -> image server, ms (min of 5 pings). */
  async rttMs(): Promise<number> {
    const out = await this.net.run(PROXY, 'ping', ['-n', '-q', '-c', '5', '-i', '0.2', '-W', '3', this.server.vip], 30_000);
    return Number(/rtt min\/avg\/max\/mdev = ([\d.]+)\//.exec(out)?.[1]);
  }

  /**
   * Starts the proxy (`overlay boot --image`) on a new, empty store unless `keepStore`: a cold
   * cache. `dropCache` removes the kept store's block cache first (its state and shadow stay).
   */
  async startProxy(o: { keepStore?: boolean; dropCache?: boolean; maxIoBytes?: number } = {}): Promise<void> {
    await this.stopProxy();
    const store = o.keepStore && this.lastStore ? this.lastStore : join(this.net.root, `store${this.stores++}`);
    if (o.dropCache) rmSync(join(store, VERSION, 'state', 'cache'), { recursive: true, force: true });
    const proc = this.net.spawn(PROXY, ['boot', '--interface', BRIDGE, '--dir', this.bootDir, '--range', `${LINK}.100-${LINK}.120`, '--quiet',
      '--image', APP, '--image-port', String(IMAGE_PORT), '--image-store', store, '--image-portmap', ...(o.maxIoBytes ? ['--image-max-io', String(o.maxIoBytes)] : []), '--state', this.net.node(PROXY).state]);
    await proc.waitFor(/^ready$/m, 120_000);
    this.proxyRun = { proc, store };
    this.lastStore = store;
  }
  private lastStore: string | undefined;

  /** The running proxy's PID (for /proc sampling) and its counters file. */
  get proxy(): { pid: number; countersFile: string; shadowDir: string } {
    const r = this.proxyRun;
    if (!r) throw new Error('the proxy is not running');
    return { pid: r.proc.pid, countersFile: join(r.store, VERSION, 'state', 'counters.json'), shadowDir: join(r.store, VERSION, 'shadow') };
  }

  /** As `proxy`, or undefined while no proxy runs (for the sampler). */
  proxyOrUndefined(): { pid: number; countersFile: string } | undefined {
    return this.proxyRun && this.proxy;
  }

  async stopProxy(): Promise<void> {
    await this.proxyRun?.proc.kill(15_000);
    this.proxyRun = undefined;
  }

  /**
   * Powers on a VM that PXE-boots the appliance; `kernelArgs` go on its kernel command line. Returns
   * when the VM powered off or after `timeoutMs` (then it is killed). `disks`: raw images attached
   * read-only as virtio disks.
   */
  async runVm(name: string, kernelArgs: string, timeoutMs: number, onLine?: (line: string) => void, disks?: readonly string[]): Promise<VmRun> {
    writeFileSync(join(this.bootDir, 'boot.ipxe'), ['#!ipxe', `kernel vmlinuz ${kernelArgs}`, 'initrd initrd.img', 'boot', ''].join('\n'));
    const startedAt = Date.now();
    const vm = this.net.topo.spawn(PROXY, 'qemu-system-x86_64', pxeVmArgs({ tap: TAP, mac: VM_MAC, memoryMb: VM_MEMORY_MB, lean: true, ...(disks ? { disks } : {}) }));
    const lines: ConsoleLine[] = [];
    let seen = 0;
    const collect = (all: boolean) => {
      const text = serialText(vm.output());
      const end = all ? text.length : text.lastIndexOf('\n') + 1;
      if (end <= seen) return;
      for (const line of text.slice(seen, end).split('\n')) {
        if (!line.trim()) continue;
        lines.push({ t: Date.now() - startedAt, text: line });
        onLine?.(line);
      }
      seen = end;
    };
    const tail = setInterval(() => collect(false), 200);
    try {
      const exit = await exitWithin(vm, timeoutMs);
      if (exit === 'timeout') {
        this.log(`${name}: no poweroff within ${timeoutMs / 1000} s; killing the VM`);
        await vm.kill(2000);
      }
      collect(true);
      return { lines, timeline: consoleTimeline(lines), startedAt, exit };
    } finally {
      clearInterval(tail);
    }
  }

  async destroy(): Promise<void> {
    await this.net.destroy();
    rmSync(this.bootDir, { recursive: true, force: true });
  }
}
