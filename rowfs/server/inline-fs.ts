// The local export's metadata system calls, run on the calling thread: the same names and promise
// results as node:fs/promises, but no trip through libuv's thread pool. Each of these calls takes
// microseconds on a local file system, while the trip (queue, wake a pool thread, wake the event
// loop) cost 0.1-0.3 ms per call on a loaded 2-core machine, and a create or remove made 6-11 of
// them: the shadow's latency, and so the proxy's, was mostly hand-offs (docs/rowfs.md, "Metadata
// at ganesha's pace"). ganesha's worker threads make these calls directly too. Data transfers
// (READ, WRITE, COMMIT through fd-cache.ts), directory reads and the handle table's full scan stay
// on the thread pool: they can take long enough to stall every other client.
import {
  chmodSync,
  chownSync,
  closeSync,
  fchownSync,
  fstatSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readlinkSync,
  renameSync,
  rmdirSync,
  statfsSync,
  statSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  utimesSync,
  type BigIntStatsFs,
  type BigIntStats,
} from 'node:fs';

type Time = number | string | Date;

export const lstat = async (path: string, _o: { bigint: true }): Promise<BigIntStats> => lstatSync(path, { bigint: true });
export const stat = async (path: string, _o: { bigint: true }): Promise<BigIntStats> => statSync(path, { bigint: true });
export const statfs = async (path: string, _o: { bigint: true }): Promise<BigIntStatsFs> => statfsSync(path, { bigint: true });
export const chmod = async (path: string, mode: number): Promise<void> => chmodSync(path, mode);
export const chown = async (path: string, uid: number, gid: number): Promise<void> => chownSync(path, uid, gid);
export const lchown = async (path: string, uid: number, gid: number): Promise<void> => lchownSync(path, uid, gid);
export const utimes = async (path: string, atime: Time, mtime: Time): Promise<void> => utimesSync(path, atime, mtime);
export const lutimes = async (path: string, atime: Time, mtime: Time): Promise<void> => lutimesSync(path, atime, mtime);
export const truncate = async (path: string, length: number): Promise<void> => truncateSync(path, length);
export const mkdir = async (path: string, mode: number): Promise<void> => void mkdirSync(path, mode);
export const rmdir = async (path: string): Promise<void> => rmdirSync(path);
export const unlink = async (path: string): Promise<void> => unlinkSync(path);
export const rename = async (from: string, to: string): Promise<void> => renameSync(from, to);
export const link = async (existing: string, made: string): Promise<void> => linkSync(existing, made);
export const symlink = async (target: string, path: string): Promise<void> => symlinkSync(target, path);
export const readlink = async (path: string): Promise<string> => readlinkSync(path);

/**
 * A descriptor opened on the calling thread (an O_PATH look at an object, or a create). utimes and
 * chown act on the descriptor's file (not on an O_PATH descriptor: EBADF), with no path to walk.
 */
export interface InlineHandle {
  readonly fd: number;
  stat(o: { bigint: true }): Promise<BigIntStats>;
  utimes(atime: Time, mtime: Time): Promise<void>;
  chown(uid: number, gid: number): Promise<void>;
  close(): Promise<void>;
}

export const open = async (path: string, flags: number, mode?: number): Promise<InlineHandle> => {
  const fd = openSync(path, flags, mode);
  return {
    fd,
    stat: async () => fstatSync(fd, { bigint: true }),
    utimes: async (atime, mtime) => futimesSync(fd, atime, mtime),
    chown: async (uid, gid) => fchownSync(fd, uid, gid),
    close: async () => closeSync(fd),
  };
};
