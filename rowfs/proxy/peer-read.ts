// A READ of a replicated tree answered from other mounts' blocks (rowfs/peer) where they hold
// them and from the server for the runs they do not. Each run's server READ gets its own reply
// buffer: a caller's `replyInto` is one buffer, and a second run's reply landing in it would
// overwrite the first run's already-verified bytes. A run the server answers short is read on
// from where it stopped until the run's end or EOF (as ReplicatedMain.readRange does).
import { Nfs3Status } from '../nfs3/types.js';
import type { Nfs3ArgsOf, Nfs3ResOf } from '../nfs3/procedures.js';
import type { RpcCallOptions } from '../rpc/client.js';
import { MAX_BLOCKS_PER_REQUEST } from '../peer/peer-codec.js';
import { StatusError } from './errors.js';

/** Other mounts of the tree that may hold blocks (rowfs/peer/peer-fetcher.ts): asked before the server. */
export interface BlockPeers {
  /**
   * Blocks [first, last] of the file at `path` (path id `file`), each already checked against the
   * manifest; undefined where no peer supplied one. Never rejects.
   */
  fetch(path: string, file: Uint8Array, first: number, last: number): Promise<Array<Uint8Array | undefined>>;
}

export interface PeerReadContext {
  blockSize: number;
  /** The manifest's entry for the path (files only are read through peers). */
  entry: { type: string; size: number } | undefined;
  peers: BlockPeers;
  /** One READ of the server, verified there (a non-OK status is returned, not thrown). */
  server(args: Nfs3ArgsOf<'READ'>, opts?: RpcCallOptions): Promise<Nfs3ResOf<'READ'>>;
}

/**
 * The READ `args` of the file at `path` (path id `file`) from peers and the server, or undefined
 * (the caller asks the server for all of it) when no peer had any block.
 */
export async function readViaPeers(c: PeerReadContext, path: string, file: Uint8Array, args: Nfs3ArgsOf<'READ'>, opts?: RpcCallOptions): Promise<Nfs3ResOf<'READ'> | undefined> {
  const want = c.entry;
  const offset = Number(args.offset);
  if (!want || want.type !== 'file' || offset >= want.size || args.count === 0) return undefined;
  const bs = c.blockSize;
  const end = Math.min(offset + args.count, want.size);
  const first = Math.floor(offset / bs);
  const last = Math.floor((end - 1) / bs);
  // One peer request per MAX_BLOCKS_PER_REQUEST blocks (a 1 MiB READ of 4 KiB blocks is 256), in parallel.
  const asked: Array<Promise<Array<Uint8Array | undefined>>> = [];
  for (let b = first; b <= last; b += MAX_BLOCKS_PER_REQUEST) asked.push(c.peers.fetch(path, file, b, Math.min(last, b + MAX_BLOCKS_PER_REQUEST - 1)));
  const blocks = (await Promise.all(asked)).flat();
  if (blocks.every((b) => b === undefined)) return undefined;
  const { replyInto: _shared, ...own } = opts ?? {};
  for (let i = 0; i < blocks.length; ) {
    if (blocks[i] !== undefined) {
      i++;
      continue;
    }
    let j = i;
    while (j + 1 < blocks.length && blocks[j + 1] === undefined) j++;
    const from = (first + i) * bs;
    const to = Math.min((first + j + 1) * bs, want.size);
    const run = await serverRun(c, path, args, from, to, own);
    if (!(run instanceof Uint8Array)) return run;
    for (let k = i; k <= j; k++) blocks[k] = run.subarray((k - i) * bs, Math.min((k - i + 1) * bs, run.length));
    i = j + 1;
  }
  const all = Buffer.concat(blocks as Uint8Array[]);
  const data = all.subarray(offset - first * bs, end - first * bs);
  return { status: Nfs3Status.OK, count: data.length, eof: end >= want.size, data };
}

/** Bytes [from, to) from the server, read on after short replies; a non-OK reply is handed back. */
async function serverRun(c: PeerReadContext, path: string, args: Nfs3ArgsOf<'READ'>, from: number, to: number, opts: RpcCallOptions): Promise<Uint8Array | Nfs3ResOf<'READ'>> {
  const parts: Uint8Array[] = [];
  let at = from;
  while (at < to) {
    const r = await c.server({ ...args, offset: BigInt(at), count: to - at }, opts);
    if (r.status !== Nfs3Status.OK) return r;
    parts.push(r.data);
    at += r.data.length;
    if (r.data.length === 0 || r.eof) break;
  }
  // The manifest says the file runs to `to`: a server that ends it sooner is wrong (its verifier lets a
  // truncated file's last whole block through), and the client must not get a hole filled with nothing.
  if (at !== to) throw new StatusError(Nfs3Status.IO, `${path}: the server ended the file at ${at}, the manifest at ${to}`);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}
