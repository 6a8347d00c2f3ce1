// One NFS server behind the proxy (the read-only main server or the shadow server): an NFSv3
// client, the export's root handle, and the counters every call goes through. `ok` turns a non-OK
// status into a StatusError so proxy code reads as straight-line steps.
import type { Nfs3ArgsOf, Nfs3ProcedureName, Nfs3ResOf } from '../nfs3/procedures.js';
import { Nfs3Status, type FileHandle } from '../nfs3/types.js';
import type { OpaqueAuth } from '../rpc/message.js';
import type { RpcCallOptions } from '../rpc/client.js';
import type { Counters } from '../counters.js';
import { StatusError } from './errors.js';
import type { ShadowAttrs, ShadowSend } from './shadow-attrs.js';

export type BackendRole = 'main' | 'shadow';

/** What a backend calls: an NFSv3 client over RPC, or a local export in-process (local-shadow.ts). */
export interface Nfs3Caller {
  call<N extends Nfs3ProcedureName>(name: N, args: Nfs3ArgsOf<N>, opts?: RpcCallOptions): Promise<Nfs3ResOf<N>>;
}

export class Backend {
  constructor(
    readonly role: BackendRole,
    readonly client: Nfs3Caller,
    public root: FileHandle,
    private readonly counters: Counters,
    /** Attributes this backend already returned, for a backend only the proxy changes (shadow-attrs.ts). */
    readonly attrs?: ShadowAttrs,
  ) {}

  /**
   * One call, counted; resolves with the status union (never throws for an NFS status). Not an
   * async function: a call whose result needs no byte counting hands back the caller's promise
   * as is (one promise and one async frame less per backend call).
   */
  call<N extends Nfs3ProcedureName>(name: N, args: Nfs3ArgsOf<N>, cred?: OpaqueAuth, opts?: RpcCallOptions): Promise<Nfs3ResOf<N>> {
    if (this.attrs) return this.attrs.call(name, args, this.countedSend as ShadowSend<N>, cred, opts);
    return this.sendCounted(name, args, cred, opts);
  }

  /** sendCounted as one function for the backend's life, given to ShadowAttrs on every call (no closure per call). */
  private readonly countedSend: ShadowSend<Nfs3ProcedureName> = (name, args, cred, opts) => this.sendCounted(name, args, cred, opts);

  /** One call sent to the server, counted. */
  private sendCounted<N extends Nfs3ProcedureName>(name: N, args: Nfs3ArgsOf<N>, cred?: OpaqueAuth, opts?: RpcCallOptions): Promise<Nfs3ResOf<N>> {
    this.counters.call(this.role, name);
    let p: Promise<Nfs3ResOf<N>>;
    try {
      p = this.client.call(name, args, cred === undefined ? opts : opts === undefined ? { cred } : { ...opts, cred });
    } catch (e) {
      return Promise.reject(e);
    }
    if (name !== 'READ' && name !== 'WRITE') return p;
    return p.then((res) => {
      const r = (res ?? {}) as { status?: number; data?: Uint8Array };
      if (name === 'READ' && r.status === Nfs3Status.OK && r.data) {
        if (this.role === 'main') this.counters.bytesFromMain += r.data.length;
        else this.counters.bytesFromShadow += r.data.length;
      }
      if (name === 'WRITE' && this.role === 'shadow') this.counters.bytesToShadow += (args as Nfs3ArgsOf<'WRITE'>).data.length;
      return res;
    });
  }

  /** Like call, but a non-OK status throws StatusError. */
  async ok<N extends Nfs3ProcedureName>(name: N, args: Nfs3ArgsOf<N>, cred?: OpaqueAuth, opts?: RpcCallOptions): Promise<Extract<Nfs3ResOf<N>, { status: Nfs3Status.OK }>> {
    const res = await this.call(name, args, cred, opts);
    const status = (res as { status: Nfs3Status }).status;
    if (status !== Nfs3Status.OK) throw new StatusError(status, `${this.role} ${name}`);
    return res as Extract<Nfs3ResOf<N>, { status: Nfs3Status.OK }>;
  }
}
