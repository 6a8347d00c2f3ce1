// Portmapper v2 client: asks a server's portmapper (rpcbind) where a program listens.
import { TcpRpcClient, UdpRpcClient, type RpcClient } from '../rpc/client.js';
import type { ProcedureCodec } from '../rpc/procedure-codec.js';
import { PORTMAP_PROCEDURES } from './procedures.js';
import { IPPROTO_TCP, PORTMAP_PORT, PORTMAP_PROGRAM, PORTMAP_VERSION, type PortMapping } from './types.js';

export class PortmapClient {
  constructor(readonly rpc: RpcClient) {}

  static connect(o: { host: string; port?: number; transport?: 'tcp' | 'udp'; timeoutMs?: number }): PortmapClient {
    const opts = { host: o.host, port: o.port ?? PORTMAP_PORT, timeoutMs: o.timeoutMs };
    return new PortmapClient(o.transport === 'udp' ? new UdpRpcClient(opts) : new TcpRpcClient(opts));
  }

  private async call<A, R>(codec: ProcedureCodec<A, R>, args: A): Promise<R> {
    const r = await this.rpc.call(PORTMAP_PROGRAM, PORTMAP_VERSION, codec.proc, (w) => codec.encodeArgs(w, args));
    const res = codec.decodeRes(r);
    r.expectEnd();
    return res;
  }

  null(): Promise<void> {
    return this.call(PORTMAP_PROCEDURES.NULL, undefined);
  }
  set(m: PortMapping): Promise<boolean> {
    return this.call(PORTMAP_PROCEDURES.SET, m);
  }
  unset(m: PortMapping): Promise<boolean> {
    return this.call(PORTMAP_PROCEDURES.UNSET, m);
  }
  /** Port of prog/vers over `prot` (default TCP); 0 when not registered. */
  getport(prog: number, vers: number, prot = IPPROTO_TCP): Promise<number> {
    return this.call(PORTMAP_PROCEDURES.GETPORT, { prog, vers, prot, port: 0 });
  }
  dump(): Promise<PortMapping[]> {
    return this.call(PORTMAP_PROCEDURES.DUMP, undefined);
  }
  close(): void {
    this.rpc.close();
  }
}
