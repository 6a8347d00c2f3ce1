// MOUNT v3 client: MNT returns the root handle of an export (status union, like the NFS client).
import { TcpRpcClient, UdpRpcClient, type RpcCallOptions, type RpcClient } from '../rpc/client.js';
import type { OpaqueAuth } from '../rpc/message.js';
import { rootCred } from '../rpc/message.js';
import type { ProcedureCodec } from '../rpc/procedure-codec.js';
import { MOUNT_PROCEDURES } from './procedures.js';
import { MOUNT_PROGRAM, MOUNT_VERSION, type ExportEntry, type MntRes, type MountEntry } from './types.js';

export class MountClient {
  constructor(readonly rpc: RpcClient) {}

  static connect(o: { host: string; port: number; transport?: 'tcp' | 'udp'; cred?: OpaqueAuth; timeoutMs?: number }): MountClient {
    const opts = { host: o.host, port: o.port, cred: o.cred ?? rootCred(), timeoutMs: o.timeoutMs };
    return new MountClient(o.transport === 'udp' ? new UdpRpcClient(opts) : new TcpRpcClient(opts));
  }

  private async call<A, R>(codec: ProcedureCodec<A, R>, args: A, opts?: RpcCallOptions): Promise<R> {
    const r = await this.rpc.call(MOUNT_PROGRAM, MOUNT_VERSION, codec.proc, (w) => codec.encodeArgs(w, args), opts);
    const res = codec.decodeRes(r);
    r.expectEnd();
    return res;
  }

  null(): Promise<void> {
    return this.call(MOUNT_PROCEDURES.NULL, undefined);
  }
  mnt(dirpath: string): Promise<MntRes> {
    return this.call(MOUNT_PROCEDURES.MNT, { dirpath });
  }
  dump(): Promise<MountEntry[]> {
    return this.call(MOUNT_PROCEDURES.DUMP, undefined);
  }
  umnt(dirpath: string): Promise<void> {
    return this.call(MOUNT_PROCEDURES.UMNT, { dirpath });
  }
  umntall(): Promise<void> {
    return this.call(MOUNT_PROCEDURES.UMNTALL, undefined);
  }
  export(): Promise<ExportEntry[]> {
    return this.call(MOUNT_PROCEDURES.EXPORT, undefined);
  }
  close(): void {
    this.rpc.close();
  }
}
