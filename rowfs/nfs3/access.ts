// The ACCESS answer (RFC 1813 s3.3.4) from an object's attributes and the caller's credential, one
// rule for the embedded server and the proxy. POSIX owner/group/other classes on the mode bits; uid 0
// gets everything except execute on a file with no execute bit. A caller without AUTH_SYS has no
// identity: it gets the "other" bits only, even on objects owned by nobody (uid/gid 65534), so an
// anonymous caller is never granted more than the world is (the stricter of the two rules this replaces).
import { ACCESS3_DELETE, ACCESS3_EXECUTE, ACCESS3_EXTEND, ACCESS3_LOOKUP, ACCESS3_MODIFY, ACCESS3_READ, Ftype3, type Fattr3 } from './types.js';
import type { AuthSysParams } from '../rpc/message.js';

/** The ACCESS bits of `want` granted to `cred` (undefined: no AUTH_SYS) on an object with attributes `a`. */
export function accessFor(a: Pick<Fattr3, 'type' | 'mode' | 'uid' | 'gid'>, want: number, cred: AuthSysParams | undefined): number {
  const isDir = a.type === Ftype3.DIR;
  let bits: number;
  if (!cred) bits = a.mode & 7;
  else if (cred.uid === 0) bits = isDir || (a.mode & 0o111) !== 0 ? 7 : 6;
  else if (cred.uid === a.uid) bits = (a.mode >> 6) & 7;
  else if (cred.gid === a.gid || cred.gids.includes(a.gid)) bits = (a.mode >> 3) & 7;
  else bits = a.mode & 7;
  let granted = 0;
  if (bits & 4) granted |= ACCESS3_READ;
  if (bits & 2) granted |= ACCESS3_MODIFY | ACCESS3_EXTEND | (isDir ? ACCESS3_DELETE : 0);
  if (bits & 1) granted |= isDir ? ACCESS3_LOOKUP : ACCESS3_EXECUTE;
  return granted & want;
}
