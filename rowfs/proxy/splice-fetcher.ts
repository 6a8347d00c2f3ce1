// Cold reads straight from the main server's socket into the block-cache file (native addon
// `rowfssplice`, rowfs/native/rowfs-splice.c: splice(2) socket -> pipe -> file). The data of a READ
// reply never enters the proxy's memory: one kernel copy into the page cache instead of a socket
// receive into a buffer plus a write from it. Calls are encoded here (the usual XDR codecs); the
// addon sends them on its own connections to main (one call at a time each, on a thread of its own)
// and parses the reply's fixed fields. Without the addon (not built), `SpliceFetcher.open` returns
// undefined and the proxy uses its JS path (RPC client + cache writes).
import { randomInt } from 'node:crypto';
import { XdrWriter } from '../xdr/writer.js';
import { encodeCallHeader, AUTH_NONE, type OpaqueAuth } from '../rpc/message.js';
import { READ } from '../nfs3/procedures.js';
import { NFS3_PROGRAM, NFS3_VERSION, type FileHandle } from '../nfs3/types.js';
import type { FileSender } from '../rpc/file-sender.js';
import { loadNativeAddon } from '../../lib/native-addon.js';
import { CodedError } from '../../lib/coded-error.js';

/** The addon's view of one connection (opaque). */
export interface SpliceConnection {
  readonly __brand?: 'SpliceConnection';
}

export interface SpliceAddon {
  connect(host: string, port: number, timeoutMs: number): SpliceConnection;
  read(c: SpliceConnection, call: Uint8Array, xid: number, fileFd: number, fileOffset: number, count: number): Promise<{ status: number; bytes: number; eof: boolean }>;
  close(c: SpliceConnection): void;
  sendFile(socketFd: number, fileFd: number, offset: number, length: number, timeoutMs: number, head?: Uint8Array): Promise<void>;
  /** Set by builds whose sendFile takes a head (older builds ignore it: never pass one to them). */
  readonly sendFileHead?: boolean;
}

/** A FileSender (rpc/file-sender.ts) backed by the addon's sendfile; undefined without the addon. */
export function nativeFileSender(timeoutMs: number, a: SpliceAddon | undefined = loadSpliceAddon()): FileSender | undefined {
  if (!a) return undefined;
  return {
    sendsHead: a.sendFileHead === true,
    send: (socketFd, slice, head) =>
      a.sendFile(socketFd, slice.fd, slice.offset, slice.length, timeoutMs, head === undefined || head.length === 0 ? undefined : head.length === 1 ? head[0] : Buffer.concat(head)),
  };
}

/** A failed native fetch; `code` is the addon's without its SPLICE_ prefix (TIMEOUT, IO, PROTOCOL, DENIED, CACHE_IO, EINVAL, ...). */
export class SpliceFetchError extends CodedError<string> {}

/** An addon error ("SPLICE_<name>", lib/native/napi-util.h) as a SpliceFetchError with code <name>. */
function spliceFetchError(e: unknown, fallbackCode: string, context: string): SpliceFetchError {
  const err = e as { code?: unknown; message?: unknown };
  const code = typeof err?.code === 'string' ? err.code.replace(/^SPLICE_/, '') : fallbackCode;
  return new SpliceFetchError(code, `${context}: ${String(err?.message ?? e)}`);
}

let addon: SpliceAddon | null | undefined;

/** The addon, or undefined when it was not built or does not load (the JS path is used then). */
export function loadSpliceAddon(): SpliceAddon | undefined {
  if (addon !== undefined) return addon ?? undefined;
  try {
    addon = loadNativeAddon<SpliceAddon>('rowfssplice') ?? null;
  } catch {
    addon = null;
  }
  return addon ?? undefined;
}

export interface SpliceFetcherOptions {
  host: string;
  port: number;
  cred: OpaqueAuth;
  /** Connections to main (calls in flight at once). */
  connections: number;
  /** Bound on every blocking step of a call (connect, send, each receive). */
  timeoutMs: number;
  addon?: SpliceAddon;
}

/** Result of one READ: NFS status, bytes now in the file, end of file reached. */
export interface SpliceReadResult {
  status: number;
  bytes: number;
  eof: boolean;
}

export class SpliceFetcher {
  private readonly idle: SpliceConnection[] = [];
  private open = 0;
  private readonly waiting: Array<(c: SpliceConnection | Error) => void> = [];
  private nextXid = randomInt(0, 0x7fffffff);
  private closed = false;
  /** Calls that failed in the addon (connection replaced). */
  failures = 0;

  private constructor(
    private readonly o: SpliceFetcherOptions,
    private readonly addon: SpliceAddon,
  ) {}

  /** A fetcher when the addon is there (undefined otherwise, or when SPLICE is turned off). */
  static open(o: Omit<SpliceFetcherOptions, 'addon'> & { addon?: SpliceAddon }): SpliceFetcher | undefined {
    const a = o.addon ?? loadSpliceAddon();
    return a ? new SpliceFetcher(o, a) : undefined;
  }

  /**
   * READ of `count` bytes at `offset` of main file `fh`, its data written to `fileFd` at
   * `fileOffset`. Resolves with main's status and the bytes written (fewer at end of file);
   * rejects with SpliceFetchError (then nothing about the file's bytes there is known).
   */
  async read(fh: FileHandle, offset: number, count: number, fileFd: number, fileOffset: number): Promise<SpliceReadResult> {
    const xid = this.nextXid;
    this.nextXid = (this.nextXid + 1) >>> 0;
    const w = new XdrWriter(256, 0);
    encodeCallHeader(w, { xid, prog: NFS3_PROGRAM, vers: NFS3_VERSION, proc: READ.proc, cred: this.o.cred, verf: AUTH_NONE });
    READ.encodeArgs(w, { file: fh, offset: BigInt(offset), count });
    const call = w.bytes();
    const c = await this.acquire();
    let broken = false;
    try {
      return await this.addon.read(c, call, xid, fileFd, fileOffset, count);
    } catch (e) {
      broken = true;
      this.failures++;
      throw spliceFetchError(e, 'IO', 'main READ by splice');
    } finally {
      this.releaseConn(c, broken);
    }
  }

  private acquire(): Promise<SpliceConnection> {
    if (this.closed) return Promise.reject(new SpliceFetchError('CLOSED', 'fetcher closed'));
    const c = this.idle.pop();
    if (c) return Promise.resolve(c);
    if (this.open < this.o.connections) {
      this.open++;
      try {
        return Promise.resolve(this.addon.connect(this.o.host, this.o.port, this.o.timeoutMs));
      } catch (e) {
        this.open--;
        return Promise.reject(spliceFetchError(e, 'CONNECT_FAILED', `connecting to main ${this.o.host}:${this.o.port}`));
      }
    }
    return new Promise((resolve, reject) => this.waiting.push((r) => (r instanceof Error ? reject(r) : resolve(r))));
  }

  private releaseConn(c: SpliceConnection, broken: boolean): void {
    if (broken || this.closed) {
      this.addon.close(c);
      this.open--;
      const next = this.waiting.shift();
      if (next) void this.acquire().then(next, next);
      return;
    }
    const next = this.waiting.shift();
    if (next) next(c);
    else this.idle.push(c);
  }

  /** Closes idle connections; calls in progress finish (or fail) and close theirs. */
  close(): void {
    this.closed = true;
    for (const c of this.idle.splice(0)) {
      this.addon.close(c);
      this.open--;
    }
    for (const w of this.waiting.splice(0)) w(new SpliceFetchError('CLOSED', 'fetcher closed'));
  }
}
