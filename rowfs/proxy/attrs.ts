// The client sees one file system: every attribute set leaving the proxy carries the virtual id
// as fileid and the proxy's own fsid, whichever server it came from. ACCESS is answered from the
// merged attributes (the main export is read-only, yet the merged view is writable) by the rule
// the embedded server uses too (../nfs3/access.ts).
import type { Fattr3, WccData } from '../nfs3/types.js';

/** fsid of the merged file system ("ROWFS" in ASCII). */
export const PROXY_FSID = 0x524f574653n;

export function virtualAttrs(a: Fattr3, vid: number): Fattr3 {
  // Written out, in the decoder's field order: a spread makes a larger object of another shape.
  return {
    type: a.type,
    mode: a.mode,
    nlink: a.nlink,
    uid: a.uid,
    gid: a.gid,
    size: a.size,
    used: a.used,
    rdev: a.rdev,
    fsid: PROXY_FSID,
    fileid: BigInt(vid),
    atime: a.atime,
    mtime: a.mtime,
    ctime: a.ctime,
  };
}

export function virtualOptAttrs(a: Fattr3 | undefined, vid: number): Fattr3 | undefined {
  return a ? virtualAttrs(a, vid) : undefined;
}

export function virtualWcc(w: WccData | undefined, vid: number): WccData {
  if (!w) return {};
  return { before: w.before, after: virtualOptAttrs(w.after, vid) };
}
