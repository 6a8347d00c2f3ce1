// The embedded NFSv3 server: a LocalExport (NFS procedures) and a MountService behind one
// RpcServer, listening on the NFS port and the MOUNT port (TCP, and UDP when asked). Optionally
// registers both with a portmapper (rpcbind or our PortmapRegistry) so clients that ask find them.
import { realpathSync } from 'node:fs';
import { posix } from 'node:path';
import { RpcServer, type RpcServerOptions, type RpcServerStats } from '../rpc/server.js';
import { nfs3Program } from '../nfs3/program.js';
import { NFS3_PROGRAM, NFS3_VERSION, type FileHandle } from '../nfs3/types.js';
import { mountProgram } from '../mount/program.js';
import { MOUNT_PROGRAM, MOUNT_VERSION } from '../mount/types.js';
import { PortmapClient } from '../portmap/client.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../portmap/types.js';
import { LocalExport } from './local-export.js';
import { MountService } from './mount-service.js';

export interface EmbeddedServerOptions {
  /** Local directory to export. */
  exportDir: string;
  /** Path clients MNT; default the real path of exportDir (like nfs-ganesha and knfsd). */
  exportPath?: string;
  readOnly?: boolean;
  /**
   * Directory descriptors held open (held-dirs.ts; default 0): only for a directory nothing but this
   * server changes, as the proxy's local shadow does (benches compare the two alike).
   */
  heldDirs?: number;
  /** Address to listen on (default 0.0.0.0). */
  host?: string;
  /** NFS port (0 = any free port). */
  nfsPort?: number;
  /** MOUNT port; default: a second free port (0), or the NFS port when equal. */
  mountPort?: number;
  /** Also serve over UDP on the same port numbers. */
  udp?: boolean;
  /** Register with the portmapper at this address:port (e.g. { host: '127.0.0.1', port: 111 }). */
  portmap?: { host: string; port?: number };
  rpc?: RpcServerOptions;
}

export interface EmbeddedServer {
  nfsPort: number;
  mountPort: number;
  exportPath: string;
  rootHandle: FileHandle;
  /** RPC counters: calls, malformed frames, GARBAGE_ARGS, ... */
  stats: RpcServerStats;
  /** The RPC server itself (connection table, reply memory held). */
  rpc: RpcServer;
  /** Stops listening, drops connections, closes open files, unregisters from the portmapper. */
  stop(): Promise<void>;
}

export async function startEmbeddedServer(o: EmbeddedServerOptions): Promise<EmbeddedServer> {
  const root = realpathSync(o.exportDir);
  const exportPath = posix.normalize(o.exportPath ?? root).replace(/\/+$/, '') || '/';
  const fs = new LocalExport({ root, readOnly: o.readOnly, heldDirs: o.heldDirs });
  await fs.init();
  const rpc = new RpcServer(o.rpc);
  rpc.addProgram(nfs3Program(fs)).addProgram(mountProgram(new MountService(exportPath, fs)));
  const host = o.host ?? '0.0.0.0';
  try {
    const nfsPort = await rpc.listenTcp(o.nfsPort ?? 0, host);
    const mountPort = o.mountPort !== undefined && o.mountPort === nfsPort ? nfsPort : await rpc.listenTcp(o.mountPort ?? 0, host);
    if (o.udp) {
      await rpc.listenUdp(nfsPort, host);
      if (mountPort !== nfsPort) await rpc.listenUdp(mountPort, host);
    }
    const registered: Array<{ prog: number; vers: number; prot: number; port: number }> = [];
    if (o.portmap) {
      const pm = PortmapClient.connect({ host: o.portmap.host, port: o.portmap.port, timeoutMs: 5000 });
      const programs = [
        [NFS3_PROGRAM, NFS3_VERSION, nfsPort],
        [MOUNT_PROGRAM, MOUNT_VERSION, mountPort],
      ] as const;
      try {
        // RFC 1833 s3.1: UNSET ignores the protocol and drops every mapping of (prog, vers), so
        // clear old registrations first, then SET each protocol.
        for (const [prog, vers] of programs) await pm.unset({ prog, vers, prot: IPPROTO_TCP, port: 0 });
        for (const prot of o.udp ? [IPPROTO_TCP, IPPROTO_UDP] : [IPPROTO_TCP]) {
          for (const [prog, vers, port] of programs) {
            if (await pm.set({ prog, vers, prot, port })) registered.push({ prog, vers, prot, port });
          }
        }
      } finally {
        pm.close();
      }
    }
    return {
      nfsPort,
      mountPort,
      exportPath,
      rootHandle: fs.rootHandle(),
      stats: rpc.stats,
      rpc,
      async stop() {
        await rpc.close();
        await fs.close();
        if (o.portmap && registered.length > 0) {
          const pm = PortmapClient.connect({ host: o.portmap.host, port: o.portmap.port, timeoutMs: 2000 });
          for (const m of registered) await pm.unset(m).catch(() => undefined);
          pm.close();
        }
      },
    };
  } catch (e) {
    await rpc.close();
    await fs.close();
    throw e;
  }
}
