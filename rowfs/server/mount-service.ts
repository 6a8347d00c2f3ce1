// MOUNT v3 for the embedded server: one export, MNT of its path or of a directory below it.
import { posix } from 'node:path';
import type { MountHandlers } from '../mount/program.js';
import { MountStatus, type ExportEntry, type MntRes, type MountEntry } from '../mount/types.js';
import { AuthFlavor } from '../rpc/message.js';
import type { RpcCallContext } from '../rpc/server.js';
import { Nfs3Status } from '../nfs3/types.js';
import type { LocalExport } from './local-export.js';

/** Entries MNT records for DUMP (a client that mounts in a loop must not grow it without end). */
export const MAX_MOUNT_ENTRIES = 4096;

const NFS_TO_MOUNT: Partial<Record<Nfs3Status, MountStatus>> = {
  [Nfs3Status.NOENT]: MountStatus.NOENT,
  [Nfs3Status.NOTDIR]: MountStatus.NOTDIR,
  [Nfs3Status.ACCES]: MountStatus.ACCES,
  [Nfs3Status.NAMETOOLONG]: MountStatus.NAMETOOLONG,
  [Nfs3Status.INVAL]: MountStatus.INVAL,
};

/** The MNT failure for an NFS status met while resolving the path (IO when there is no closer one). */
export function mountStatusOf(status: Nfs3Status): Exclude<MountStatus, MountStatus.OK> {
  return (NFS_TO_MOUNT[status] ?? MountStatus.IO) as Exclude<MountStatus, MountStatus.OK>;
}

export class MountService implements MountHandlers {
  private readonly mounts: MountEntry[] = [];

  /** @param exportPath the path clients MNT (e.g. "/export"), normalised, absolute */
  constructor(
    private readonly exportPath: string,
    private readonly fs: LocalExport,
  ) {}

  async mnt(dirpath: string, ctx: RpcCallContext): Promise<MntRes> {
    const p = posix.normalize(dirpath).replace(/\/+$/, '') || '/';
    const base = this.exportPath === '/' ? '' : this.exportPath;
    if (p !== this.exportPath && !p.startsWith(`${base}/`)) return { status: MountStatus.NOENT };
    const rest = p === this.exportPath ? [] : p.slice(base.length + 1).split('/');
    const fh = await this.fs.handleOfSubdir(rest);
    if (typeof fh === 'number') return { status: mountStatusOf(fh) };
    if (this.mounts.length < MAX_MOUNT_ENTRIES) this.mounts.push({ hostname: ctx.remoteAddress, directory: p });
    return { status: MountStatus.OK, fhandle: fh, authFlavors: [AuthFlavor.AUTH_SYS, AuthFlavor.AUTH_NONE] };
  }

  dump(): MountEntry[] {
    return this.mounts.map((m) => ({ ...m }));
  }

  umnt(dirpath: string, ctx: RpcCallContext): void {
    const i = this.mounts.findIndex((m) => m.hostname === ctx.remoteAddress && m.directory === posix.normalize(dirpath));
    if (i >= 0) this.mounts.splice(i, 1);
  }

  umntall(ctx: RpcCallContext): void {
    for (let i = this.mounts.length - 1; i >= 0; i--) if (this.mounts[i]!.hostname === ctx.remoteAddress) this.mounts.splice(i, 1);
  }

  export(): ExportEntry[] {
    return [{ dir: this.exportPath, groups: [] }];
  }
}
