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
}

/** Ports tried past the first one (a port in use is skipped). */
const MAX_PORTS = 32;

export class ImageBootRoot {
  private readonly mounts = new Map<string, ImageMounting>();
  private current: { version: string; port: number; exportPath: string } | undefined;
  private nextPort: number;
  private readonly loop: RefreshLoop;
  private stopped = false;

  private constructor(private readonly o: ImageBootRootOptions) {
    this.nextPort = o.firstPort;
    this.loop = new RefreshLoop(o.clock, o.refreshMs, () => this.follow(), (e) => o.log(`checking for a newer version of ${o.app} failed: ${e.message}`));
  }

  static async start(o: ImageBootRootOptions): Promise<ImageBootRoot> {
    const r = new ImageBootRoot(o);
    await r.follow();
    if (!r.current) throw new Error(`${o.app} has no version to boot`);
    if (!o.version) r.loop.start();
    return r;
  }

  /** Option 17 for the next boot: SERVER:PATH plus the NFS mount options the kernel understands. */
  rootPath(): string | undefined {
    const c = this.current;
    return c && `${this.o.host}:${c.exportPath},vers=3,tcp,port=${c.port},mountport=${c.port}`;
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
        const m = await ImageMounting.start({ app: o.app, version, digest: v.digest, manifest, node: o.node, registry: o.registry, storeDir: join(store, 'state'), shadowDir: join(store, 'shadow'), listenHost: o.host, nfsPort: port, refreshMs: o.refreshMs, clock: o.clock, log: o.log });
        this.mounts.set(version, m);
        this.current = { version, port, exportPath: m.exportPath };
        o.log(`new boots get ${o.app} ${version}: root ${this.rootPath()}`);
        return;
      } catch (e) {
        lastError = e;
        if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      }
    }
    throw lastError;
  }

  /** Stops every mount (their sharer records go). Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.loop.stop();
    for (const m of this.mounts.values()) await m.stop();
  }
}
