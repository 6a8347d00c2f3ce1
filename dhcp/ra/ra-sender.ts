// Sends router advertisements on the boot link, so iPXE's IPv6 autoconfiguration finishes at once
// instead of timing out (~12 s) before DHCPv4. Node has no raw sockets, so a small python3 child
// owns the raw ICMPv6 socket (tied to the interface, hop limit 255 as RFC 4861 6.1.2 requires of
// receivers): it reads hex-encoded RAs on stdin and sends each to ff02::1, and reports every Router
// Solicitation it hears as "rs <source>" on stdout, which we answer with an immediate RA. The RA
// bytes and the timing (unsolicited interval, RFC 4861 6.2.4) stay here, on the injected clock.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Clock, Timer } from '../../overlay/clock.js';
import { encodeRouterAdvertisement, type RouterAdvertisement } from './router-advertisement.js';

export class RaSenderError extends Error {
  override name = 'RaSenderError';
}

const RAW_SOCKET_SCRIPT = `
import socket, struct, sys, select, binascii
ifname = sys.argv[1]
idx = socket.if_nametoindex(ifname)
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, socket.inet_pton(socket.AF_INET6, 'ff02::2') + struct.pack('@I', idx))
print('ready', flush=True)
buf = b''
while True:
    r, _, _ = select.select([s, sys.stdin.buffer], [], [])
    if s in r:
        data, addr = s.recvfrom(2048)
        if len(data) >= 8 and data[0] == 133 and data[1] == 0:
            print('rs', addr[0], flush=True)
    if sys.stdin.buffer in r:
        chunk = sys.stdin.buffer.read1(65536)
        if not chunk:
            break
        buf += chunk
        while b'\\n' in buf:
            line, buf = buf.split(b'\\n', 1)
            try:
                s.sendto(binascii.unhexlify(line.strip()), ('ff02::1', 0, 0, idx))
                print('sent', flush=True)
            except OSError as e:
                print('error', e, flush=True)
`;

export interface RaSenderOptions {
  interfaceName: string;
  clock: Clock;
  advertisement: RouterAdvertisement;
  /** Unsolicited RA period; default 10 s (RFC 4861 allows 4..1800 s; short because iPXE may boot any moment). */
  intervalMs?: number;
  log?: (line: string) => void;
}

export interface RaCounters {
  sent: number;
  solicitations: number;
  errors: number;
}

const DEFAULT_INTERVAL_MS = 10_000;
const READY_TIMEOUT_MS = 10_000;

export class RaSender {
  readonly counters: RaCounters = { sent: 0, solicitations: 0, errors: 0 };
  private child?: ChildProcess;
  private timer?: Timer;
  private readonly hex: string;

  constructor(private readonly opts: RaSenderOptions) {
    this.hex = Buffer.from(encodeRouterAdvertisement(opts.advertisement)).toString('hex');
  }

  async start(): Promise<void> {
    const child = spawn('python3', ['-u', '-c', RAW_SOCKET_SCRIPT, this.opts.interfaceName], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    let pending = '';
    const ready = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new RaSenderError('router advertisement helper did not start')), READY_TIMEOUT_MS);
      child.once('error', (err) => {
        clearTimeout(t);
        reject(new RaSenderError(`cannot run python3: ${err.message}`));
      });
      child.once('exit', (code) => {
        clearTimeout(t);
        reject(new RaSenderError(`router advertisement helper exited (${code}): ${stderr.trim().split('\n').pop() ?? ''}`));
      });
      child.stdout!.on('data', (d: Buffer) => {
        pending += d.toString();
        let nl;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl).trim();
          pending = pending.slice(nl + 1);
          if (line === 'ready') {
            clearTimeout(t);
            resolve();
          } else this.onHelperLine(line);
        }
      });
    });
    try {
      await ready;
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
    child.removeAllListeners('exit');
    child.on('exit', () => (this.child = undefined));
    child.stdin!.on('error', () => undefined);
    this.advertise();
    this.timer = this.opts.clock.setInterval(() => this.advertise(), this.opts.intervalMs ?? DEFAULT_INTERVAL_MS);
  }

  async close(): Promise<void> {
    this.timer?.cancel();
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin!.end();
    const kill = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(kill);
  }

  private advertise(): void {
    this.child?.stdin!.write(this.hex + '\n');
  }

  private onHelperLine(line: string): void {
    if (line === 'sent') this.counters.sent++;
    else if (line.startsWith('rs ')) {
      this.counters.solicitations++;
      this.opts.log?.(`ra: router solicitation from ${line.slice(3)}`);
      this.advertise();
    } else if (line.startsWith('error')) {
      this.counters.errors++;
      this.opts.log?.(`ra: ${line}`);
    }
  }
}
