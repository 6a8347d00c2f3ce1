// The shadow as direct calls into the embedded export's procedures (issue 15 part 2): for a local
// shadow directory the proxy used to serve the directory with the embedded NFSv3 server on
// loopback and talk to it as a client, so every shadow operation was encoded, sent over TCP,
// decoded, served, encoded, sent back and decoded again. Here the same LocalExport code runs the
// call in-process: no XDR, no socket. (A shadow on another NFS server still goes over RPC.)
import { realpathSync } from 'node:fs';
import type { Nfs3ArgsOf, Nfs3ProcedureName, Nfs3ResOf } from '../nfs3/procedures.js';
import { NFS3_PROGRAM, NFS3_VERSION, Nfs3Proc, type FileHandle } from '../nfs3/types.js';
import { AUTH_NONE, AuthFlavor, type OpaqueAuth } from '../rpc/message.js';
import { AuthSysCache } from '../rpc/auth-sys-cache.js';
import type { RpcCallContext } from '../rpc/server.js';
import { LocalExport } from '../server/local-export.js';
import { DEFAULT_HELD_DIRS } from '../server/held-dirs.js';
import type { Nfs3Caller } from './backend.js';

type Handler = (args: unknown, ctx: RpcCallContext) => unknown;

/** A LocalExport over `dir` and a caller that runs procedures on it directly; close releases its descriptors. */
export async function openLocalShadow(dir: string): Promise<{ caller: Nfs3Caller; root: FileHandle; scanEdges: () => number; close: () => Promise<void> }> {
  // Only the proxy changes its shadow directory: its directories' descriptors may be held.
  const exp = new LocalExport({ root: realpathSync(dir), heldDirs: DEFAULT_HELD_DIRS });
  await exp.init();
  const authSys = new AuthSysCache();
  const caller: Nfs3Caller = {
    // Not an async function: a procedure that finished synchronously (most local ones) costs one
    // resolved promise, not an async frame and an await.
    call<N extends Nfs3ProcedureName>(name: N, args: Nfs3ArgsOf<N>, opts?: { cred?: OpaqueAuth }): Promise<Nfs3ResOf<N>> {
      const handler = (exp as unknown as Record<string, Handler>)[name];
      if (typeof handler !== 'function') return Promise.reject(new Error(`the local shadow has no procedure ${name}`));
      let res: unknown;
      try {
        const cred = opts?.cred ?? AUTH_NONE;
        const ctx: RpcCallContext = {
          xid: 0,
          prog: NFS3_PROGRAM,
          vers: NFS3_VERSION,
          proc: Nfs3Proc[name as keyof typeof Nfs3Proc] as number,
          cred,
          authSys: cred.flavor === AuthFlavor.AUTH_SYS ? authSys.decode(cred.body) : undefined,
          transport: 'tcp',
          remoteAddress: '127.0.0.1',
          remotePort: 0,
          sendsFiles: false,
        };
        res = handler.call(exp, args, ctx);
      } catch (e) {
        return Promise.reject(e);
      }
      return (res instanceof Promise ? res : Promise.resolve(res)) as Promise<Nfs3ResOf<N>>;
    },
  };
  return { caller, root: exp.rootHandle(), scanEdges: () => exp.scanEdges(), close: () => exp.close() };
}
