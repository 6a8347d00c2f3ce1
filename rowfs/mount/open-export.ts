// One call to reach an export: find the NFS and MOUNT ports (given, or asked from the portmapper),
// MNT the path, and return connected clients with the root handle.
import { Nfs3Client } from '../nfs3/client.js';
import { rootCred } from '../rpc/message.js';
import { NFS3_PROGRAM, NFS3_VERSION, type FileHandle } from '../nfs3/types.js';
import type { OpaqueAuth } from '../rpc/message.js';
import { PortmapClient } from '../portmap/client.js';
import { IPPROTO_TCP } from '../portmap/types.js';
import { MountClient } from './client.js';
import { MOUNT_PROGRAM, MOUNT_VERSION, MountStatus } from './types.js';
import { CodedError } from '../../lib/coded-error.js';

export interface OpenExportOptions {
  host: string;
  exportPath: string;
  nfsPort?: number;
  mountPort?: number;
  /** Portmapper port used when a port above is missing (default 111). */
  portmapPort?: number;
  cred?: OpaqueAuth;
  timeoutMs?: number;
  /** TCP: keep retrying the connection while the server is down (default false). */
  waitForServer?: boolean;
}

export interface OpenedExport {
  nfs: Nfs3Client;
  mount: MountClient;
  root: FileHandle;
  nfsPort: number;
  mountPort: number;
  /** UMNTs (best effort) and closes both clients. */
  close(): Promise<void>;
}

export class MountError extends CodedError<string> {
  constructor(
    readonly status: MountStatus | 'NO_PORT',
    message: string,
  ) {
    super(typeof status === 'string' ? status : (MountStatus[status] ?? String(status)), message);
  }
}

export async function openExport(o: OpenExportOptions): Promise<OpenedExport> {
  let { nfsPort, mountPort } = o;
  if (!nfsPort || !mountPort) {
    const pm = PortmapClient.connect({ host: o.host, port: o.portmapPort, timeoutMs: o.timeoutMs ?? 5000 });
    try {
      nfsPort ||= await pm.getport(NFS3_PROGRAM, NFS3_VERSION, IPPROTO_TCP);
      mountPort ||= await pm.getport(MOUNT_PROGRAM, MOUNT_VERSION, IPPROTO_TCP);
    } finally {
      pm.close();
    }
    if (!nfsPort || !mountPort) throw new MountError('NO_PORT', `${o.host}: NFSv3 or MOUNTv3 over TCP not registered with the portmapper`);
  }
  const cred = o.cred ?? rootCred();
  const mount = MountClient.connect({ host: o.host, port: mountPort, cred, timeoutMs: o.timeoutMs });
  let res;
  try {
    res = await mount.mnt(o.exportPath);
  } catch (e) {
    mount.close();
    throw e;
  }
  if (res.status !== MountStatus.OK) {
    mount.close();
    throw new MountError(res.status, `MNT ${o.host}:${o.exportPath}: MNT3ERR_${MountStatus[res.status]}`);
  }
  const nfs = Nfs3Client.connect({ host: o.host, port: nfsPort, cred, timeoutMs: o.timeoutMs, waitForServer: o.waitForServer });
  return {
    nfs,
    mount,
    root: res.fhandle,
    nfsPort,
    mountPort,
    async close() {
      await mount.umnt(o.exportPath).catch(() => undefined);
      mount.close();
      nfs.close();
    },
  };
}
