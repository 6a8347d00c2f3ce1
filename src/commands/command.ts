// The contract every `overlay <name>` subcommand implements, plus the small argument parser they share.
import { statSync, unlinkSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { StateLockError, takeStateLock, type StateLock } from '../../lib/state-lock.js';
import { makeDirectory } from '../../lib/make-directory.js';
import { CodedError } from '../../lib/coded-error.js';

export interface Command {
  /** One line for `overlay --help`. */
  summary: string;
  /** Full text for `overlay <name> --help`. */
  help: string;
  /** Runs the command; resolves to the process exit code. Throws CliError for user mistakes. */
  run(argv: string[]): Promise<number>;
}

/** A user-facing error: printed without a stack trace, exit code 2 for usage, 1 for failures. */
export class CliError extends CodedError<'usage' | 'failed'> {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(exitCode === 2 ? 'usage' : 'failed', message);
  }
}

export interface OptionSpec {
  /** Option takes a value (`--name VALUE` or `--name=VALUE`); otherwise it is a boolean flag. */
  value?: boolean;
  /** May be given more than once; values are collected in order. */
  repeat?: boolean;
}

export interface ParsedArgs {
  options: Record<string, string | boolean | string[]>;
  positionals: string[];
}

/**
 * Parses `argv` against `spec`; unknown options, missing values and an option given twice (unless
 * it repeats) are CliErrors, never guesses: `--network a --network b` used to take b silently.
 */
export function parseArgs(argv: string[], spec: Record<string, OptionSpec>): ParsedArgs {
  const options: ParsedArgs['options'] = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const opt = spec[name];
    if (!opt) throw new CliError(`unknown option --${name}`);
    let value: string | boolean = true;
    if (opt.value) {
      if (eq >= 0) value = arg.slice(eq + 1);
      else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) value = argv[++i]!;
      else throw new CliError(`option --${name} needs a value`);
    } else if (eq >= 0) {
      throw new CliError(`option --${name} takes no value`);
    }
    if (opt.repeat) {
      const list = (options[name] as string[] | undefined) ?? [];
      list.push(String(value));
      options[name] = list;
    } else {
      if (options[name] !== undefined) throw new CliError(`option --${name} given more than once`);
      options[name] = value;
    }
  }
  return { options, positionals };
}

/**
 * Reads an integer option within [min, max], or the default. Plain decimal digits only: Number()
 * also takes '1e3', '0x50', ' 7' and '' (= 0), which `--listen 1e3` was.
 */
export function intOption(args: ParsedArgs, name: string, dflt: number, min: number, max: number): number {
  const raw = args.options[name];
  if (raw === undefined) return dflt;
  const n = typeof raw === 'string' && /^-?\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new CliError(`--${name} must be an integer in ${min}..${max}, got '${String(raw)}'`);
  }
  return n;
}

/** Reads an IP address option (IPv4 dotted quad or IPv6), or the default: `999.0.0.1` is refused here, not by a socket later. */
export function addressOption(args: ParsedArgs, name: string, dflt?: string): string | undefined {
  const raw = stringOption(args, name, dflt);
  if (raw !== undefined && isIP(raw) === 0) throw new CliError(`--${name} must be an IP address, got '${raw}'`);
  return raw;
}

/** Reads a string option, or the default (undefined when no default). */
export function stringOption(args: ParsedArgs, name: string, dflt?: string): string | undefined {
  const raw = args.options[name];
  if (raw === undefined) return dflt;
  if (typeof raw !== 'string') throw new CliError(`--${name} needs a value`);
  return raw;
}

/** Name of the lock file in a state directory (see lib/state-lock.ts). */
export const STATE_LOCK_FILE = 'overlay.lock';

/**
 * Creates directory `dir` (named `what`, e.g. "--shadow") if needed and checks this process can
 * write in it; a CliError (exit 2, one line) when it cannot be used.
 */
export function checkWritableDirectory(dir: string, what: string): void {
  try {
    makeDirectory(dir, 0o700);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(`${what} ${dir}: ${code === 'EEXIST' || code === 'ENOTDIR' ? 'not a directory' : `cannot create it (${code ?? String(e)})`}`);
  }
  const probe = join(dir, `.overlay-probe-${process.pid}`);
  try {
    writeFileSync(probe, '');
    unlinkSync(probe);
  } catch (e) {
    throw new CliError(`${what} ${dir}: cannot write in it (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/**
 * Creates state directory `dir` if needed and locks it for this process: one line and exit 1 when
 * another process holds it, exit 2 when `dir` (named `what`, e.g. "--state") cannot be one.
 */
export function lockStateDir(dir: string, what: string): StateLock {
  checkWritableDirectory(dir, what);
  return lockAt(join(dir, STATE_LOCK_FILE), `${what} ${dir}`);
}

/**
 * Where locks of directories that cannot hold their own lock live: one per host and user (root:
 * /run/overlay/locks; others: their runtime directory, or the temporary directory).
 */
function hostLockDirectory(): string {
  const uid = process.getuid?.() ?? 0;
  if (uid === 0) return '/run/overlay/locks';
  return join(process.env.XDG_RUNTIME_DIR ?? tmpdir(), `overlay-${uid}`, 'locks');
}

/**
 * Creates shadow directory `dir` if needed and locks it for this process, like lockStateDir. The
 * lock cannot be a file inside it (clients would see it in their file system), so it is a host-wide
 * lock named by the directory's device and inode: a second proxy on the same shadow with another
 * --state (which would change files behind the first proxy's back) refuses with one line.
 */
export function lockShadowDir(dir: string, what: string): StateLock {
  checkWritableDirectory(dir, what);
  const st = statSync(dir);
  const locks = hostLockDirectory();
  try {
    makeDirectory(locks, 0o700);
  } catch (e) {
    throw new CliError(`${what} ${dir}: cannot create the lock directory ${locks} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return lockAt(join(locks, `dir-${st.dev}-${st.ino}.lock`), `${what} ${dir}`);
}

/** Locks state file `file` (a lock file beside it; its directory is created), with lockStateDir's errors. */
export function lockStateFile(file: string, what: string): StateLock {
  checkWritableDirectory(dirname(file), `${what} ${file}: its directory`);
  return lockAt(`${file}.lock`, `${what} ${file}`);
}

function lockAt(lockPath: string, label: string): StateLock {
  try {
    return takeStateLock(lockPath);
  } catch (e) {
    if (e instanceof StateLockError) throw new CliError(`${label} is ${e.message}: stop that process or use another`, 1);
    const code = (e as NodeJS.ErrnoException).code;
    if (code) throw new CliError(`${label}: cannot write its lock file (${code})`);
    throw e;
  }
}
