// A standalone portmapper (program 100000 v2) over TCP and UDP, for hosts without rpcbind:
// clients that ask GETPORT before MOUNT/NFS (libnfs without explicit ports, Linux mount.nfs)
// find our servers through it. Registrations come from SET calls or `registry.set()`.
import { RpcServer } from '../rpc/server.js';
import { PortmapRegistry } from './registry.js';
import { IPPROTO_TCP, IPPROTO_UDP, PORTMAP_PORT, PORTMAP_PROGRAM, PORTMAP_VERSION } from './types.js';

export interface Portmapper {
  registry: PortmapRegistry;
  port: number;
  stop(): Promise<void>;
}

export async function startPortmapper(o: { host?: string; port?: number; udp?: boolean } = {}): Promise<Portmapper> {
  const registry = new PortmapRegistry();
  const rpc = new RpcServer().addProgram(registry.program());
  const host = o.host ?? '0.0.0.0';
  try {
    const port = await rpc.listenTcp(o.port ?? PORTMAP_PORT, host);
    const udp = o.udp ?? true;
    if (udp) await rpc.listenUdp(port, host);
    // A portmapper lists itself (rpcinfo asks where the portmapper is before asking it anything).
    registry.set({ prog: PORTMAP_PROGRAM, vers: PORTMAP_VERSION, prot: IPPROTO_TCP, port });
    if (udp) registry.set({ prog: PORTMAP_PROGRAM, vers: PORTMAP_VERSION, prot: IPPROTO_UDP, port });
    return { registry, port, stop: () => rpc.close() };
  } catch (e) {
    await rpc.close();
    throw e;
  }
}
