// What `overlay up` checks before it touches the network or the disk (issue 14 item 5): the TUN
// name, the ports it will listen on, and the state directory. Each failure is one CliError naming
// the fix; nothing here creates, writes or keeps anything.
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { createSocket, Socket } from 'node:dgram';
import { createServer, isIPv6 } from 'node:net';
import { dirname } from 'node:path';
import { CliError } from './command.js';

/** Network devices of this process's network namespace (/proc/self/net/dev follows the namespace, /sys may not). */
export function networkDeviceNames(): string[] {
  return readFileSync('/proc/self/net/dev', 'utf8')
    .split('\n')
    .slice(2)
    .map((line) => line.split(':')[0]!.trim())
    .filter((name) => name.length > 0);
}

/** A TUN name already taken (another node's TUN, or any device) would fail TUNSETIFF only after joining. */
export function checkTunNameFree(ifname: string): void {
  if (networkDeviceNames().includes(ifname)) {
    throw new CliError(`TUN name ${ifname} is in use (a network device of that name exists: another overlay node?); choose another with --tun NAME`, 1);
  }
}

/**
 * Binds `host:port` (TCP, or UDP for the STUN server) and lets go at once: a port taken by another
 * process is reported before anything is written. A process could still take it in the moment
 * between; the real bind reports that.
 */
export async function checkPortFree(host: string, port: number, what: string, protocol: 'tcp' | 'udp' = 'tcp'): Promise<void> {
  if (port === 0) return;
  const server = protocol === 'tcp' ? createServer() : createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if (server instanceof Socket) server.bind({ address: host, port, exclusive: true }, resolve);
      else server.listen({ host, port, exclusive: true }, resolve);
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'EADDRINUSE' ? 'is in use by another process; choose another port'
      : code === 'EADDRNOTAVAIL' ? 'is not an address of this machine'
      : code === 'EACCES' ? 'needs privileges (ports below 1024)'
      : `cannot be bound (${code ?? String(e)})`;
    throw new CliError(`${what} ${host}:${port}${protocol === 'udp' ? ' (UDP)' : ''} ${why}`, 1);
  } finally {
    await new Promise<void>((resolve) => {
      try {
        server.close(() => resolve());
      } catch {
        resolve(); // a UDP socket that never bound cannot be closed
      }
    });
  }
}

/**
 * The state directory holds the identity key and the secret: if it exists it must be a directory this
 * user owns, writable, and not writable by others (as ssh's StrictModes); if not, its nearest
 * existing parent must let this user create it.
 */
export function checkStateDirUsable(dir: string, what: string): void {
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new CliError(`${what} ${dir}: cannot use it (${code ?? String(e)})`);
    checkCreatable(dir, what);
    return;
  }
  if (!st.isDirectory()) throw new CliError(`${what} ${dir}: not a directory`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new CliError(`${what} ${dir}: owned by uid ${st.uid}, not by this user (uid ${uid}); chown it or choose another`);
  if ((st.mode & 0o022) !== 0) throw new CliError(`${what} ${dir}: writable by others (mode ${(st.mode & 0o777).toString(8)}); chmod 700 it`);
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    throw new CliError(`${what} ${dir}: cannot write in it`);
  }
}

function checkCreatable(dir: string, what: string): void {
  let parent = dirname(dir);
  for (let depth = 0; depth < 256; depth++, parent = dirname(parent)) {
    let st;
    try {
      st = statSync(parent);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if ((code === 'ENOENT' || code === 'ENOTDIR') && parent !== dirname(parent)) continue;
      break;
    }
    if (!st.isDirectory()) throw new CliError(`${what} ${dir}: ${parent} is not a directory`);
    try {
      accessSync(parent, constants.W_OK | constants.X_OK);
      return;
    } catch {
      throw new CliError(`${what} ${dir}: cannot create it (${parent} is not writable)`);
    }
  }
  throw new CliError(`${what} ${dir}: cannot create it`);
}
