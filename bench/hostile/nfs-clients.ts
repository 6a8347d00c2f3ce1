// NFS clients for the hostile benchmark and tests (issue 11, item 3): a legitimate client that
// mounts and READs 1 MiB, and the pipelined READ calls an attacker sends without reading replies.
// Shared by test/hostile/rpc-pipelined-reads.test.ts and `npm run bench:hostile`.
import { openExport } from '../../rowfs/mount/open-export.js';
import { expectOk } from '../../rowfs/nfs3/errors.js';
import { NFS3_PROCEDURES } from '../../rowfs/nfs3/procedures.js';
import { NFS3_PROGRAM, NFS3_VERSION, Nfs3Proc, type FileHandle } from '../../rowfs/nfs3/types.js';
import { AUTH_NONE, encodeCallHeader } from '../../rowfs/rpc/message.js';
import { encodeRecord } from '../../rowfs/rpc/record-marking.js';
import { XdrWriter } from '../../rowfs/xdr/writer.js';

const MiB = 1024 * 1024;

export interface NfsTarget {
  exportPath: string;
  nfsPort: number;
  mountPort: number;
}

/** Mounts `target` from 127.0.0.1, looks up `f` and READs its second MiB; resolves with the READ's latency in ms. */
export async function legitimateRead(target: NfsTarget): Promise<number> {
  const ex = await openExport({ host: '127.0.0.1', ...target, timeoutMs: 10_000 });
  try {
    const f = expectOk(await ex.nfs.lookup({ what: { dir: ex.root, name: 'f' } }), 'LOOKUP').object;
    const started = performance.now();
    const r = expectOk(await ex.nfs.read({ file: f, offset: BigInt(MiB), count: MiB }), 'READ');
    if (r.data.length !== MiB) throw new Error(`short READ ${r.data.length}`);
    return performance.now() - started;
  } finally {
    await ex.close();
  }
}

/** `calls` READ calls of 1 MiB of `fh` (alternating its first two MiB), as one buffer of records. */
export function pipelinedReads(fh: FileHandle, calls: number): Buffer {
  const records: Uint8Array[] = [];
  for (let i = 0; i < calls; i++) {
    const w = new XdrWriter(256, 4);
    encodeCallHeader(w, { xid: i + 1, prog: NFS3_PROGRAM, vers: NFS3_VERSION, proc: Nfs3Proc.READ, cred: AUTH_NONE, verf: AUTH_NONE });
    NFS3_PROCEDURES.READ.encodeArgs(w, { file: fh, offset: BigInt((i % 2) * MiB), count: MiB });
    records.push(encodeRecord(w.bytes()));
  }
  return Buffer.concat(records);
}
