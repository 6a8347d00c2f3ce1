// One long-running process per state directory (issue 11, item 7): `overlay up --state`, `overlay
// rowfs --state` and `overlay boot --lease-file` each take an exclusive lock before touching their
// state, so a second one refuses with one line instead of sharing it (two proxies on one state
// each saw NFS3ERR_STALE for the other's files).
//
// The lock is a file holding "pid starttime", created atomically with its content (written to a
// private name, then link(2)ed to the lock's name, which fails if it exists). A lock whose process
// is gone, or whose pid now names another process (the start time in /proc/PID/stat differs), is
// stale: it is removed (only if it still holds what was read) and taken. The lock file is removed
// when the process exits; after a SIGKILL it stays, and is stale. Linux only (/proc).
import { closeSync, linkSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { CodedError } from './coded-error.js';

export class StateLockError extends CodedError<'in-use'> {
  constructor(
    readonly lockPath: string,
    /** The process holding it, when known. */
    readonly holderPid: number | undefined,
  ) {
    super('in-use', holderPid !== undefined ? `in use by process ${holderPid}, which is already running with it (lock ${lockPath})` : `in use (lock ${lockPath} changed while it was being taken)`);
  }
}

export interface StateLock {
  readonly path: string;
  /** Removes the lock file (if it is still ours). Idempotent. */
  release(): void;
}

/** Attempts at taking a stale lock before giving up (another process taking it at the same moment). */
const TAKE_ATTEMPTS = 3;

/**
 * Takes the lock at `lockPath` (its directory must exist) or throws StateLockError naming the
 * holder. Other errors (EACCES, ENOTDIR, ...) are thrown as they are.
 */
export function takeStateLock(lockPath: string): StateLock {
  const mine = `${process.pid} ${startTimeOf(process.pid) ?? 0}\n`;
  for (let attempt = 0; attempt < TAKE_ATTEMPTS; attempt++) {
    if (createWith(lockPath, mine)) return held(lockPath, mine);
    let text: string;
    try {
      text = readFileSync(lockPath, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile
      throw e;
    }
    const holder = parseHolder(text);
    if (holder && isAlive(holder)) throw new StateLockError(lockPath, holder.pid);
    removeIfStill(lockPath, text);
  }
  throw new StateLockError(lockPath, undefined);
}

/** Creates `path` holding `content`, atomically; false when it exists. */
function createWith(path: string, content: string): boolean {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    unlinkSync(tmp);
  }
}

function held(path: string, mine: string): StateLock {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    removeIfStill(path, mine);
  };
  process.on('exit', release);
  return { path, release };
}

function removeIfStill(path: string, text: string): void {
  try {
    if (readFileSync(path, 'utf8') === text) unlinkSync(path);
  } catch {
    /* gone already */
  }
}

function parseHolder(text: string): { pid: number; start: number } | undefined {
  const m = /^(\d+) (\d+)\n$/.exec(text);
  if (!m) return undefined; // not a lock we wrote: treated as stale
  return { pid: Number(m[1]), start: Number(m[2]) };
}

function isAlive(h: { pid: number; start: number }): boolean {
  const start = startTimeOf(h.pid);
  return start !== undefined && (h.start === 0 || start === h.start);
}

/** The process's start time (clock ticks after boot, /proc/PID/stat field 22), undefined when there is no such process. */
function startTimeOf(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const start = Number(fields[19]);
  return Number.isFinite(start) ? start : undefined;
}
