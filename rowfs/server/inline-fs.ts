// The local export's metadata system calls, run on the calling thread: the same names and promise
// results as node:fs/promises, but no trip through libuv's thread pool. Each of these calls takes
// microseconds on a local file system, while the trip (queue, wake a pool thread, wake the event
// loop) cost 0.1-0.3 ms per call on a loaded 2-core machine, and a create or remove made 6-11 of
// them: the shadow's latency, and so the proxy's, was mostly hand-offs (docs/rowfs.md, "Metadata
// at ganesha's pace"). ganesha's worker threads make these calls directly too. Data transfers
// (READ, WRITE, COMMIT through fd-cache.ts), directory reads and the handle table's full scan stay
// on the thread pool: they can take long enough to stall every other client.
// Most of the export's calls use node:fs's synchronous functions directly (export-tree.ts,
// namespace-procedures.ts, set-attributes.ts); these are the ones still awaited.
import { lstatSync, readlinkSync, statfsSync, type BigIntStatsFs, type BigIntStats } from 'node:fs';

export const lstat = async (path: string, _o: { bigint: true }): Promise<BigIntStats> => lstatSync(path, { bigint: true });
export const statfs = async (path: string, _o: { bigint: true }): Promise<BigIntStatsFs> => statfsSync(path, { bigint: true });
export const readlink = async (path: string): Promise<string> => readlinkSync(path);
