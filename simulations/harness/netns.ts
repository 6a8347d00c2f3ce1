// Network namespaces created and destroyed by the test that owns them. Names carry the test's PID
// so parallel test files never collide, and `destroy` removes everything the namespace held
// (its processes must be killed by the caller first).
import { execFileSync } from 'node:child_process';
import { onInterrupt } from './interrupt-cleanup.js';
import { run } from './proc.js';

let counter = 0;

export class Netns {
  readonly name: string;
  /** Drops the namespace's removal on SIGTERM/SIGINT (for namespaces this process created). */
  private forget: () => void = () => undefined;
  private constructor(name: string) {
    this.name = name;
  }

  /** Creates `ovt<pid>-<tag>-<n>` with loopback up. */
  static async create(tag: string): Promise<Netns> {
    const name = `ovt${process.pid}-${tag}-${counter++}`.slice(0, 40);
    await run('ip', ['netns', 'add', name]);
    const ns = new Netns(name);
    ns.forget = onInterrupt(() => execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore', timeout: 10_000 }));
    await ns.exec('ip', ['link', 'set', 'lo', 'up']);
    return ns;
  }

  /** A namespace created by someone else (e.g. a topology), to run things in; `destroy` is theirs to call. */
  static existing(name: string): Netns {
    return new Netns(name);
  }

  /** Runs a command inside the namespace to completion. */
  exec(cmd: string, args: string[], timeoutMs = 30_000) {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], timeoutMs);
  }

  /** argv prefix to start a long-running process inside the namespace. */
  wrap(cmd: string, args: string[]): [string, string[]] {
    return ['ip', ['netns', 'exec', this.name, cmd, ...args]];
  }

  async destroy(): Promise<void> {
    this.forget();
    await run('ip', ['netns', 'del', this.name]).catch(() => undefined);
  }
}

/**
 * A veth pair between two namespaces (either may be undefined for the root namespace), with the
 * given CIDR addresses, brought up. Interface names must be <= 15 chars.
 */
export async function vethPair(
  a: { ns?: Netns; ifname: string; cidr?: string },
  b: { ns?: Netns; ifname: string; cidr?: string },
): Promise<void> {
  await run('ip', ['link', 'add', a.ifname, 'type', 'veth', 'peer', 'name', b.ifname]);
  for (const side of [a, b]) {
    if (side.ns) await run('ip', ['link', 'set', side.ifname, 'netns', side.ns.name]);
    const exec = (args: string[]) => (side.ns ? side.ns.exec('ip', args) : run('ip', args));
    if (side.cidr) await exec(['addr', 'add', side.cidr, 'dev', side.ifname]);
    await exec(['link', 'set', side.ifname, 'up']);
  }
}
