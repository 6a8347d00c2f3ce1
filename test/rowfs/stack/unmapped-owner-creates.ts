// Run by new-object-owner.test.ts inside `unshare --user --map-root-user` with a directory as its
// argument: root there, but the caller's AUTH_SYS uid 1234 maps to no one, so giving a new object
// to it (chown) fails, the real failure a server running as root meets for a uid its namespace
// cannot hold. Prints JSON: for each call, its status and the names the directory holds after it.
import { readdirSync } from 'node:fs';
import { CreateMode, Nfs3Status } from '../../../rowfs/nfs3/types.js';
import { encodeAuthSys, decodeAuthSys } from '../../../rowfs/rpc/message.js';
import type { RpcCallContext } from '../../../rowfs/rpc/dispatch.js';
import { LocalExport } from '../../../rowfs/server/local-export.js';

const dir = process.argv[2]!;
const exp = new LocalExport({ root: dir });
await exp.init();
const as = (uid: number): RpcCallContext => {
  const cred = encodeAuthSys({ stamp: 0, machineName: 't', uid, gid: uid, gids: [] });
  return { xid: 1, prog: 100003, vers: 3, proc: 8, cred, authSys: decodeAuthSys(cred.body), transport: 'tcp', remoteAddress: '127.0.0.1', remotePort: 0 };
};
const unmapped = as(1234);
const root = exp.rootHandle();
const verf = Buffer.from([0, 0, 0, 7, 0, 0, 0, 9]);
const exclusive = { where: { dir: root, name: 'excl' }, how: { mode: CreateMode.EXCLUSIVE, verf } } as const;
const steps: Array<[string, () => { status: Nfs3Status } | Promise<{ status: Nfs3Status }>]> = [
  ['exclusive', () => exp.CREATE(exclusive, unmapped)],
  ['exclusive again (a retransmission)', () => exp.CREATE(exclusive, unmapped)],
  ['guarded', () => exp.CREATE({ where: { dir: root, name: 'guarded' }, how: { mode: CreateMode.GUARDED, attributes: { mode: 0o640 } } }, unmapped)],
  ['unchecked', () => exp.CREATE({ where: { dir: root, name: 'unchecked' }, how: { mode: CreateMode.UNCHECKED, attributes: {} } }, unmapped)],
  ['mkdir', () => exp.MKDIR({ where: { dir: root, name: 'dir' }, attributes: { mode: 0o755 } }, unmapped)],
  ['symlink', () => exp.SYMLINK({ where: { dir: root, name: 'link' }, symlinkAttributes: {}, symlinkData: 'x' }, unmapped)],
  ['exclusive as uid 0', () => exp.CREATE(exclusive, as(0))],
  ['exclusive as uid 0 again', () => exp.CREATE(exclusive, as(0))],
  ['unchecked over it, uid 1234', () => exp.CREATE({ where: { dir: root, name: 'excl' }, how: { mode: CreateMode.UNCHECKED, attributes: {} } }, unmapped)],
];
const out: Array<{ step: string; status: string; names: string[] }> = [];
for (const [step, run] of steps) out.push({ step, status: Nfs3Status[(await run()).status]!, names: readdirSync(dir).sort() });
await exp.close();
process.stdout.write(JSON.stringify(out));
