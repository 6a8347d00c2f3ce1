// The client sees one file system: every attribute set leaving the proxy carries the virtual id
// as fileid and the proxy's own fsid, whichever server it came from; ACCESS is answered from the
// merged attributes (the main export is read-only, yet the merged view is writable).
import {
  ACCESS3_DELETE,
  ACCESS3_EXECUTE,
  ACCESS3_EXTEND,
  ACCESS3_LOOKUP,
  ACCESS3_MODIFY,
  ACCESS3_READ,
  Ftype3,
  type Fattr3,
  type WccData,
} from '../nfs3/types.js';
import type { AuthSysParams } from '../rpc/message.js';

/** fsid of the merged file system ("ROWFS" in ASCII). */
export const PROXY_FSID = 0x524f574653n;

export function virtualAttrs(a: Fattr3, vid: number): Fattr3 {
  return { ...a, fileid: BigInt(vid), fsid: PROXY_FSID };
}

export function virtualOptAttrs(a: Fattr3 | undefined, vid: number): Fattr3 | undefined {
  return a ? virtualAttrs(a, vid) : undefined;
}

export function virtualWcc(w: WccData | undefined, vid: number): WccData {
  if (!w) return {};
  return { before: w.before, after: virtualOptAttrs(w.after, vid) };
}

/**
 * ACCESS bits `want` granted to `cred` on an object with attributes `a` (POSIX owner/group/other
 * rules; uid 0 gets everything except execute on files with no execute bit). Without AUTH_SYS
 * credentials the caller is treated as "other".
 */
export function accessFor(a: Fattr3, want: number, cred: AuthSysParams | undefined): number {
  const uid = cred?.uid ?? 65534;
  const groups = cred ? [cred.gid, ...cred.gids] : [];
  const isDir = a.type === Ftype3.DIR;
  let bits: number;
  if (uid === 0) bits = 7;
  else if (uid === a.uid) bits = (a.mode >> 6) & 7;
  else if (groups.includes(a.gid)) bits = (a.mode >> 3) & 7;
  else bits = a.mode & 7;
  let granted = 0;
  if (bits & 4) granted |= ACCESS3_READ;
  if (bits & 2) granted |= ACCESS3_MODIFY | ACCESS3_EXTEND | (isDir ? ACCESS3_DELETE : 0);
  if (bits & 1) granted |= isDir ? ACCESS3_LOOKUP : ACCESS3_EXECUTE;
  if (uid === 0 && !isDir && (a.mode & 0o111) === 0) granted &= ~ACCESS3_EXECUTE;
  if (uid === 0 && isDir) granted |= ACCESS3_LOOKUP;
  return granted & want;
}
