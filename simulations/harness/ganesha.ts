// nfs-ganesha (NFSv3 only, VFS backend) started by a test inside a network namespace, with
// rpcbind beside it. Recipe (../shared/reference/environment.md): each process gets a private
// tmpfs /run (so instances never see the host's or each other's rpcbind socket); ganesha then
// registers over loopback with the one rpcbind of its namespace, so several ganeshas (main and
// shadow) can share a namespace when they use different ports. Everything is killed by PID.
//
//   const g = await startGanesha({ exportDir });           // own namespace, reachable at g.host
//   const g = await startGanesha({ exportDir, ns, nfsPort: 20491, mountPort: 20049 }); // caller's ns, g.host = 127.0.0.1
//   ... g.restart() ... await g.stop();
import { mkdtempSync, mkdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import { Netns, vethPair } from './netns.js';
import { run, startProc, type Proc } from './proc.js';

export interface GaneshaOptions {
  /** Directory to export (read-write unless readOnly). */
  exportDir: string;
  /** Namespace to run in; default: a new one, joined to the root namespace by a veth pair. */
  ns?: Netns;
  nfsPort?: number;
  mountPort?: number;
  readOnly?: boolean;
  /** Milliseconds to wait for ganesha to come up (default 15000). */
  startTimeoutMs?: number;
  /** NFS versions served (default [3]); NFSv4 clients see the export at `pseudo`. */
  protocols?: number[];
  /** The export's NFSv4 pseudo path (default /export); a PROXY_V4 peer needs it equal to the Path. */
  pseudo?: string;
  /**
   * Body of the export's FSAL block (default `Name = VFS;`), e.g. a PROXY_V4 peer:
   * `Name = PROXY_V4; Srv_Addr = 10.0.0.1; NFS_Port = 20490;` (exportDir is then the path on that server).
   */
  fsal?: string;
}

export interface Ganesha {
  /** Address clients use: the namespace's veth address (own namespace) or 127.0.0.1 (caller's namespace). */
  host: string;
  nfsPort: number;
  mountPort: number;
  /** Path to MNT (NFSv3 mounts the export's Path, the real directory). */
  exportPath: string;
  ns: Netns;
  /** The ganesha process (output includes its log). */
  proc(): Proc;
  /** Kills ganesha (SIGKILL, like a crash) and starts it again with the same configuration. */
  restart(): Promise<void>;
  /** Kills ganesha, and rpcbind/namespace when this instance created them. Idempotent. */
  stop(): Promise<void>;
}

interface NsState {
  rpcbind: Proc;
  refs: number;
}
const rpcbinds = new Map<string, NsState>();
const addressed = new Set<string>();
let vethCounter = 0;

async function acquireRpcbind(ns: Netns): Promise<void> {
  const st = rpcbinds.get(ns.name);
  if (st) {
    st.refs++;
    return;
  }
  const [cmd, args] = ns.wrap('sh', ['-c', 'mount -t tmpfs none /run && mkdir -p /run/rpcbind && exec rpcbind -f -w']);
  const proc = startProc(cmd, args);
  rpcbinds.set(ns.name, { rpcbind: proc, refs: 1 });
  // rpcbind -f prints nothing when ready: poll its port (bounded).
  for (let i = 0; i < 100; i++) {
    const { stdout } = await ns.exec('ss', ['-ltnH', 'sport = :111']);
    if (stdout.trim()) return;
    if (proc.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`rpcbind did not start in ${ns.name}: ${proc.output()}`);
}

async function releaseRpcbind(ns: Netns): Promise<void> {
  const st = rpcbinds.get(ns.name);
  if (!st) return;
  if (--st.refs > 0) return;
  rpcbinds.delete(ns.name);
  await st.rpcbind.kill(1000);
}

/** ganesha refuses Bind_Addr when the namespace has only loopback (AI_ADDRCONFIG): give it a veth pair. */
async function ensureNonLoopbackAddress(ns: Netns): Promise<void> {
  if (addressed.has(ns.name)) return;
  const { stdout } = await ns.exec('ip', ['-4', '-o', 'addr', 'show']);
  if (!stdout.split('\n').some((l) => l.includes('inet ') && !l.includes(' lo '))) {
    await ns.exec('ip', ['link', 'add', 'gnsha0', 'type', 'veth', 'peer', 'name', 'gnsha1']);
    await ns.exec('ip', ['addr', 'add', '10.255.255.1/30', 'dev', 'gnsha0']);
    await ns.exec('ip', ['addr', 'add', '10.255.255.2/30', 'dev', 'gnsha1']);
    await ns.exec('ip', ['link', 'set', 'gnsha0', 'up']);
    await ns.exec('ip', ['link', 'set', 'gnsha1', 'up']);
  }
  addressed.add(ns.name);
}

/** A free /30 in 10.213.0.0/16 (a range no other test here uses) for a root<->namespace veth link. */
async function pickSubnet(): Promise<[string, string]> {
  for (let i = 0; i < 50; i++) {
    const a = randomInt(0, 256);
    const b = randomInt(0, 64) * 4;
    const net = `10.213.${a}.${b}/30`;
    const addrs = await run('ip', ['-4', '-o', 'addr', 'show', 'to', net]);
    const routes = await run('ip', ['-4', 'route', 'show', 'root', net]);
    if (!addrs.stdout.trim() && !routes.stdout.trim()) return [`10.213.${a}.${b + 1}`, `10.213.${a}.${b + 2}`];
  }
  throw new Error('no free 10.213.x.y/30 subnet');
}

export async function startGanesha(o: GaneshaOptions): Promise<Ganesha> {
  const nfsPort = o.nfsPort ?? 20490;
  const mountPort = o.mountPort ?? 20048;
  const exportPath = o.fsal ? o.exportDir : realpathSync(o.exportDir);
  const protocols = (o.protocols ?? [3]).join(', ');
  const work = mkdtempSync(join(tmpdir(), 'ganesha-'));
  const ownNs = !o.ns;
  let ns: Netns;
  let host: string;
  let vethRoot = '';
  if (o.ns) {
    ns = o.ns;
    host = '127.0.0.1';
  } else {
    ns = await Netns.create('gan');
    // Both ends are created in the root namespace first: both names must be unique there.
    const tag = `${process.pid % 100000}x${vethCounter++}`;
    vethRoot = `gr${tag}`.slice(0, 15);
    try {
      const [rootAddr, nsAddr] = await pickSubnet();
      await vethPair({ ifname: vethRoot, cidr: `${rootAddr}/30` }, { ns, ifname: `gn${tag}`.slice(0, 15), cidr: `${nsAddr}/30` });
      host = nsAddr;
    } catch (e) {
      await run('ip', ['link', 'del', vethRoot]).catch(() => undefined);
      await ns.destroy();
      rmSync(work, { recursive: true, force: true });
      throw e;
    }
    addressed.add(ns.name);
  }
  mkdirSync(join(work, 'recov'));
  const conf = join(work, 'ganesha.conf');
  writeFileSync(
    conf,
    `NFS_CORE_PARAM { Protocols = ${protocols}; NFS_Port = ${nfsPort}; MNT_Port = ${mountPort};
  Enable_NLM = false; Enable_RQUOTA = false; Enable_UDP = false; Bind_Addr = 0.0.0.0; }
NFSV4 { Graceless = true; RecoveryBackend = fs; RecoveryRoot = ${join(work, 'recov')}; }
EXPORT_DEFAULTS { SecType = sys; Squash = No_Root_Squash; }
EXPORT { Export_Id = 1; Path = ${exportPath}; Pseudo = ${o.pseudo ?? '/export'}; Access_Type = ${o.readOnly ? 'RO' : 'RW'};
  Squash = No_Root_Squash; Protocols = ${protocols}; Transports = TCP; FSAL { ${o.fsal ?? 'Name = VFS;'} } }
LOG { Default_Log_Level = EVENT; }
NFS_KRB5 { Active_krb5 = false; }
`,
  );
  let proc: Proc | undefined;
  let stopped = false;
  const launch = async () => {
    const [cmd, args] = ns.wrap('sh', [
      '-c',
      `mount -t tmpfs none /run && exec ganesha.nfsd -F -f ${conf} -L STDOUT -p ${join(work, 'ganesha.pid')}`,
    ]);
    proc = startProc(cmd, args);
    await proc.waitFor(/NFS SERVER INITIALIZED/, o.startTimeoutMs ?? 15_000);
    // Listening follows initialisation closely; make sure before handing out the ports (bounded).
    for (let i = 0; i < 100; i++) {
      const { stdout } = await ns.exec('ss', ['-ltnH', `sport = :${nfsPort}`]);
      if (stdout.trim()) return;
      await new Promise((r) => setTimeout(r, 30));
    }
    throw new Error(`ganesha not listening on ${nfsPort}: ${proc.output().slice(-2000)}`);
  };
  try {
    await ensureNonLoopbackAddress(ns);
    await acquireRpcbind(ns);
    await launch();
  } catch (e) {
    await proc?.kill(500);
    await releaseRpcbind(ns);
    if (ownNs) {
      await run('ip', ['link', 'del', vethRoot]).catch(() => undefined);
      await ns.destroy();
    }
    rmSync(work, { recursive: true, force: true });
    throw e;
  }
  return {
    host,
    nfsPort,
    mountPort,
    exportPath,
    ns,
    proc: () => proc!,
    async restart() {
      await proc?.kill(0);
      await launch();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await proc?.kill(2000);
      await releaseRpcbind(ns);
      if (ownNs) {
        await run('ip', ['link', 'del', vethRoot]).catch(() => undefined);
        addressed.delete(ns.name);
        await ns.destroy();
      }
      rmSync(work, { recursive: true, force: true });
    },
  };
}
