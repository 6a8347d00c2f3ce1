// The root file system for diskless VMs booted by `overlay boot --image APP`: an image mount of the
// app's latest version on the boot interface's address, and the DHCP root path pointing at it. When
// a newer version is published, the next boot gets it: a mount of the new version starts on the
// next port and the root path moves there; mounts of older versions keep serving the VMs that
// booted from them until the boot service stops.
import { join } from 'node:path';
import type { ImageRegistry } from '../../rowfs/image/registry.js';
import type { Clock } from '../../lib/clock.js';
import { RefreshLoop } from './refresh-loop.js';
import { ImageMounting } from './image-mounting.js';
import type { LocalNode } from './local-node.js';
import { versionManifest } from './version-manifest.js';
import { lockStateDir } from '../commands/command.js';
import { startPortmapper, type Portmapper } from '../../rowfs/portmap/portmapper.js';
import { IPPROTO_TCP, PORTMAP_PORT } from '../../rowfs/portmap/types.js';
import { NFS3_PROGRAM } from '../../rowfs/nfs3/types.js';
import { MOUNT_PROGRAM } from '../../rowfs/mount/types.js';

export interface ImageBootRootOptions {
  app: string;
  /** Pin this version instead of following the latest. */
  version?: string;
  node: LocalNode;
  registry: ImageRegistry;
  /** Stores of the mounts: <storeRoot>/<version>/{state,shadow,manifest}. */
  storeRoot: string;
  /** The boot interface's address: the mounts listen there only. */
  host: string;
  /** NFS (and MOUNT) port of the first mount; later versions take the next ports. */
  firstPort: number;
  refreshMs: number;
  clock: Clock;
  log: (line: string) => void;
  /**
   * Also answer portmapper GETPORT on host:111 with the current mount's port, and send a plain
   * SERVER:PATH root path: for initramfs NFS clients that take no options from the root path and
   * find the ports through the portmapper (Debian's initramfs-tools with klibc nfsmount, which
   * knows no mountport= and passes a DHCP root path to the server whole).
   */
  portmap?: boolean;
  /** Largest READ/WRITE the mounts offer the VMs (default 1 MiB). */
  clientIoBytes?: number;
}

/** Ports tried past the first one (a port in use is skipped). */
const MAX_PORTS = 32;

export class ImageBootRoot {
  private readonly mounts = new Map<string, ImageMounting>();
  private current: { version: string; port: number; exportPath: string } | undefined;
  private nextPort: number;
  private readonly loop: RefreshLoop;
  private portmapper: Portmapper | undefined;
  private stopped = false;

  private constructor(private readonly o: ImageBootRootOptions) {
    this.nextPort = o.firstPort;
    this.loop = new RefreshLoop(o.clock, o.refreshMs, () => this.follow(), (e) => o.log(`checking for a newer version of ${o.app} failed: ${e.message}`));
  }

  static async start(o: ImageBootRootOptions): Promise<ImageBootRoot> {
    const r = new ImageBootRoot(o);
    try {
      if (o.portmap) r.portmapper = await startPortmapper({ host: o.host, port: PORTMAP_PORT });
      await r.follow();
      if (!r.current) throw new Error(`${o.app} has no version to boot`);
    } catch (e) {
      await r.stop();
      throw e;
    }
    if (!o.version) r.loop.start();
    return r;
  }

  /** Option 17 for the next boot: SERVER:PATH plus the NFS mount options the kernel understands (plain SERVER:PATH with the portmapper). */
  rootPath(): string | undefined {
    const c = this.current;
    if (!c) return undefined;
    return this.portmapper ? `${this.o.host}:${c.exportPath}` : `${this.o.host}:${c.exportPath},vers=3,tcp,port=${c.port},mountport=${c.port}`;
  }

  /** The version new boots get, and its port. */
  get serving(): { version: string; port: number } | undefined {
    return this.current && { version: this.current.version, port: this.current.port };
  }

  /** Mounts the wanted (pinned or latest) version if it is not mounted yet, and points new boots at it. */
  private async follow(): Promise<void> {
    const o = this.o;
    const view = await o.registry.resolveApp(o.app);
    const version = o.version ?? view.latest;
    if (!version || this.stopped || this.current?.version === version) return;
    const v = view.versions.find((x) => x.version === version);
    if (!v) throw new Error(`${o.app} has no version ${version}`);
    const info = await o.node.info();
    const store = join(o.storeRoot, version);
    lockStateDir(store, 'image store');
    const manifest = await versionManifest(o.registry, info, o.app, version, v.digest, store);
    let lastError: unknown;
    for (let tries = 0; tries < MAX_PORTS; tries++) {
      const port = this.nextPort++;
      try {
        const m = await ImageMounting.start({ app: o.app, version, digest: v.digest, manifest, node: o.node, registry: o.registry, storeDir: join(store, 'state'), shadowDir: join(store, 'shadow'), listenHost: o.host, nfsPort: port, clientIoBytes: o.clientIoBytes, refreshMs: o.refreshMs, clock: o.clock, log: o.log });
        this.mounts.set(version, m);
        this.current = { version, port, exportPath: m.exportPath };
        this.mapPorts(port);
        o.log(`new boots get ${o.app} ${version}: root ${this.rootPath()}`);
        return;
      } catch (e) {
        lastError = e;
        if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      }
    }
    throw lastError;
  }

  /** Points the portmapper's NFSv3 and MOUNTv3 (TCP) entries at `port`, the mount new boots get. */
  private mapPorts(port: number): void {
    const registry = this.portmapper?.registry;
    if (!registry) return;
    for (const prog of [NFS3_PROGRAM, MOUNT_PROGRAM]) {
      registry.unset({ prog, vers: 3, prot: IPPROTO_TCP, port: 0 });
      registry.set({ prog, vers: 3, prot: IPPROTO_TCP, port });
    }
  }

  /** Stops every mount (their sharer records go). Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.loop.stop();
    for (const m of this.mounts.values()) await m.stop();
    await this.portmapper?.stop();
  }
}
