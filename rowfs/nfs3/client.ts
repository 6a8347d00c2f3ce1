// Typed async NFSv3 client over any RpcClient. Every method sends one call and resolves with the
// decoded result union (non-OK statuses are values, not exceptions; use expectOk to throw).
// Rejections: RpcTransportError (timeout, connection), RpcReplyError (server refused the call),
// XdrDecodeError (the server's reply did not decode), XdrEncodeError (arguments that cannot be encoded).
import { TcpRpcClient, UdpRpcClient, type RpcCallOptions, type RpcClient } from '../rpc/client.js';
import { rootCred, type OpaqueAuth } from '../rpc/message.js';
import { NFS3_PROCEDURES, type Nfs3ArgsOf, type Nfs3ProcedureName, type Nfs3ResOf } from './procedures.js';
import {
  NFS3_PROGRAM,
  NFS3_VERSION,
  type AccessArgs,
  type AccessRes,
  type CommitArgs,
  type CommitRes,
  type CreateArgs,
  type DirOpRes,
  type FsinfoArgs,
  type FsinfoRes,
  type FsstatArgs,
  type FsstatRes,
  type GetattrArgs,
  type GetattrRes,
  type LinkArgs,
  type LinkRes,
  type LookupArgs,
  type LookupRes,
  type MkdirArgs,
  type MknodArgs,
  type PathconfArgs,
  type PathconfRes,
  type ReadArgs,
  type ReaddirArgs,
  type ReaddirplusArgs,
  type ReaddirplusRes,
  type ReaddirRes,
  type ReadlinkArgs,
  type ReadlinkRes,
  type ReadRes,
  type RemoveArgs,
  type RemoveRes,
  type RenameArgs,
  type RenameRes,
  type RmdirArgs,
  type SetattrArgs,
  type SetattrRes,
  type SymlinkArgs,
  type WriteArgs,
  type WriteRes,
} from './types.js';

export interface Nfs3ConnectOptions {
  host: string;
  port: number;
  transport?: 'tcp' | 'udp';
  /** Default AUTH_SYS uid 0 gid 0. */
  cred?: OpaqueAuth;
  timeoutMs?: number;
  /** Retry connecting for new calls instead of failing fast (TCP). */
  waitForServer?: boolean;
}

export class Nfs3Client {
  constructor(readonly rpc: RpcClient) {}

  static connect(o: Nfs3ConnectOptions): Nfs3Client {
    const opts = { host: o.host, port: o.port, cred: o.cred ?? rootCred(), timeoutMs: o.timeoutMs, waitForServer: o.waitForServer };
    return new Nfs3Client(o.transport === 'udp' ? new UdpRpcClient(opts) : new TcpRpcClient(opts));
  }

  /** Calls any procedure by name with its RFC-shaped arguments. */
  async call<N extends Nfs3ProcedureName>(name: N, args: Nfs3ArgsOf<N>, opts?: RpcCallOptions): Promise<Nfs3ResOf<N>> {
    const codec = NFS3_PROCEDURES[name] as unknown as {
      proc: number;
      encodeArgs(w: import('../xdr/writer.js').XdrWriter, a: Nfs3ArgsOf<N>): void;
      decodeRes(r: import('../xdr/reader.js').XdrReader): Nfs3ResOf<N>;
    };
    const r = await this.rpc.call(NFS3_PROGRAM, NFS3_VERSION, codec.proc, (w) => codec.encodeArgs(w, args), opts);
    const res = codec.decodeRes(r);
    r.expectEnd();
    return res;
  }

  null(): Promise<void> {
    return this.call('NULL', undefined);
  }
  getattr(a: GetattrArgs): Promise<GetattrRes> {
    return this.call('GETATTR', a);
  }
  setattr(a: SetattrArgs): Promise<SetattrRes> {
    return this.call('SETATTR', a);
  }
  lookup(a: LookupArgs): Promise<LookupRes> {
    return this.call('LOOKUP', a);
  }
  access(a: AccessArgs): Promise<AccessRes> {
    return this.call('ACCESS', a);
  }
  readlink(a: ReadlinkArgs): Promise<ReadlinkRes> {
    return this.call('READLINK', a);
  }
  read(a: ReadArgs): Promise<ReadRes> {
    return this.call('READ', a);
  }
  write(a: WriteArgs): Promise<WriteRes> {
    return this.call('WRITE', a);
  }
  create(a: CreateArgs): Promise<DirOpRes> {
    return this.call('CREATE', a);
  }
  mkdir(a: MkdirArgs): Promise<DirOpRes> {
    return this.call('MKDIR', a);
  }
  symlink(a: SymlinkArgs): Promise<DirOpRes> {
    return this.call('SYMLINK', a);
  }
  mknod(a: MknodArgs): Promise<DirOpRes> {
    return this.call('MKNOD', a);
  }
  remove(a: RemoveArgs): Promise<RemoveRes> {
    return this.call('REMOVE', a);
  }
  rmdir(a: RmdirArgs): Promise<RemoveRes> {
    return this.call('RMDIR', a);
  }
  rename(a: RenameArgs): Promise<RenameRes> {
    return this.call('RENAME', a);
  }
  link(a: LinkArgs): Promise<LinkRes> {
    return this.call('LINK', a);
  }
  readdir(a: ReaddirArgs): Promise<ReaddirRes> {
    return this.call('READDIR', a);
  }
  readdirplus(a: ReaddirplusArgs): Promise<ReaddirplusRes> {
    return this.call('READDIRPLUS', a);
  }
  fsstat(a: FsstatArgs): Promise<FsstatRes> {
    return this.call('FSSTAT', a);
  }
  fsinfo(a: FsinfoArgs): Promise<FsinfoRes> {
    return this.call('FSINFO', a);
  }
  pathconf(a: PathconfArgs): Promise<PathconfRes> {
    return this.call('PATHCONF', a);
  }
  commit(a: CommitArgs): Promise<CommitRes> {
    return this.call('COMMIT', a);
  }

  close(): void {
    this.rpc.close();
  }
}
