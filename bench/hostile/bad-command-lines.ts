// Bad `overlay` command lines (issue 11, items 9-11): every subcommand with bad, missing, extra,
// repeated, huge and negative arguments, and with unreadable and special files. Each must end
// within seconds with one line, no stack trace and a non-zero exit code. Shared by the standing
// test (test/hostile/bad-command-lines.test.ts) and `npm run bench:hostile` (cli_stack_traces).
// Every line here must be refused before a service starts: one that were accepted would run until
// the deadline and count as a failure.
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BadCommandLine {
  name: string;
  args: string[];
}

export interface BadCommandLineResult {
  code: number | 'timeout';
  output: string;
  ms: number;
  /** Lines of output (stdout and stderr together, trimmed). */
  lines: number;
  stackTrace: boolean;
}

const HEX40 = 'ab'.repeat(20);
const HUGE = 'x'.repeat(100_000);
const HUGE_NUMBER = '9'.repeat(40);

/** Creates the files the command lines name under `dir`: a file, a FIFO, a short and a 100 kB secret, a boot directory. */
export function prepareFixture(dir: string): void {
  mkdirSync(join(dir, 'boot'), { recursive: true });
  writeFileSync(join(dir, 'file'), 'x');
  writeFileSync(join(dir, 'short-secret'), 'tooshort\n');
  writeFileSync(join(dir, 'big'), Buffer.alloc(100_000, 0x41));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
}

/** The list, with paths under `dir` (see prepareFixture). */
export function badCommandLines(dir: string): BadCommandLine[] {
  const file = join(dir, 'file');
  const fifo = join(dir, 'fifo');
  const boot = join(dir, 'boot');
  let n = 0;
  const state = () => join(dir, `state-${n++}`);
  const up = (...a: string[]) => ['up', '--network', 'bad', '--no-vnet', '--state', state(), ...a];
  const rowfs = (...a: string[]) => ['rowfs', '--main', '127.0.0.1:/x', '--shadow', join(dir, `shadow-${n++}`), '--state', state(), '--listen', '0', ...a];
  const boot_ = (...a: string[]) => ['boot', '--interface', 'lo', '--dir', boot, '--lease-file', join(dir, `leases-${n++}`, 'l.json'), ...a];
  const noNode = ['--state', join(dir, 'no-node')];
  const lines: Array<[string, string[]]> = [
    // the dispatcher
    ['no command', []],
    ['unknown command', ['frobnicate']],
    ['huge command name', [HUGE]],
    // up: missing, bad, repeated, huge and negative values
    ['up without --network', ['up', '--no-vnet', '--state', state()]],
    ['up --network empty', ['up', '--network=', '--no-vnet', '--state', state()]],
    ['up --network with a space', ['up', '--network', 'bad name', '--no-vnet', '--state', state()]],
    ['up --network 65 characters', ['up', '--network', 'n'.repeat(65), '--no-vnet', '--state', state()]],
    ['up --network huge', ['up', '--network', HUGE, '--no-vnet', '--state', state()]],
    ['up --network twice', ['up', '--network', 'a', '--network', 'b', '--no-vnet', '--state', state()]],
    ['up --network without a value', ['up', '--network', '--no-vnet', '--state', state()]],
    ['up --listen 1e3', up('--listen', '1e3')],
    ['up --listen 0x50', up('--listen', '0x50')],
    ['up --listen -1', up('--listen', '-1')],
    ['up --listen 65536', up('--listen', '65536')],
    ['up --listen 40 digits', up('--listen', HUGE_NUMBER)],
    ['up --listen empty', up('--listen=')],
    ['up --listen abc', up('--listen', 'abc')],
    ['up --listen twice', up('--listen', '1', '--listen', '2')],
    ['up --listen-host without --listen', up('--listen-host', '127.0.0.1')],
    ['up --listen-host 999.0.0.1', up('--listen', '0', '--listen-host', '999.0.0.1')],
    ['up --bind-address 999.0.0.1', up('--bind-address', '999.0.0.1')],
    ['up --bind-address name', up('--bind-address', 'localhost')],
    ['up --bind-address colons', up('--bind-address', ':::::::::1')],
    ['up --port-range reversed', up('--port-range', '5000-4000')],
    ['up --port-range 0-100', up('--port-range', '0-100')],
    ['up --port-range text', up('--port-range', 'low-high')],
    ['up --dial-timeout 0', up('--dial-timeout', '0')],
    ['up --dial-timeout -5', up('--dial-timeout', '-5')],
    ['up --dial-timeout 40 digits', up('--dial-timeout', HUGE_NUMBER)],
    ['up --near-per-side 1', up('--near-per-side', '1')],
    ['up --far-links -1', up('--far-links', '-1')],
    ['up --far-links 1.5', up('--far-links', '1.5')],
    ['up --bootstrap not a URL', up('--bootstrap', 'not a url', '--secret', join(dir, 'big'))],
    ['up --bootstrap http', up('--bootstrap', 'http://127.0.0.1:1')],
    ['up --bootstrap port 99999', up('--bootstrap', 'ws://127.0.0.1:99999')],
    ['up --bootstrap without a secret', up('--bootstrap', 'ws://127.0.0.1:1')],
    ['up --ice bogus', up('--ice', 'bogus:thing')],
    ['up --no-vnet with --subnet', up('--subnet', '10.0.0.0/16')],
    ['up --subnet 300.0.0.0/16', ['up', '--network', 'bad', '--state', state(), '--subnet', '300.0.0.0/16']],
    ['up --subnet /33', ['up', '--network', 'bad', '--state', state(), '--subnet', '10.0.0.0/33']],
    ['up --vip outside the subnet', ['up', '--network', 'bad', '--state', state(), '--vip', '10.200.0.1']],
    ['up --vip text', ['up', '--network', 'bad', '--state', state(), '--vip', 'abc']],
    ['up --tun name too long', ['up', '--network', 'bad', '--state', state(), '--tun', 'a-name-longer-than-15']],
    ['up --mtu 100', ['up', '--network', 'bad', '--state', state(), '--mtu', '100']],
    ['up --mtu 70000', ['up', '--network', 'bad', '--state', state(), '--mtu', '70000']],
    ['up --mtu 1e3', ['up', '--network', 'bad', '--state', state(), '--mtu', '1e3']],
    ['up unknown option', up('--frobnicate')],
    ['up extra argument', up('extra')],
    ['up --verbose=yes', up('--verbose=yes')],
    ['up --secret missing file', up('--secret', join(dir, 'nope'))],
    ['up --secret directory', up('--secret', dir)],
    ['up --secret /dev/zero', up('--secret', '/dev/zero')],
    ['up --secret /dev/urandom', up('--secret', '/dev/urandom')],
    ['up --secret FIFO', up('--secret', fifo)],
    ['up --secret /proc/self/mem', up('--secret', '/proc/self/mem')],
    ['up --secret too short', up('--secret', join(dir, 'short-secret'))],
    ['up --secret 100 kB', up('--secret', join(dir, 'big'))],
    ['up --state FILE', ['up', '--network', 'bad', '--no-vnet', '--state', file]],
    ['up --state /proc/self', ['up', '--network', 'bad', '--no-vnet', '--state', '/proc/self']],
    ['up --state /proc/self/nope/x', ['up', '--network', 'bad', '--no-vnet', '--state', '/proc/self/nope/x']],
    // status, down, dht, ping: no node, bad values, extra arguments
    ['status with no node', ['status', ...noNode]],
    ['status --network bad name', ['status', '--network', 'bad name']],
    ['status extra argument', ['status', 'extra', ...noNode]],
    ['status --json=1', ['status', '--json=1', ...noNode]],
    ['status --network twice', ['status', '--network', 'a', '--network', 'b']],
    ['down with no node', ['down', ...noNode]],
    ['down --timeout 0', ['down', '--timeout', '0', ...noNode]],
    ['down --timeout -1', ['down', '--timeout', '-1', ...noNode]],
    ['down --timeout 1e3', ['down', '--timeout', '1e3', ...noNode]],
    ['dht without a verb', ['dht', ...noNode]],
    ['dht unknown verb', ['dht', 'frob', 'k', ...noNode]],
    ['dht put without a value', ['dht', 'put', 'k', ...noNode]],
    ['dht get without a key', ['dht', 'get', ...noNode]],
    ['dht get extra argument', ['dht', 'get', 'k', 'v', ...noNode]],
    ['dht put --ttl 0', ['dht', 'put', 'k', 'v', '--ttl', '0', ...noNode]],
    ['dht put --ttl 40 digits', ['dht', 'put', 'k', 'v', '--ttl', HUGE_NUMBER, ...noNode]],
    ['dht get with no node', ['dht', 'get', 'k', ...noNode]],
    ['ping without an address', ['ping', ...noNode]],
    ['ping bad address', ['ping', 'xyz', ...noNode]],
    ['ping --count 0', ['ping', HEX40, '--count', '0', ...noNode]],
    ['ping --count -1', ['ping', HEX40, '--count', '-1', ...noNode]],
    ['ping --count 1e2', ['ping', HEX40, '--count', '1e2', ...noNode]],
    ['ping extra argument', ['ping', HEX40, 'extra', ...noNode]],
    ['ping with no node', ['ping', HEX40, ...noNode]],
    // image
    ['image without a verb', ['image', ...noNode]],
    ['image unknown verb', ['image', 'frob', ...noNode]],
    ['image ls --listen', ['image', 'ls', '--listen', '5', ...noNode]],
    ['image mount without APP', ['image', 'mount', '--listen', '0', ...noNode]],
    ['image mount without --listen', ['image', 'mount', 'app', ...noNode]],
    ['image mount --listen 1e3', ['image', 'mount', 'app', '--listen', '1e3', ...noNode]],
    ['image mount --listen -1', ['image', 'mount', 'app', '--listen', '-1', ...noNode]],
    ['image mount --host 999.0.0.1', ['image', 'mount', 'app', '--listen', '0', '--host', '999.0.0.1', ...noNode]],
    ['image mount --stall-ms text', ['image', 'mount', 'app', '--listen', '0', '--stall-ms', 'abc', ...noNode]],
    ['image publish without VERSION', ['image', 'publish', 'app', ...noNode]],
    ['image publish bad app name', ['image', 'publish', '../app', '1', boot, ...noNode]],
    ['image unpublish extra argument', ['image', 'unpublish', 'app', '1', 'extra', ...noNode]],
    ['image gc --keep -1', ['image', 'gc', 'app', '--keep', '-1', ...noNode]],
    ['image ls with no node', ['image', 'ls', ...noNode]],
    // rowfs
    ['rowfs with nothing', ['rowfs']],
    ['rowfs --main without a path', ['rowfs', '--main', 'host', '--shadow', join(dir, 'sh'), '--listen', '0']],
    ['rowfs without --shadow', ['rowfs', '--main', '127.0.0.1:/x', '--listen', '0']],
    ['rowfs without --listen', ['rowfs', '--main', '127.0.0.1:/x', '--shadow', join(dir, 'sh')]],
    ['rowfs --main twice', rowfs('--main', '127.0.0.2:/y')],
    ['rowfs --listen 1e3', ['rowfs', '--main', '127.0.0.1:/x', '--shadow', join(dir, 'sh'), '--listen', '1e3']],
    ['rowfs --listen 70000', ['rowfs', '--main', '127.0.0.1:/x', '--shadow', join(dir, 'sh'), '--listen', '70000']],
    ['rowfs --block-size 5000', rowfs('--block-size', '5000')],
    ['rowfs --block-size -4096', rowfs('--block-size', '-4096')],
    ['rowfs --main-nfs-port 0', rowfs('--main-nfs-port', '0')],
    ['rowfs --host 999.0.0.1', rowfs('--host', '999.0.0.1')],
    ['rowfs --shadow FILE', ['rowfs', '--main', '127.0.0.1:/x', '--shadow', file, '--state', state(), '--listen', '0']],
    ['rowfs --state FILE', ['rowfs', '--main', '127.0.0.1:/x', '--shadow', join(dir, 'sh'), '--state', file, '--listen', '0']],
    ['rowfs --cache /proc/self', rowfs('--cache', '/proc/self')],
    ['rowfs --shadow /proc/self/nope', ['rowfs', '--main', '127.0.0.1:/x', '--shadow', '/proc/self/nope', '--state', state(), '--listen', '0']],
    ['rowfs --stats without a state', ['rowfs', '--stats']],
    ['rowfs --stats --control 0', ['rowfs', '--stats', '--control', '0']],
    ['rowfs --stats missing state', ['rowfs', '--stats', '--state', join(dir, 'nope')]],
    // boot
    ['boot with nothing', ['boot']],
    ['boot without --dir', ['boot', '--interface', 'lo']],
    ['boot unknown interface', ['boot', '--interface', 'nosuchif0', '--dir', boot]],
    ['boot bad interface name', ['boot', '--interface', 'bad if!', '--dir', boot]],
    ['boot --dir missing', ['boot', '--interface', 'lo', '--dir', join(dir, 'nope')]],
    ['boot --dir FILE', ['boot', '--interface', 'lo', '--dir', file]],
    ['boot --lease-time 5', boot_('--lease-time', '5')],
    ['boot --lease-time 1e3', boot_('--lease-time', '1e3')],
    ['boot --tftp-port 0', boot_('--tftp-port', '0')],
    ['boot --tftp-port 70000', boot_('--tftp-port', '70000')],
    ['boot --stats-interval -1', boot_('--stats-interval', '-1')],
    ['boot --range outside the subnet', boot_('--range', '10.9.9.1-10.9.9.9')],
    ['boot --range text', boot_('--range', 'garbage')],
    ['boot --router 999.1.1.1', boot_('--router', '999.1.1.1')],
    ['boot --dns text', boot_('--dns', 'not-an-ip')],
    ['boot --image with --root-path', boot_('--image', 'app', '--root-path', '1.2.3.4:/x')],
    ['boot --image-port without --image', boot_('--image-port', '5')],
    ['boot --lease-file FILE/x', ['boot', '--interface', 'lo', '--dir', boot, '--lease-file', join(file, 'x')]],
    ['boot --lease-file /proc/self/nope/x', ['boot', '--interface', 'lo', '--dir', boot, '--lease-file', '/proc/self/nope/x']],
    ['boot extra argument', boot_('extra')],
  ];
  return lines.map(([name, args]) => ({ name, args }));
}

/** A line of a stack trace ("    at fn (file:1:2)"). */
const STACK_LINE = /^\s+at \S/m;

/** Runs `node BIN ...args`, killed (by its pid) at `deadlineMs`. */
export function runBadCommandLine(bin: string, line: BadCommandLine, deadlineMs: number): Promise<BadCommandLineResult> {
  const started = performance.now();
  const child = spawn(process.execPath, [bin, ...line.args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((resolve) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, deadlineMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const trimmed = output.trim();
      resolve({
        code: timedOut ? 'timeout' : (code ?? (signal ? 128 : 1)),
        output: trimmed,
        ms: performance.now() - started,
        lines: trimmed === '' ? 0 : trimmed.split('\n').length,
        stackTrace: STACK_LINE.test(trimmed),
      });
    });
  });
}

/** Runs every line, `parallel` at a time; results in list order. */
export async function runAll(bin: string, lines: BadCommandLine[], deadlineMs: number, parallel = 4): Promise<BadCommandLineResult[]> {
  const results: BadCommandLineResult[] = new Array(lines.length);
  let next = 0;
  const worker = async () => {
    while (next < lines.length) {
      const i = next++;
      results[i] = await runBadCommandLine(bin, lines[i]!, deadlineMs);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return results;
}
